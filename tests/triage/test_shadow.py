"""A candidate in shadow classifies every message beside the active model, in the same
worker task, after routing: its answer is stored, routing follows the active model only,
its failures are ignored, and it ends by itself after its days or at its promotion. The
version page compares the two, counted here by hand."""

import datetime
import logging
from collections.abc import Sequence

import pytest
from django.utils import timezone

from inbox.models import Message
from pipeline.tasks import classify_and_route
from routing.models import WorkItem
from tests.accounts.factories import UserFactory
from tests.inbox.factories import MessageFactory
from tests.routing.factories import routed_item
from triage.ml.types import TriageInput, TriagePrediction
from triage.model_registry import register_model_version
from triage.models import (
    Classification,
    LabelCorrection,
    ModelVersion,
    ShadowClassification,
    ShadowPeriod,
)
from triage.shadow import ShadowRefused, current_shadow, shadow_report, start_shadow

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/triage/modelversion/"
QUESTION = "Can I move my appointment next week to the afternoon?"


class FixedModel:
    """A model that says the same of every message (stored and loaded like a real one)."""

    def __init__(self, acuity: str, service_level: str, evisit: bool = False):
        self.labels = (acuity, service_level, evisit)

    def predict(self, items: Sequence[TriageInput]) -> list[TriagePrediction]:
        acuity, level, evisit = self.labels
        return [TriagePrediction(acuity, level, evisit, 0.9, 0.8, 0.7) for _ in items]


class BrokenModel:
    def predict(self, items):
        raise RuntimeError("the candidate's artifact is broken")


def version(model, name: str, *, activate: bool) -> ModelVersion:
    return register_model_version(
        model=model, name=name, training_data_hash="0" * 64, activate=activate
    )


@pytest.fixture
def active():
    return version(FixedModel("routine", "clerical"), "active", activate=True)


@pytest.fixture
def candidate():
    return version(FixedModel("urgent", "nurse", evisit=True), "candidate", activate=False)


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


def test_a_message_is_classified_by_both_and_routed_by_the_active_model(active, candidate):
    start_shadow(version_id=candidate.pk, days=7, actor=None)
    message = MessageFactory(body=QUESTION)

    classify_and_route(message.pk)

    classification = Classification.objects.get(message=message)
    assert (classification.model_version, classification.acuity) == (active, "routine")
    shadow = ShadowClassification.objects.get(message=message)
    assert (shadow.model_version, shadow.acuity, shadow.service_level) == (
        candidate,
        "urgent",
        "nurse",
    )
    assert shadow.evisit_candidate is True
    assert shadow.confidences == {"acuity": 0.9, "service_level": 0.8, "evisit_candidate": 0.7}
    item = WorkItem.objects.select_related("queue").get(message=message)
    assert (item.acuity, item.service_level, item.queue.role) == ("routine", "clerical", "clerical")
    # Run again (at-least-once delivery): nothing more is stored.
    classify_and_route(message.pk)
    assert ShadowClassification.objects.filter(message=message).count() == 1


def test_a_failing_shadow_model_is_logged_and_ignored(active, caplog):
    broken = version(BrokenModel(), "broken", activate=False)
    start_shadow(version_id=broken.pk, days=7, actor=None)
    message = MessageFactory(body=QUESTION)

    with caplog.at_level(logging.ERROR, logger="triage.shadow"):
        classify_and_route(message.pk)

    assert WorkItem.objects.filter(message=message).exists()
    assert Message.objects.get(pk=message.pk).status == Message.Status.ROUTED
    assert not ShadowClassification.objects.exists()
    assert "the model in shadow failed" in caplog.text


def test_without_an_active_model_nothing_is_classified_in_shadow(candidate):
    start_shadow(version_id=candidate.pk, days=7, actor=None)
    message = MessageFactory(body=QUESTION)

    classify_and_route(message.pk)

    assert Classification.objects.get(message=message).unclassified
    assert not ShadowClassification.objects.exists()


def test_the_shadow_ends_by_itself_after_its_days(active, candidate):
    now = timezone.now()
    period = start_shadow(
        version_id=candidate.pk, days=2, actor=None, now=now - datetime.timedelta(days=3)
    )
    assert period.ends_at == now - datetime.timedelta(days=1)
    message = MessageFactory(body=QUESTION)

    classify_and_route(message.pk)

    assert current_shadow(now=now) is None
    assert not ShadowClassification.objects.exists()
    # Its end frees the place: another may start, and the old period keeps its own end.
    other = version(FixedModel("emergent", "nurse"), "other", activate=False)
    start_shadow(version_id=other.pk, days=1, actor=None, now=now)
    period.refresh_from_db()
    assert (period.is_open, period.ended_at) == (False, period.ends_at)


def test_one_shadow_at_a_time_and_never_the_active_model(active, candidate):
    start_shadow(version_id=candidate.pk, days=7, actor=None)
    other = version(FixedModel("emergent", "nurse"), "other", activate=False)

    with pytest.raises(ShadowRefused, match="candidate is in shadow until"):
        start_shadow(version_id=other.pk, days=7, actor=None)
    with pytest.raises(ShadowRefused, match="beside itself"):
        start_shadow(version_id=active.pk, days=7, actor=None)
    with pytest.raises(ShadowRefused, match="1 to 60 days"):
        start_shadow(version_id=other.pk, days=0, actor=None)
    assert ShadowPeriod.objects.count() == 1


def test_a_superuser_puts_a_candidate_in_shadow_and_promotes_it_which_ends_the_shadow(
    client, superuser, active, candidate
):
    client.force_login(superuser)

    response = client.post(f"{VERSIONS}{candidate.pk}/shadow/", {"days": "5"}, follow=True)

    assert "classifies every message beside the active model" in response.text
    period = ShadowPeriod.objects.get()
    assert (period.model_version, period.started_by) == (candidate, superuser)
    assert period.ends_at - period.started_at == datetime.timedelta(days=5)

    client.post(VERSIONS, {"action": "promote", "_selected_action": [candidate.pk]})

    period.refresh_from_db()
    candidate.refresh_from_db()
    assert candidate.is_active
    assert not period.is_open
    assert period.ended_at <= timezone.now()
    assert current_shadow(now=timezone.now()) is None


def test_staff_who_are_not_superusers_cannot_start_a_shadow(client, candidate):
    client.force_login(UserFactory(is_staff=True))

    response = client.post(f"{VERSIONS}{candidate.pk}/shadow/", {"days": "5"})

    assert response.status_code in (302, 403)
    assert not ShadowPeriod.objects.exists()


# --- the comparison on the version page, by hand -------------------------------------------


def shadowed(clinic, candidate, *, active: tuple, shadow: tuple) -> WorkItem:
    """A routed message whose stored classification says `active` (acuity, level, e-visit)
    and the candidate's says `shadow`."""
    acuity, level, evisit = active
    item = routed_item(clinic, acuity=acuity, level=level, body=QUESTION)
    Classification.objects.filter(message=item.message).update(evisit_candidate=evisit)
    acuity, level, evisit = shadow
    ShadowClassification.objects.create(
        message=item.message,
        model_version=candidate,
        acuity=acuity,
        service_level=level,
        evisit_candidate=evisit,
    )
    return item


def test_agreement_disagreements_sample_and_corrections_counted_by_hand(
    client, superuser, active, candidate
):
    from tests.accounts.factories import ClinicFactory, StaffFactory

    clinic = ClinicFactory()
    start_shadow(
        version_id=candidate.pk,
        days=7,
        actor=None,
        now=timezone.now() - datetime.timedelta(minutes=5),
    )
    same = shadowed(
        clinic, candidate, active=("routine", "nurse", False), shadow=("routine", "nurse", False)
    )
    more_acute = shadowed(
        clinic, candidate, active=("routine", "nurse", False), shadow=("urgent", "nurse", False)
    )
    also_more_acute = shadowed(
        clinic, candidate, active=("routine", "nurse", True), shadow=("urgent", "nurse", False)
    )
    other_role = shadowed(
        clinic, candidate, active=("urgent", "ma", False), shadow=("urgent", "nurse", False)
    )
    nurse = StaffFactory(clinic=clinic)
    for item, label, to_value, status in [
        (more_acute, "acuity", "urgent", LabelCorrection.ReviewStatus.PROPOSED),  # shadow right
        (other_role, "service_level", "physician", LabelCorrection.ReviewStatus.CONFIRMED),  # none
        (same, "acuity", "emergent", LabelCorrection.ReviewStatus.REJECTED),  # not counted
        (
            also_more_acute,
            "evisit_candidate",
            "false",
            LabelCorrection.ReviewStatus.PROPOSED,
        ),  # shadow
    ]:
        LabelCorrection.objects.create(
            message=item.message,
            label=label,
            from_value="x",
            to_value=to_value,
            corrected_by=nurse,
            review_status=status,
        )

    report = shadow_report(version=candidate, now=timezone.now())

    assert report["classified"] == 4
    assert {a["label"]: (a["agreed"], a["messages"]) for a in report["agreement"]} == {
        "acuity": (2, 4),
        "service_level": (3, 4),
        "evisit_candidate": (3, 4),
    }
    assert report["agreement"][0]["share"] == 50.0
    assert [
        (d["label"], d["active"], d["shadow"], d["messages"]) for d in report["disagreements"]
    ] == [
        ("acuity", "routine", "urgent", 2),
        ("evisit_candidate", True, False, 1),
        ("service_level", "ma", "nurse", 1),
    ]
    assert {s["work_item_id"] for s in report["sample"]} == {
        more_acute.pk,
        also_more_acute.pk,
        other_role.pk,
    }
    assert {
        r["label"]: (r["corrected"], r["active"], r["shadow"])
        for r in report["corrections"]["labels"]
    } == {
        "acuity": (1, 0, 1),
        "service_level": (1, 0, 0),
        "evisit_candidate": (1, 0, 1),
    }

    # The page shows the figures and links the audited work item pages, never the text.
    client.force_login(superuser)
    page = client.get(f"{VERSIONS}{candidate.pk}/change/").text
    assert "Agreement with the active model" in page
    assert "50.0%" in page
    assert f'href="/work/items/{more_acute.pk}/"' in page
    assert QUESTION not in page
