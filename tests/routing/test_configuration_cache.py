"""A worker keeps each clinic's routing configuration between messages, and a change
saved is used by the very next message (a stale rule is a safety risk): the clinic's
configuration version changes in the same transaction as the change."""

import pytest

from accounts.models import Clinic
from pipeline.tasks import classify_and_route
from routing import clinic_settings
from routing.models import BusinessHours, SlaPolicy, WebhookSubscription, WorkItem
from tests.accounts.factories import ClinicFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db

PORT_QUESTION = "Quick question about my port appointment next week, no problems."


def route_new_message(clinic: Clinic, body: str = PORT_QUESTION) -> WorkItem:
    conversation = ConversationFactory(clinic=clinic, patient=PatientFactory(clinic=clinic))
    message = MessageFactory(conversation=conversation, body=body)
    classify_and_route.run(message.pk)
    return WorkItem.objects.select_related("queue").get(message=message)


def test_a_rule_saved_edited_disabled_and_deleted_is_used_by_the_next_message(
    active_model_version,
):
    clinic = ClinicFactory()
    navigators = QueueFactory(clinic=clinic, role="nurse", name="Port navigators")
    assert route_new_message(clinic).queue.is_role_default  # configuration now cached

    rule = RoutingRuleFactory(
        clinic=clinic, conditions={"keyword": ["port"]}, action={"queue": navigators.pk}
    )
    assert route_new_message(clinic).queue == navigators

    rule.action = {"queue": navigators.pk, "raise_acuity": "emergent"}
    rule.save()
    assert route_new_message(clinic).acuity == "emergent"

    rule.enabled = False
    rule.save()
    assert route_new_message(clinic).queue.is_role_default

    rule.enabled = True
    rule.save()
    assert route_new_message(clinic).queue == navigators
    rule.delete()
    assert route_new_message(clinic).queue.is_role_default


def test_every_configuration_change_gives_the_clinic_a_new_version(active_model_version):
    clinic = ClinicFactory()
    other = ClinicFactory()
    seen = {Clinic.objects.get(pk=clinic.pk).configuration_version}
    other_version = Clinic.objects.get(pk=other.pk).configuration_version

    def changed() -> bool:
        version = Clinic.objects.get(pk=clinic.pk).configuration_version
        new = version not in seen
        seen.add(version)
        return new

    QueueFactory(clinic=clinic)
    assert changed()
    SlaPolicy.objects.create(clinic=clinic, acuity="routine", clock="business_days", amount=1)
    assert changed()
    BusinessHours.objects.filter(clinic=clinic).delete()  # none yet: no change
    assert not changed()
    hours = BusinessHours.objects.create(
        clinic=clinic, weekday=0, opens_at="08:00", closes_at="17:00"
    )
    assert changed()
    hours.delete()
    assert changed()
    WebhookSubscription.objects.create(clinic=clinic, name="EHR", url="http://127.0.0.1:9/")
    assert changed()
    clinic.time_zone = "America/New_York"
    clinic.save()
    assert changed()
    # Another clinic's configuration is its own.
    assert Clinic.objects.get(pk=other.pk).configuration_version == other_version


def test_the_configuration_is_read_once_per_version(
    active_model_version, django_assert_max_num_queries
):
    clinic = ClinicFactory()
    RoutingRuleFactory(clinic=clinic, conditions={"keyword": ["port"]}, action={})
    fresh = Clinic.objects.get(pk=clinic.pk)
    clinic_settings.configuration(clinic=fresh)

    with django_assert_max_num_queries(0):
        clinic_settings.routing_rules(clinic=fresh)
        clinic_settings.business_calendar(clinic=fresh)
        clinic_settings.sla_rules(clinic=fresh)

    RoutingRuleFactory(clinic=clinic, conditions={"keyword": ["line"]}, action={})
    assert len(clinic_settings.routing_rules(clinic=Clinic.objects.get(pk=clinic.pk))) == 2


def test_a_model_promoted_is_used_by_the_next_message(active_model_version, trained_triage_model):
    from triage.model_registry import activate_model_version, register_model_version

    clinic = ClinicFactory()
    first = route_new_message(clinic)
    assert first.message.classification.model_version_id == active_model_version.pk
    model, artifact, data_hash = trained_triage_model
    newer = register_model_version(
        model=model, artifact=artifact, name="newer", training_data_hash=data_hash, activate=False
    )
    activate_model_version(version_id=newer.pk)

    assert route_new_message(clinic).message.classification.model_version_id == newer.pk
