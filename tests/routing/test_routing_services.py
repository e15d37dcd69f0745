"""Routing and work-item transitions through the public service functions."""

import datetime

import pytest
from django.core import mail
from django.http import Http404
from django.utils import timezone

from accounts.models import Absence, Role
from inbox.models import Message, OutgoingMessage
from pipeline import tasks as pipeline_tasks
from routing import coverage, services, sweeps, work_items
from routing.exceptions import InvalidTarget, InvalidTransition
from routing.models import (
    BusinessHours,
    ClinicRouting,
    Notification,
    OnCallShift,
    SlaBreach,
    WorkEvent,
    WorkItem,
)
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import (
    QueueFactory,
    RoutingRuleFactory,
    classified_message,
    routed_item,
)
from triage.models import LabelCorrection

pytestmark = pytest.mark.django_db


# --- routing ------------------------------------------------------------------------


def test_no_rule_routes_to_the_predicted_roles_default_queue_and_says_why():
    clinic = ClinicFactory()
    item = routed_item(clinic, level="ma")
    assert (item.queue.role, item.queue.is_role_default) == ("ma", True)
    assert "no rule matched" in item.routing_reason
    assert item.matched_rule is None
    assert item.events.get().kind == WorkEvent.Kind.ROUTED


def test_matching_rule_picks_a_custom_pool_and_the_decision_is_stored():
    clinic = ClinicFactory()
    navigators = QueueFactory(clinic=clinic, role="nurse", name="Oncology nurse navigators")
    rule = RoutingRuleFactory(
        clinic=clinic,
        name="Port problems",
        conditions={"keyword": ["port"]},
        action={"queue": navigators.pk},
    )
    item = routed_item(clinic, level="ma", body="My port site is red and warm")
    assert item.queue == navigators
    assert item.matched_rule == rule
    assert item.routing_decision["rule_name"] == "Port problems"
    assert "keyword 'port'" in item.routing_reason


def test_rules_of_another_clinic_do_not_apply():
    clinic, other = ClinicFactory(), ClinicFactory()
    RoutingRuleFactory(clinic=other, action={"raise_acuity": "emergent"})
    assert routed_item(clinic).acuity == "routine"


def test_due_time_follows_the_clinics_business_hours():
    clinic = ClinicFactory(time_zone="America/New_York")
    for weekday in range(5):
        BusinessHours.objects.create(
            clinic=clinic, weekday=weekday, opens_at=datetime.time(8), closes_at=datetime.time(17)
        )
    message = classified_message(clinic, acuity="urgent")
    friday_evening = datetime.datetime(2026, 11, 20, 23, 0, tzinfo=datetime.UTC)  # 18:00 NY
    Message.objects.filter(pk=message.pk).update(created_at=friday_evening)
    item = services.route(message_id=message.pk)
    assert item.due_at == datetime.datetime(2026, 11, 23, 17, 0, tzinfo=datetime.UTC)  # Mon 12:00
    assert item.routing_decision["sla"] == "240 business min"


def test_emergent_message_gets_the_auto_reply_in_spanish_and_alerts_on_call(
    django_capture_on_commit_callbacks,
):
    clinic = ClinicFactory()
    on_call = StaffFactory(clinic=clinic, role=Role.PHYSICIAN, email="oncall@clinic.test")
    now = timezone.now()
    OnCallShift.objects.create(
        clinic=clinic,
        clinician=on_call,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(hours=8),
    )
    patient = PatientFactory(clinic=clinic, preferred_language="es")
    with django_capture_on_commit_callbacks(execute=True):
        item = routed_item(
            clinic, acuity="emergent", conversation=ConversationFactory(patient=patient)
        )

    reply = OutgoingMessage.objects.get(conversation=item.conversation)
    assert (reply.kind, reply.language) == ("auto_reply", "es")
    assert "911" in reply.body
    assert "emergencia" in reply.body
    alert = Notification.objects.get(work_item=item)
    assert (alert.kind, alert.recipient, alert.status) == ("on_call_alert", on_call.email, "sent")
    assert mail.outbox[0].to == [on_call.email]
    assert item.events.filter(kind=WorkEvent.Kind.ALERTED).exists()


def test_emergent_alert_with_nobody_on_call_goes_to_the_fallback_then_to_clinicians():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, email="nurse@clinic.test")
    StaffFactory(clinic=clinic, role=Role.CLERICAL, email="clerk@clinic.test")
    item = routed_item(clinic, acuity="emergent")
    assert list(item.notifications.values_list("recipient", flat=True)) == [nurse.email]

    ClinicRouting.objects.create(clinic=clinic, on_call_fallback_email="desk@clinic.test")
    item = routed_item(clinic, acuity="emergent")
    assert list(item.notifications.values_list("recipient", flat=True)) == ["desk@clinic.test"]


def test_routing_twice_makes_one_auto_reply_and_one_alert():
    clinic = ClinicFactory()
    StaffFactory(clinic=clinic, role=Role.NURSE, email="nurse@clinic.test")
    message = classified_message(clinic, acuity="emergent")
    services.route(message_id=message.pk)
    Message.objects.filter(pk=message.pk).update(status=Message.Status.CLASSIFIED)  # redelivered
    services.route(message_id=message.pk)
    assert OutgoingMessage.objects.filter(in_reply_to=message).count() == 1
    assert Notification.objects.count() == 1


def test_rule_assigns_to_a_person_or_their_cover_or_the_pool():
    clinic = ClinicFactory()
    nurse, cover = StaffFactory(clinic=clinic), StaffFactory(clinic=clinic)
    RoutingRuleFactory(clinic=clinic, conditions={"language": "es"}, action={"assign_to": nurse.pk})

    def spanish_item():
        patient = PatientFactory(clinic=clinic, preferred_language="es")
        return routed_item(clinic, conversation=ConversationFactory(patient=patient))

    assert spanish_item().claimed_by == nurse
    now = timezone.now()
    absence = Absence.objects.create(
        user=nurse,
        starts_at=now - datetime.timedelta(hours=1),
        ends_at=now + datetime.timedelta(days=1),
        covering_user=cover,
    )
    item = spanish_item()
    assert item.claimed_by == cover
    assert "covered by" in item.events.get(kind=WorkEvent.Kind.ASSIGNED).reason
    absence.covering_user = None
    absence.save()
    item = spanish_item()
    assert (item.status, item.claimed_by) == ("open", None)
    assert "back to the role pool" in item.events.get(kind=WorkEvent.Kind.ASSIGNED).reason


# --- transitions ------------------------------------------------------------------------


def test_claim_is_exclusive_and_scoped_to_the_clinic():
    clinic = ClinicFactory()
    first, second = StaffFactory(clinic=clinic), StaffFactory(clinic=clinic)
    outsider = StaffFactory()
    item = routed_item(clinic)

    with pytest.raises(Http404):
        work_items.claim(actor=outsider, item_id=item.pk)
    work_items.claim(actor=first, item_id=item.pk)
    with pytest.raises(InvalidTransition):
        work_items.claim(actor=second, item_id=item.pk)
    item.refresh_from_db()
    assert (item.status, item.claimed_by) == ("claimed", first)


def test_claim_next_takes_the_most_acute_then_earliest_due_of_my_queues():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    routine = routed_item(clinic, acuity="routine")
    urgent = routed_item(clinic, acuity="urgent")
    emergent = routed_item(clinic, acuity="emergent")
    other_clinic_item = routed_item(ClinicFactory(), acuity="emergent")

    order = [work_items.claim_next(actor=nurse) for _ in range(4)]
    assert order == [emergent, urgent, routine, None]
    other_clinic_item.refresh_from_db()
    assert other_clinic_item.claimed_by is None


def test_reassign_to_a_role_needs_a_reason_and_records_a_label_correction():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    item = routed_item(clinic, level="nurse")
    with pytest.raises(InvalidTarget):
        work_items.reassign(actor=nurse, item_id=item.pk, role="clerical", reason=" ")

    item = work_items.reassign(actor=nurse, item_id=item.pk, role="clerical", reason="scheduling")
    assert (item.queue.role, item.service_level, item.status) == ("clerical", "clerical", "open")
    correction = LabelCorrection.objects.get(message=item.message)
    assert (correction.from_value, correction.to_value, correction.corrected_by) == (
        "nurse",
        "clerical",
        nurse,
    )
    event = item.events.get(kind=WorkEvent.Kind.REASSIGNED)
    assert (event.actor, event.reason, event.to_queue) == (nurse, "scheduling", item.queue)


def test_reassign_to_a_person_hands_it_to_them_and_refuses_outsiders():
    clinic = ClinicFactory()
    nurse, physician = StaffFactory(clinic=clinic), StaffFactory(clinic=clinic, role="physician")
    item = routed_item(clinic)
    with pytest.raises(InvalidTarget):
        work_items.reassign(actor=nurse, item_id=item.pk, person_id=StaffFactory().pk, reason="x")
    item = work_items.reassign(actor=nurse, item_id=item.pk, person_id=physician.pk, reason="dose")
    assert (item.claimed_by, item.status, item.queue.role) == (physician, "claimed", "physician")


def test_an_emergent_item_cannot_be_reassigned_below_nurse():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    item = routed_item(clinic, acuity="emergent")
    with pytest.raises(InvalidTarget):
        work_items.reassign(actor=nurse, item_id=item.pk, role="clerical", reason="billing")


def test_escalate_moves_to_the_next_role_and_return_puts_it_back_in_the_pool():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    item = routed_item(clinic, level="nurse")
    work_items.claim(actor=nurse, item_id=item.pk)
    work_items.return_to_queue(actor=nurse, item_id=item.pk, reason="end of shift")
    item.refresh_from_db()
    assert (item.status, item.claimed_by) == ("open", None)

    item = work_items.escalate(actor=nurse, item_id=item.pk, reason="needs a dose change")
    assert (item.queue.role, item.escalation_level, item.status) == ("physician", 1, "open")
    kinds = list(item.events.order_by("id").values_list("kind", flat=True))
    assert kinds == ["routed", "claimed", "returned", "escalated"]


def test_respond_then_patient_replies_reopens_the_same_item():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    item = routed_item(clinic)
    work_items.claim(actor=nurse, item_id=item.pk)
    reply = work_items.respond(actor=nurse, item_id=item.pk, body="Take it with food.")
    item.refresh_from_db()
    assert (item.status, reply.kind, reply.author) == ("responded", "staff_reply", nurse)

    again = routed_item(clinic, conversation=item.conversation)
    assert again.pk == item.pk
    assert again.status == "open"
    assert again.events.filter(kind=WorkEvent.Kind.REOPENED).exists()


def test_a_closed_thread_is_reopened_when_the_patient_writes_again():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic)
    item = routed_item(clinic)
    work_items.claim(actor=nurse, item_id=item.pk)
    work_items.close(actor=nurse, item_id=item.pk)
    with pytest.raises(InvalidTransition):
        work_items.close(actor=nurse, item_id=item.pk)

    again = routed_item(clinic, acuity="urgent", conversation=item.conversation)
    assert (again.pk, again.status, again.acuity, again.claimed_by) == (
        item.pk,
        "open",
        "urgent",
        None,
    )
    assert WorkItem.objects.filter(conversation=item.conversation).count() == 1


def test_coverage_moves_held_work_of_an_absent_person_once():
    clinic = ClinicFactory()
    nurse, cover = StaffFactory(clinic=clinic), StaffFactory(clinic=clinic)
    covered, pooled = routed_item(clinic), routed_item(ClinicFactory())
    work_items.claim(actor=nurse, item_id=covered.pk)
    now = timezone.now()
    Absence.objects.create(
        user=nurse,
        starts_at=now - datetime.timedelta(minutes=1),
        ends_at=now + datetime.timedelta(days=2),
        covering_user=cover,
    )
    assert coverage.apply_coverage() == 1
    assert coverage.apply_coverage() == 0
    covered.refresh_from_db()
    assert covered.claimed_by == cover
    assert "covered by" in covered.events.get(kind=WorkEvent.Kind.COVERED).reason
    assert pooled.claimed_by is None


# --- sweeps ---------------------------------------------------------------------------


def test_sla_sweep_escalates_an_overdue_urgent_item_once():
    clinic = ClinicFactory()
    item = routed_item(clinic, acuity="urgent", level="nurse")
    later = item.due_at + datetime.timedelta(minutes=1)
    assert sweeps.sweep_sla(now=later) == 1
    assert sweeps.sweep_sla(now=later + datetime.timedelta(minutes=5)) == 0
    item.refresh_from_db()
    assert (item.queue.role, item.escalation_level) == ("physician", 1)
    assert item.breached_at == later
    assert SlaBreach.objects.filter(work_item=item).count() == 1


def test_sla_sweep_flags_an_overdue_routine_item_without_moving_it():
    item = routed_item(ClinicFactory(), acuity="routine", level="clerical")
    sweeps.sweep_sla(now=item.due_at + datetime.timedelta(seconds=1))
    item.refresh_from_db()
    assert (item.queue.role, item.escalation_level) == ("clerical", 0)
    assert item.breached_at is not None


def test_emergent_alert_repeats_every_15_minutes_until_claimed():
    clinic = ClinicFactory()
    nurse = StaffFactory(clinic=clinic, email="nurse@clinic.test")
    item = routed_item(clinic, acuity="emergent")
    assert item.notifications.count() == 1  # at routing
    sweeps.sweep_sla(now=item.due_at + datetime.timedelta(minutes=1))
    sweeps.sweep_sla(now=item.due_at + datetime.timedelta(minutes=2))  # same window
    assert item.notifications.count() == 2
    sweeps.sweep_sla(now=item.due_at + datetime.timedelta(minutes=16))
    assert sorted(item.notifications.values_list("window", flat=True)) == [0, 1, 2]
    work_items.claim(actor=nurse, item_id=item.pk)
    sweeps.sweep_sla(now=item.due_at + datetime.timedelta(minutes=31))
    assert item.notifications.count() == 3


def test_stuck_messages_are_enqueued_again_and_fresh_ones_left_alone(settings):
    settings.STUCK_MESSAGE_AFTER_SECONDS = 120
    clinic = ClinicFactory()
    stuck, fresh = classified_message(clinic), classified_message(clinic)
    Message.objects.filter(pk=stuck.pk).update(
        status_changed_at=timezone.now() - datetime.timedelta(minutes=3)
    )
    assert pipeline_tasks.requeue_stuck(now=timezone.now()) == 1  # eager: routed in-process
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert (stuck.status, fresh.status) == ("routed", "classified")
    assert WorkItem.objects.filter(message=stuck).count() == 1


def test_a_rule_naming_another_clinics_queue_or_staff_is_refused():
    from django.core.exceptions import ValidationError

    clinic, other = ClinicFactory(), ClinicFactory()
    foreign_queue = QueueFactory(clinic=other)
    outsider = StaffFactory(clinic=other)
    for action in (
        {"queue": foreign_queue.pk},
        {"assign_to": outsider.pk},
        {"notify": [outsider.pk]},
    ):
        rule = RoutingRuleFactory.build(clinic=clinic, action=action)
        with pytest.raises(ValidationError):
            rule.full_clean()
    with pytest.raises(ValidationError):
        RoutingRuleFactory.build(
            clinic=clinic, conditions={"acuity": "critical"}, action={"queue": 1}
        ).full_clean()
    RoutingRuleFactory.build(
        clinic=clinic, action={"queue": QueueFactory(clinic=clinic).pk}
    ).full_clean()
