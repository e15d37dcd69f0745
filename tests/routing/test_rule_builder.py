"""Routing rules built in the admin from condition rows and action drop-downs (queues and
staff of the rule's clinic by name); the JSON stays the stored form, and the engine
routes by what the form wrote."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing import rule_builder
from routing.models import RoutingRule, RuleReplay
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item

pytestmark = pytest.mark.django_db

RULES = "/admin/routing/routingrule/"


def builder_post(conditions: dict, action: dict) -> dict:
    """The rule builder's fields as a browser posts them for a rule's JSON."""
    posted = {}
    for name, value in rule_builder.initial_from_json(conditions, action).items():
        if value is True:
            posted[name] = "on"
        elif value in (False, None):
            continue
        else:
            posted[name] = value
    return posted


@pytest.fixture
def clinic():
    return ClinicFactory(name="Oncology - Pasadena", time_zone="America/Los_Angeles")


@pytest.fixture
def oncology_pool(clinic):
    return QueueFactory(clinic=clinic, role="nurse", name="Oncology nurse pool")


@pytest.fixture
def administrator(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def chest_pain_form(clinic, queue, **changes) -> dict:
    return {
        "clinic": clinic.pk,
        "name": "Chest pain on chemotherapy",
        "order": 1,
        "enabled": "on",
        "if_keyword": "chest pain",
        "if_on_chemotherapy": "on",
        "then_queue": str(queue.pk),
        "then_raise_acuity": "emergent",
        **changes,
    }


def test_a_rule_built_in_the_form_is_stored_as_the_json_the_engine_routes_by(
    client, administrator, clinic, oncology_pool
):
    client.force_login(administrator)

    response = client.post(f"{RULES}add/", chest_pain_form(clinic, oncology_pool))

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RoutingRule.objects.get(name="Chest pain on chemotherapy")
    assert rule.conditions == {"keyword": ["chest pain"], "patient_flag": "on_chemotherapy"}
    assert rule.action == {"queue": oncology_pool.pk, "raise_acuity": "emergent"}
    assert rule.updated_by == administrator
    assert LogEntry.objects.get(object_id=str(rule.pk)).is_addition()

    patient = PatientFactory(clinic=clinic, on_chemotherapy=True)
    item = routed_item(
        clinic,
        body="I have chest pain since this morning",
        conversation=ConversationFactory(patient=patient),
    )
    assert (item.queue, item.acuity) == (oncology_pool, "emergent")
    # Without chemotherapy the rule does not hold.
    other = routed_item(clinic, body="I have chest pain since this morning")
    assert other.queue != oncology_pool


def test_every_condition_and_action_reads_back_as_it_was_stored(
    client, administrator, clinic, oncology_pool
):
    colleague = StaffFactory(clinic=clinic, role=Role.NURSE, first_name="Ana", last_name="Ruiz")
    conditions = {
        "keyword": ["port", "picc line"],
        "category": ["Medication refill"],
        "language": ["es"],
        "red_flag": ["chest_pain", "fever"],
        "acuity": ["routine", "urgent"],
        "service_level": ["clerical", "ma"],
        "patient_flag": "on_chemotherapy",
        "confidence_below": {"label": "acuity", "value": 0.6},
        "time_of_day": {"from": "17:00", "to": "08:00"},
    }
    action = {
        "queue": oncology_pool.pk,
        "raise_acuity": "urgent",
        "assign_to": colleague.pk,
        "notify": [colleague.pk],
        "auto_reply": "after_hours",
    }
    rule = RoutingRuleFactory(clinic=clinic, conditions=conditions, action=action)
    client.force_login(administrator)

    page = client.get(f"{RULES}{rule.pk}/change/")
    assert "Oncology nurse pool (nurse)" in page.text
    assert "Ana Ruiz (nurse)" in page.text

    form = {"clinic": clinic.pk, "name": rule.name, "order": rule.order, "enabled": "on"}
    response = client.post(f"{RULES}{rule.pk}/change/", form | builder_post(conditions, action))

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.conditions == conditions
    assert rule.action == action


def test_only_this_clinics_queues_and_staff_are_offered(client, administrator, clinic):
    mine = QueueFactory(clinic=clinic, name="Oncology nurse pool")
    theirs = QueueFactory(clinic=ClinicFactory(), name="Someone else's pool")
    stranger = StaffFactory(clinic=theirs.clinic, role=Role.NURSE, first_name="Zed")
    rule = RoutingRuleFactory(clinic=clinic, action={"queue": mine.pk})
    client.force_login(administrator)

    form = client.get(f"{RULES}{rule.pk}/change/").context["adminform"].form

    queues = dict(form.fields["then_queue"].choices)
    assert str(mine.pk) in queues
    assert str(theirs.pk) not in queues
    staff = dict(form.fields["then_assign_to"].choices)
    assert str(stranger.pk) not in staff
    assert str(administrator.pk) in staff


def test_problems_are_said_beside_the_field_in_plain_words(
    client, administrator, clinic, oncology_pool
):
    theirs = QueueFactory(clinic=ClinicFactory(name="Other clinic"), name="Their pool")
    administrator.memberships.create(clinic=theirs.clinic, role=Role.ADMIN)
    client.force_login(administrator)

    response = client.post(
        f"{RULES}add/",
        chest_pain_form(clinic, theirs, if_time_from="17:00", if_confidence_value="2"),
    )

    errors = response.context["adminform"].form.errors
    assert "“Their pool” is a queue of Other clinic, not of Oncology - Pasadena" in str(
        errors["then_queue"]
    )
    assert errors["if_time_to"] == ["Give both times, or neither."]
    assert errors["if_confidence_label"] == ["Choose what the classifier is unsure about."]
    assert not RoutingRule.objects.exists()

    nothing = client.post(
        f"{RULES}add/", chest_pain_form(clinic, oncology_pool, then_queue="", then_raise_acuity="")
    )
    assert "Choose at least one action" in str(
        nothing.context["adminform"].form.errors["then_queue"]
    )


def test_a_change_form_edit_opens_on_the_test_page_unsaved(
    client, administrator, clinic, oncology_pool
):
    rule = RoutingRuleFactory(
        clinic=clinic,
        name="Ports",
        conditions={"keyword": ["port"]},
        action={"queue": oncology_pool.pk},
    )
    client.force_login(administrator)
    assert "Test or replay this edit before saving" in client.get(f"{RULES}{rule.pk}/change/").text

    edited = {"clinic": clinic.pk, "name": "Ports", "order": 1, "enabled": "on"}
    edited |= builder_post({"keyword": ["port", "picc"]}, {"queue": oncology_pool.pk})
    response = client.post(f"{RULES}{rule.pk}/try/", edited | {"do": "open", "_save": "Save"})

    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors == {}
    assert form["if_keyword"].value() == "port, picc"
    rule.refresh_from_db()
    assert rule.conditions == {"keyword": ["port"]}


def test_a_typed_message_is_tested_against_the_rule_as_built(
    client, administrator, clinic, oncology_pool
):
    client.force_login(administrator)
    form = chest_pain_form(clinic, oncology_pool) | {
        "body": "Crushing chest pain, I had chemo yesterday",
        "on_chemotherapy": "on",
        "language": "en",
        "days": 30,
        "do": "test",
    }

    response = client.post(f"{RULES}try/", form)

    preview = response.context["preview"]
    assert preview is not None, response.context["form"].errors
    assert preview.rule_decides
    assert preview.after_queue == "Oncology nurse pool"
    assert preview.after.acuity == "emergent"
    assert not RoutingRule.objects.exists()


def test_back_from_a_replay_the_test_page_holds_the_replayed_edit(
    client, administrator, clinic, oncology_pool
):
    rule = RoutingRuleFactory(
        clinic=clinic, name="Ports", conditions={"keyword": ["port"]}, action={"queue": 1}
    )
    replayed = RuleReplay.objects.create(
        clinic=clinic,
        requested_by=administrator,
        rule=rule,
        proposed_rule={
            "name": "Ports and lines",
            "order": 3,
            "enabled": True,
            "conditions": {"keyword": ["port", "picc"]},
            "action": {"queue": oncology_pool.pk, "raise_acuity": "urgent"},
        },
        days=30,
        since=timezone.now(),
    )
    client.force_login(administrator)

    report = client.get(f"/admin/routing/rulereplay/{replayed.pk}/change/").text
    assert "When words “port” or “picc”: to Oncology nurse pool, raise acuity to urgent." in report
    assert f"{RULES}{rule.pk}/try/?replay={replayed.pk}" in report

    form = client.get(f"{RULES}{rule.pk}/try/?replay={replayed.pk}").context["form"]
    assert form["name"].value() == "Ports and lines"
    assert form["if_keyword"].value() == "port, picc"
    assert form["then_raise_acuity"].value() == "urgent"
    # Another rule's replay is not taken.
    other = client.get(f"{RULES}try/?replay={replayed.pk}").context["form"]
    assert other["if_keyword"].value() in (None, "")


def test_the_test_page_names_the_person_assigned_and_notified(
    client, administrator, clinic, oncology_pool
):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, first_name="Ana", last_name="Ruiz")
    client.force_login(administrator)
    form = chest_pain_form(clinic, oncology_pool) | {
        "then_assign_to": str(nurse.pk),
        "then_notify": [str(nurse.pk)],
        "body": "Chest pain since chemo",
        "on_chemotherapy": "on",
        "language": "en",
        "days": 30,
        "do": "test",
    }

    response = client.post(f"{RULES}try/", form)

    preview = response.context["preview"]
    assert (preview.after_assignee, preview.after_notified) == ("Ana Ruiz", "Ana Ruiz")
    assert (preview.before_assignee, preview.before_notified) == ("—", "—")
