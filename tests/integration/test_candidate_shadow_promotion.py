"""Retraining on real workers: staff corrections are accepted, a superuser trains a
candidate from the admin (on the slow worker, with progress), puts it in shadow, new
messages from the portal are classified by both on the triage worker while routing follows
the active model, and the candidate is promoted."""

import time

import pytest

from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory, UserFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.integration.test_cold_start_worker import post_message, wait_for
from tests.triage.factories import ClassificationFactory
from triage.model_registry import register_model_version
from triage.models import (
    Classification,
    LabelCorrection,
    ModelTraining,
    ModelVersion,
    ShadowClassification,
    ShadowPeriod,
)
from triage.tasks import CANDIDATE_TRAINING

pytestmark = pytest.mark.integration

VERSIONS = "/admin/triage/modelversion/"
# Two fits on the slow worker: about 45 s alone, minutes on a busy machine.
TRAINED_WITHIN_SECONDS = 400
CLASSIFIED_WITHIN_SECONDS = 20
NEW_MESSAGES = [
    "Can I move my appointment on Tuesday to the afternoon?",
    "I need a refill of my metformin, I have three pills left.",
    "My throat hurts and I have had a fever of 101 since yesterday.",
]


def accepted_corrections(clinic, count: int) -> None:
    """Messages the model called routine for the clerical pool that staff moved to the
    nurse as urgent, accepted by an administrator."""
    nurse, admin = StaffFactory(clinic=clinic), UserFactory(is_staff=True)
    for i in range(count):
        message = MessageFactory(
            conversation=ConversationFactory(patient=PatientFactory(clinic=clinic)),
            body=f"My ankle is still swollen and purple after the fall, day {i + 2}.",
        )
        ClassificationFactory(message=message, acuity="routine", service_level="clerical")
        for label, wrong, right in (
            ("acuity", "routine", "urgent"),
            ("service_level", "clerical", "nurse"),
        ):
            LabelCorrection.objects.create(
                message=message,
                label=label,
                from_value=wrong,
                to_value=right,
                corrected_by=nurse,
                review_status=LabelCorrection.ReviewStatus.ACCEPTED,
                reviewed_by=admin,
            )


def candidate_training() -> ModelTraining | None:
    return ModelTraining.objects.filter(name=CANDIDATE_TRAINING).first()


def test_a_candidate_is_trained_shadowed_beside_the_active_model_and_promoted(
    workers, client, client_for, trained_triage_model
):
    started = time.monotonic()
    model, artifact, data_hash = trained_triage_model
    active = register_model_version(
        model=model, artifact=artifact, name="active", training_data_hash=data_hash
    )
    workers.start("triage", queues="triage,default")
    workers.start("slow", queues="slow")
    clinic = ClinicFactory()
    accepted_corrections(clinic, 10)
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)

    # Train a candidate: the slow worker, with its progress on the row the admin shows.
    response = client.post(f"{VERSIONS}train-candidate/", follow=True)
    assert "A candidate is training on the slow queue" in response.text
    steps_seen = set()

    def trained():
        training = candidate_training()
        steps_seen.add((training.status, training.progress_step))
        return training.status in (ModelTraining.Status.DONE, ModelTraining.Status.FAILED)

    done, training_seconds = wait_for(trained, TRAINED_WITHIN_SECONDS, every=0.5)
    assert done, f"candidate not trained within {TRAINED_WITHIN_SECONDS}s"
    training = candidate_training()
    assert training.status == ModelTraining.Status.DONE, training.error
    assert any(status == "running" and 0 < step < 5 for status, step in steps_seen)
    candidate = training.model_version
    assert not candidate.is_active
    corrections = candidate.metrics["corrections"]
    assert corrections["trained_on"] + corrections["held_out"] == 10
    assert corrections["trained_on"] > 0
    fairness = candidate.metrics["fairness"]["by_language"]
    assert {"en", "es"} <= fairness.keys()
    assert "Candidate training: done" in client.get(VERSIONS).text

    # Shadow: both classify the portal's new messages; routing follows the active model.
    response = client.post(f"{VERSIONS}{candidate.pk}/shadow/", {"days": "3"}, follow=True)
    assert "classifies every message beside the active model" in response.text
    portal = client_for(IntegrationFactory(clinic=clinic).account)
    message_ids = [
        post_message(portal, clinic, f"shadow-{i}", body) for i, body in enumerate(NEW_MESSAGES)
    ]
    for message_id in message_ids:
        shadow, _ = wait_for(
            lambda message_id=message_id: ShadowClassification.objects.filter(
                message_id=message_id
            ).first(),
            CLASSIFIED_WITHIN_SECONDS,
        )
        assert shadow is not None, f"message {message_id} not classified in shadow"
        assert shadow.model_version == candidate
        classification = Classification.objects.get(message_id=message_id)
        assert classification.model_version == active
        item = WorkItem.objects.select_related("queue").get(message_id=message_id)
        assert item.acuity == classification.acuity
        assert item.queue.role == classification.routing_service_level
    page = client.get(f"{VERSIONS}{candidate.pk}/change/").text
    assert f"{len(NEW_MESSAGES)} messages classified beside the active model" in page

    # Promotion: one action; it ends the shadow, and the next message is the candidate's.
    client.post(VERSIONS, {"action": "promote", "_selected_action": [candidate.pk]})
    candidate.refresh_from_db()
    assert candidate.is_active
    assert not ShadowPeriod.objects.get(model_version=candidate).is_open
    after = post_message(portal, clinic, "after-promotion", NEW_MESSAGES[0])
    routed, _ = wait_for(
        lambda: WorkItem.objects.filter(message_id=after).exists(), CLASSIFIED_WITHIN_SECONDS
    )
    assert routed
    assert Classification.objects.get(message_id=after).model_version == candidate
    assert not ShadowClassification.objects.filter(message_id=after).exists()
    assert ModelVersion.objects.filter(is_active=True).get() == candidate
    print(
        f"candidate trained in {training_seconds:.1f}s; "
        f"whole test body {time.monotonic() - started:.1f}s"
    )
