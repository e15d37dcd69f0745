"""manage.py import_messages: history from a .jsonl or .csv file, through the intake."""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.models import Integration
from inbox.models import Conversation, Message, Patient, PatientChange
from inbox.selectors import unrouted_messages
from inbox.services import take_stuck_messages
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory
from tests.inbox.factories import ConversationFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return ClinicFactory(slug="pc")


def row(n: int, **overrides) -> dict:
    values = {
        "external_id": f"hist-{n}",
        "patient_mrn": f"M{n % 3}",
        "patient_name": f"Patient {n % 3}",
        "birth_date": "1960-05-01",
        "preferred_language": "en-US",
        "subject": "Refill",
        "body": f"Could you refill my lisinopril? ({n})",
        "category": "medication",
        "sent_at": "2023-03-01T10:00:00Z",
        "conversation_id": f"thread-{n % 3}",
    }
    values.update(overrides)
    return values


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" if isinstance(r, dict) else r for r in rows))


def run(path, clinic, *args) -> tuple[int, str]:
    """(exit status, stderr of the command)."""
    err = io.StringIO()
    try:
        call_command("import_messages", str(path), "--clinic", clinic.slug, *args, stderr=err)
    except SystemExit as stop:
        return stop.code, err.getvalue()
    return 0, err.getvalue()


def test_history_is_stored_without_announcing_and_never_counts_as_unrouted(
    tmp_path, clinic, django_capture_on_commit_callbacks
):
    path = tmp_path / "history.jsonl"
    write_jsonl(path, [row(n) for n in range(10)])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status, err = run(path, clinic, "--no-route", "--batch-size", "4")

    assert status == 0
    assert "10 rows: 10 accepted, 0 already present, 0 rejected" in err
    assert callbacks == []  # nothing enqueued: no classification, no routing, no alert
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.IMPORTED}
    assert Conversation.objects.filter(clinic=clinic).count() == 3
    assert Patient.objects.filter(clinic=clinic).count() == 3
    assert Patient.objects.get(mrn="M1").preferred_language == "en"  # the API's rules
    assert not WorkItem.objects.exists()
    # Stored long ago, as far as the sweep and the alert are concerned: still not theirs.
    later = timezone.now() + datetime.timedelta(days=1)
    assert (
        take_stuck_messages(
            now=later,
            older_than=datetime.timedelta(minutes=2),
            window=datetime.timedelta(minutes=5),
            limit=500,
        )
        == []
    )
    assert unrouted_messages(stored_before=later).count == 0
    assert Integration.objects.get(clinic=clinic).name == "Bulk import"


def test_a_rerun_skips_what_is_stored_so_an_interrupted_import_resumes(tmp_path, clinic):
    path = tmp_path / "history.jsonl"
    write_jsonl(path, [row(n) for n in range(4)])
    assert run(path, clinic, "--no-route")[0] == 0
    write_jsonl(path, [row(n) for n in range(7)] + [row(5)])  # 5 twice in the file

    status, err = run(path, clinic, "--no-route", "--batch-size", "3")

    assert status == 0
    assert "8 rows: 3 accepted, 5 already present, 0 rejected" in err
    assert Message.objects.count() == 7
    assert Integration.objects.filter(clinic=clinic).count() == 1  # the same "Bulk import"


def test_rejected_rows_are_listed_by_line_with_the_api_reasons_and_exit_1(tmp_path, clinic):
    other = PatientFactory(clinic=clinic, mrn="OTHER")
    ConversationFactory(patient=other, external_id="taken-thread")
    path = tmp_path / "history.jsonl"
    write_jsonl(
        path,
        [
            row(1),
            row(2, birth_date="1850-01-01"),
            "{not json\n",
            row(4, body=""),
            "\n",
            row(6, conversation_id="taken-thread"),
            row(7, preferred_language="klingon"),
            row(8, clinic="another-clinic"),
            row(9),
        ],
    )

    status, err = run(path, clinic, "--no-route")

    assert status == 1
    lines = err.splitlines()
    assert "line 2: patient.birth_date: Give a birth date between 1900-01-01 and today." in lines
    assert "line 3: not a JSON object" in lines
    assert any(line.startswith("line 4: body: ") for line in lines)
    assert "line 6: This conversation belongs to another patient of the clinic." in lines
    assert any(line.startswith("line 7: patient.preferred_language: ") for line in lines)
    assert any(line.startswith("line 8: clinic: ") for line in lines)
    assert "8 rows: 2 accepted, 0 already present, 6 rejected" in err
    assert set(Message.objects.values_list("external_id", flat=True)) == {"hist-1", "hist-9"}


def test_csv_columns_are_the_api_fields_and_a_quoted_body_may_span_lines(tmp_path, clinic):
    path = tmp_path / "history.csv"
    path.write_text(
        "external_id,patient_mrn,patient_name,birth_date,phone,subject,body,sent_at\n"
        'c-1,Z9,Zoe Park,1975-02-03,(626) 555-0101,Rash,"Itchy rash\nsince Monday",'
        "2022-06-01T08:00:00-07:00\n"
        "c-2,Z9,,,,,Still itchy,\n"
        "c-3,Z9,,,12,,Bad phone,\n"
        "c-4,Z9,too,few\n",
        encoding="utf-8",
    )

    status, err = run(path, clinic, "--no-route")

    assert status == 1
    assert "line 5: patient.phone: " in err  # counted from the header, the body took 2
    assert "line 6: 4 columns where the header has 8" in err
    first = Message.objects.get(external_id="c-1")
    assert first.body == "Itchy rash\nsince Monday"
    assert first.sent_at == datetime.datetime(2022, 6, 1, 15, 0, tzinfo=datetime.UTC)
    assert first.conversation.patient.phone == "(626) 555-0101"
    assert Message.objects.get(external_id="c-2").conversation.external_id == "c-2"


def test_history_fills_blank_patient_details_and_never_replaces_current_ones(tmp_path, clinic):
    patient = PatientFactory(clinic=clinic, mrn="M1", name="Current Name", phone="111 222 333")
    path = tmp_path / "history.jsonl"
    write_jsonl(path, [row(1, phone="999 888 777")])  # an old number, an old name

    assert run(path, clinic, "--no-route")[0] == 0

    patient.refresh_from_db()
    assert (patient.name, patient.phone, patient.birth_date) == (
        "Current Name",
        "111 222 333",
        datetime.date(1960, 5, 1),  # was blank: filled
    )
    kept_aside = set(
        PatientChange.objects.filter(patient=patient, applied=False).values_list(
            "field", "new_value"
        )
    )
    assert kept_aside == {("name", "Patient 1"), ("phone", "999 888 777")}


def test_without_no_route_each_message_is_classified_and_routed(
    tmp_path, clinic, active_model_version, django_capture_on_commit_callbacks
):
    path = tmp_path / "new.jsonl"
    write_jsonl(path, [row(n, conversation_id=f"t-{n}") for n in range(3)])

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        status, _ = run(path, clinic, "--batch-size", "2")

    assert status == 0
    assert len(callbacks) == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.ROUTED}
    assert WorkItem.objects.filter(queue__clinic=clinic).count() == 3


def test_an_unknown_clinic_stops_before_reading(tmp_path):
    path = tmp_path / "x.jsonl"
    write_jsonl(path, [row(1)])
    with pytest.raises(CommandError, match="no clinic with the slug 'nowhere'"):
        call_command("import_messages", str(path), "--clinic", "nowhere")


def test_a_line_that_is_not_utf8_is_rejected_alone(tmp_path, clinic):
    path = tmp_path / "history.jsonl"
    path.write_bytes(
        (json.dumps(row(1)) + "\n").encode()
        + b'{"external_id": "x", "body": "caf\xe9"}\n'
        + (json.dumps(row(3)) + "\n").encode()
    )

    status, err = run(path, clinic, "--no-route")

    assert status == 1
    assert "line 2: not UTF-8 text" in err.splitlines()
    assert Message.objects.count() == 2
