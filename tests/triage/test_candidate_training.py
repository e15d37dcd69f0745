"""A superuser trains a candidate on the corpus plus reviewed corrections: a corrected
message trains with the staff's label for the corrected label only, a share of corrected
messages is kept back and never trained on, and the figures include the recall per
language on the corpus hold-out."""

import json

import pytest

from accounts.models import Role
from tests.accounts.factories import StaffFactory, UserFactory
from tests.inbox.factories import MessageFactory
from tests.triage.factories import ClassificationFactory, small_training_corpus
from triage import candidate_training
from triage.candidate_training import train_candidate_model_version
from triage.ml.classifier import DEFAULT_VARIANT
from triage.ml.corpus import LabeledMessage
from triage.ml.retraining import (
    Correction,
    corrected_rows,
    is_held_out,
    recall_by_language,
    split_corrected,
)
from triage.ml.training import as_input, fit_model
from triage.model_training import run_candidate_training
from triage.models import LabelCorrection, ModelTraining, ModelVersion
from triage.services import request_candidate_training
from triage.tasks import CANDIDATE_TRAINING


@pytest.fixture(scope="module")
def tiny_model():
    return fit_model(small_training_corpus(), DEFAULT_VARIANT)


def correction(id, message_id, label, to_value, *, body="my knee hurts", classified_as=None):
    return Correction(
        id=id,
        message_id=message_id,
        subject="",
        body=body,
        label=label,
        to_value=to_value,
        classified_as=classified_as,
    )


MODEL_SAID = {"acuity": "routine", "service_level": "clerical", "evisit_candidate": False}


def test_a_correction_overrides_only_its_label_and_the_latest_wins():
    rows, left_out = corrected_rows(
        [
            correction(1, 10, "service_level", "nurse", classified_as=MODEL_SAID),
            correction(2, 10, "acuity", "urgent", classified_as=MODEL_SAID),
            correction(3, 10, "acuity", "emergent", classified_as=MODEL_SAID),
            correction(
                4,
                11,
                "evisit_candidate",
                "false",
                classified_as={**MODEL_SAID, "evisit_candidate": True},
            ),
        ],
        corpus=[],
    )

    assert left_out == 0
    first, second = (r.row for r in rows)
    assert (first.acuity, first.service_level, first.evisit_candidate) == (
        "emergent",
        "nurse",
        False,
    )
    assert (second.acuity, second.service_level, second.evisit_candidate) == (
        "routine",
        "clerical",
        False,
    )
    assert rows[0].corrected == {"service_level": "nurse", "acuity": "emergent"}


def test_a_corrected_corpus_message_keeps_the_corpus_labels_it_was_not_corrected_on():
    corpus = [
        LabeledMessage(
            id="c1",
            subject="Refill",
            body="Need my  lisinopril refilled",
            acuity="routine",
            service_level="ma",
            evisit_candidate=False,
            language="es",
        )
    ]
    [row], _ = corrected_rows(
        [
            Correction(
                id=1,
                message_id=5,
                subject="refill",
                body="need my lisinopril refilled",
                label="acuity",
                to_value="urgent",
                classified_as={
                    "acuity": "routine",
                    "service_level": "nurse",
                    "evisit_candidate": True,
                },
            )
        ],
        corpus,
    )

    assert row.replaces_corpus_id == "c1"
    assert (row.row.acuity, row.row.service_level, row.row.evisit_candidate) == (
        "urgent",
        "ma",
        False,
    )
    assert row.row.language == "es"


def test_a_message_with_no_model_labels_is_left_out_unless_every_label_is_corrected():
    _, left_out = corrected_rows([correction(1, 1, "acuity", "urgent")], corpus=[])
    rows, none_left = corrected_rows(
        [
            correction(1, 2, "acuity", "urgent"),
            correction(2, 2, "service_level", "nurse"),
            correction(3, 2, "evisit_candidate", "true"),
        ],
        corpus=[],
    )

    assert left_out == 1
    assert none_left == 0
    assert rows[0].row.evisit_candidate is True


def test_one_corrected_message_in_five_is_kept_back_the_same_way_each_time():
    corrections = [
        correction(i, i, "acuity", "urgent", classified_as=MODEL_SAID) for i in range(1, 201)
    ]
    rows, _ = corrected_rows(corrections, corpus=[])

    trained, held_out = split_corrected(rows)

    assert {r.message_id for r in trained}.isdisjoint({r.message_id for r in held_out})
    assert 25 <= len(held_out) <= 55  # about 40 of 200
    assert [r.message_id for r in split_corrected(list(reversed(rows)))[1]] == sorted(
        (r.message_id for r in held_out), reverse=True
    )


def test_recall_per_language_counts_by_hand(tiny_model):
    rows = [
        LabeledMessage(
            "e1", "", "crushing chest pain right now", "emergent", "nurse", False, language="en"
        ),
        LabeledMessage(
            "e2", "", "can I reschedule my appointment", "emergent", "nurse", False, language="en"
        ),
        LabeledMessage(
            "s1", "", "¿puedo cambiar mi cita? gracias", "routine", "clerical", False, language="es"
        ),
    ]
    predicted = {
        r.id: p.acuity
        for r, p in zip(rows, tiny_model.predict([as_input(r) for r in rows]), strict=True)
    }

    by_language = recall_by_language(tiny_model, rows)

    assert by_language["en"]["emergent"] == 2
    assert by_language["es"]["emergent"] == 0
    assert by_language["es"]["emergent_recall"] is None
    assert predicted["e1"] == "emergent"  # the chest pain is caught (red flag and model)
    assert by_language["en"]["emergent_recall"] == (1 + (predicted["e2"] == "emergent")) / 2


# --- the whole training, on a small corpus --------------------------------------------------


@pytest.fixture
def small_corpus_dir(tmp_path, settings):
    languages = ["en", "es"]
    with (tmp_path / "small.jsonl").open("w") as handle:
        for i, row in enumerate(small_training_corpus() * 4):
            handle.write(
                json.dumps(
                    {
                        "id": f"{row.id}-{i}",
                        "subject": row.subject,
                        "body": row.body,
                        "acuity": row.acuity,
                        "service_level": row.service_level,
                        "evisit_candidate": row.evisit_candidate,
                        "language": languages[i % 2],
                    }
                )
                + "\n"
            )
    settings.TRIAGE_CORPUS_DIR = tmp_path
    return tmp_path


@pytest.fixture
def fits(monkeypatch, tiny_model) -> list:
    """The rows of each fit; the fixture's small model stands in for the fit itself."""
    calls = []

    def fit(rows, variant):
        calls.append(list(rows))
        return tiny_model

    monkeypatch.setattr(candidate_training, "fit_model", fit)
    return calls


def reviewed_corrections_on_messages(count: int):
    """Accepted corrections of acuity (routine -> urgent), one per message, until at least
    one message is kept back and one trained on; and one proposed and one rejected."""
    clinic_staff = StaffFactory(role=Role.NURSE)
    admin = UserFactory(is_staff=True)
    messages = []
    while len(messages) < count or not (
        any(is_held_out(m.pk) for m in messages) and not all(is_held_out(m.pk) for m in messages)
    ):
        message = MessageFactory(body=f"my knee is swollen, day {len(messages)}")
        ClassificationFactory(message=message, acuity="routine", service_level="nurse")
        LabelCorrection.objects.create(
            message=message,
            label="acuity",
            from_value="routine",
            to_value="urgent",
            corrected_by=clinic_staff,
            review_status=LabelCorrection.ReviewStatus.ACCEPTED,
            reviewed_by=admin,
        )
        messages.append(message)
    for status in (LabelCorrection.ReviewStatus.PROPOSED, LabelCorrection.ReviewStatus.REJECTED):
        unreviewed = MessageFactory(body=f"unreviewed {status}")
        ClassificationFactory(message=unreviewed)
        LabelCorrection.objects.create(
            message=unreviewed,
            label="acuity",
            from_value="routine",
            to_value="emergent",
            corrected_by=clinic_staff,
            review_status=status,
        )
    return messages


@pytest.mark.django_db
def test_the_candidate_trains_on_reviewed_corrections_but_not_on_those_kept_back(
    small_corpus_dir, fits
):
    messages = reviewed_corrections_on_messages(6)
    held_out = {f"correction-message-{m.pk}" for m in messages if is_held_out(m.pk)}
    trained = {f"correction-message-{m.pk}" for m in messages} - held_out
    steps = []

    version = train_candidate_model_version(progress=lambda *step: steps.append(step))

    holdout_fit, final_fit = fits
    for rows in fits:
        ids = {r.id: r for r in rows}
        assert trained <= ids.keys()
        assert not held_out & ids.keys()
        assert all(ids[i].acuity == "urgent" and ids[i].service_level == "nurse" for i in trained)
        assert not any(r.body.startswith("unreviewed") for r in rows)
    corpus_rows = len(small_training_corpus()) * 4
    assert len(final_fit) == corpus_rows + len(trained)  # the whole corpus, plus corrections
    assert len(holdout_fit) < len(final_fit)
    assert not version.is_active
    assert version.metrics["candidate"] is True
    corrections = version.metrics["corrections"]
    assert (corrections["trained_on"], corrections["held_out"]) == (len(trained), len(held_out))
    assert corrections["held_out_report"]["labels"]["acuity"]["corrected"] == len(held_out)
    assert set(version.metrics["fairness"]["by_language"]) == {"en", "es"}
    assert version.metrics["holdout"]["rows"] == sum(
        r["rows"] for r in version.metrics["fairness"]["by_language"].values()
    )
    assert [step for step, _, _ in steps] == [0, 1, 2, 3, 4, 5]


@pytest.mark.django_db
def test_the_slow_queue_task_records_progress_and_the_version(small_corpus_dir, fits):
    reviewed_corrections_on_messages(2)
    training, enqueued = request_candidate_training()
    assert enqueued
    run_candidate_training(name=CANDIDATE_TRAINING)

    training = ModelTraining.objects.get(name=CANDIDATE_TRAINING)
    assert training.status == ModelTraining.Status.DONE
    assert (training.progress_step, training.progress_total) == (5, 5)
    assert training.model_version == ModelVersion.objects.get(is_active=False)
    # A second run of the same (redelivered) task trains nothing more.
    run_candidate_training(name=CANDIDATE_TRAINING)
    assert ModelVersion.objects.count() == 1
