import json

import pytest
from django.core.management import call_command

from triage import model_registry
from triage.ml.labels import Acuity, ServiceLevel
from triage.models import ModelVersion

pytestmark = pytest.mark.django_db


def run(tmp_path, lines: list[str]):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = tmp_path / "out.jsonl"
    exit_code = 0
    try:
        call_command("classify_messages", str(source), "--output", str(output))
    except SystemExit as exc:
        exit_code = exc.code
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    return exit_code, rows


def assert_valid_output_row(row):
    assert set(row) == {"id", "acuity", "service_level", "evisit_candidate", "confidence"}
    assert row["acuity"] in Acuity.values
    assert row["service_level"] in ServiceLevel.values
    assert isinstance(row["evisit_candidate"], bool)
    assert set(row["confidence"]) == {"acuity", "service_level"}
    assert all(0.0 <= value <= 1.0 for value in row["confidence"].values())


def test_writes_one_row_per_input_row_in_order(tmp_path, active_model_version):
    lines = [
        json.dumps({"id": "a", "subject": "Refill", "body": "Please refill my lisinopril."}),
        json.dumps({"id": "b", "body": "I have crushing chest pain right now", "extra": 1}),
        json.dumps({"id": "c", "text": "What is the dose of ibuprofen for a child?"}),
    ]
    exit_code, rows = run(tmp_path, lines)

    assert exit_code == 0
    assert [row["id"] for row in rows] == ["a", "b", "c"]
    for row in rows:
        assert_valid_output_row(row)


def test_bad_rows_are_reported_with_line_numbers_and_exit_1(tmp_path, capsys, active_model_version):
    lines = [
        json.dumps({"id": "good-1", "body": "Can I get a copy of my records?"}),
        "{not json",
        json.dumps({"id": "no-body", "subject": "hello"}),
        json.dumps({"id": "good-2", "body": "Thanks for everything!"}),
    ]
    exit_code, rows = run(tmp_path, lines)

    assert exit_code == 1
    assert [row["id"] for row in rows] == ["good-1", "good-2"]
    err = capsys.readouterr().err
    assert "line 2: invalid JSON" in err
    assert "line 3: no body" in err


def test_trains_the_default_model_first_when_none_exists_and_says_so(
    tmp_path, capsys, monkeypatch, trained_triage_model
):
    # The fit itself is the suite's cached one (tests/conftest.py): this test is about the
    # command training, registering and activating before it classifies.
    fitted = []
    monkeypatch.setattr(
        model_registry,
        "fit_model",
        lambda rows, variant: fitted.append(len(rows)) or trained_triage_model[0],
    )
    assert not ModelVersion.objects.exists()
    exit_code, rows = run(tmp_path, [json.dumps({"id": "1", "body": "Where do I park?"})])

    assert exit_code == 0
    assert len(rows) == 1
    assert "training the default one" in capsys.readouterr().err
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    assert len(fitted) == 1
    assert fitted[0] > 1000  # the whole repository corpus
