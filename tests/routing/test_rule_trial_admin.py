"""An administrator tests a rule edit before saving it: on a typed message (classified by
the active model, nothing stored) and replayed over the clinic's past messages."""

import datetime
import json

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from inbox.models import Message
from routing import rule_trial
from routing.models import RoutingRule, RuleReplay
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory, routed_item
from tests.routing.test_rule_builder import builder_post

pytestmark = pytest.mark.django_db

RULES = "/admin/routing/routingrule/"


@pytest.fixture
def clinic():
    return ClinicFactory(time_zone="America/Chicago")


@pytest.fixture
def port_pool(clinic):
    return QueueFactory(clinic=clinic, role="nurse", name="Port and line care")


@pytest.fixture
def port_rule(clinic, port_pool):
    return RoutingRuleFactory(
        clinic=clinic,
        name="Ports to the line-care nurses",
        order=1,
        conditions={"keyword": ["port"]},
        action={"queue": port_pool.pk},
    )


@pytest.fixture
def administrator(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def trial_form(rule: RoutingRule, **changes) -> dict:
    """The page's form as posted; `conditions` and `action` (JSON) are typed into the
    rule builder's rows as an administrator would."""
    conditions = json.loads(changes.pop("conditions", json.dumps(rule.conditions)))
    action = json.loads(changes.pop("action", json.dumps(rule.action)))
    form = {
        "clinic": rule.clinic_id,
        "name": rule.name,
        "order": rule.order,
        "enabled": "on",
        **builder_post(conditions, action),
        "subject": "",
        "body": "",
        "category": "",
        "language": "en",
        "received_at": "",
        "days": 30,
    }
    return form | changes


def test_the_page_starts_from_the_saved_rule(client, administrator, port_rule):
    client.force_login(administrator)

    response = client.get(f"{RULES}{port_rule.pk}/try/")

    assert response.status_code == 200
    form = response.context["form"]
    assert form["name"].value() == "Ports to the line-care nurses"
    assert form["if_keyword"].value() == "port"
    assert form["then_queue"].value() == port_rule.action["queue"]
    assert f"{RULES}{port_rule.pk}/try/" in client.get(f"{RULES}{port_rule.pk}/change/").text


def test_a_typed_message_shows_where_the_edit_would_send_it_and_nothing_is_stored(
    client, administrator, port_rule, port_pool, active_model_version
):
    client.force_login(administrator)
    widened = {"keyword": ["port", "picc"]}

    response = client.post(
        f"{RULES}{port_rule.pk}/try/",
        trial_form(
            port_rule,
            conditions=json.dumps(widened),
            subject="dressing",
            body="The dressing on my PICC line came off this morning, what should I do?",
            do="test",
        ),
    )

    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.before.queue_id != port_pool.pk  # as saved, the rule misses "picc"
    assert preview.after.queue_id == port_pool.pk
    assert preview.rule_decides
    assert preview.changes == ("queue",)
    assert "keyword 'picc'" in "; ".join(preview.after_reasons)
    assert preview.classification["acuity"] in ("routine", "urgent", "emergent")
    assert "Port and line care" in response.text
    port_rule.refresh_from_db()
    assert port_rule.conditions == {"keyword": ["port"]}
    assert Message.objects.count() == 0


def test_the_received_time_is_read_in_the_clinics_zone(
    client, administrator, port_rule, port_pool, active_model_version
):
    client.force_login(administrator)
    evenings = {"time_of_day": {"from": "17:00", "to": "08:00"}}

    def sent_at(local_time: str):
        return client.post(
            f"{RULES}{port_rule.pk}/try/",
            trial_form(
                port_rule,
                conditions=json.dumps(evenings),
                body="Question about my appointment",
                received_at=f"2026-11-23 {local_time}",
                do="test",
            ),
        ).context["preview"]

    # 18:30 in Chicago is 00:30 UTC: the rule's evening window is the clinic's.
    assert sent_at("18:30").rule_decides
    assert not sent_at("12:00").rule_decides


def test_without_a_model_the_preview_says_it_goes_to_nurse_triage_as_urgent(
    client, administrator, port_rule
):
    client.force_login(administrator)

    response = client.post(
        f"{RULES}{port_rule.pk}/try/", trial_form(port_rule, body="hello", do="test")
    )

    preview = response.context["preview"]
    assert preview.classification["unclassified"]
    assert (preview.after.acuity, preview.after.role) == ("urgent", "nurse")
    assert "No triage model could classify it" in response.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"then_queue": "999999"}, "then_queue"),
        ({"if_time_from": "17:00"}, "if_time_to"),
        ({"if_confidence_label": "acuity", "if_confidence_value": "1.5"}, "if_confidence_value"),
        ({"then_queue": ""}, "then_queue"),  # no action left
        ({"body": "", "do": "test"}, "body"),
    ],
)
def test_an_invalid_edit_is_explained_not_tested_or_saved(
    client, administrator, port_rule, changes, field
):
    client.force_login(administrator)

    form = trial_form(port_rule, body="my port hurts", do="test") | changes
    response = client.post(f"{RULES}{port_rule.pk}/try/", form)

    assert response.status_code == 200
    assert response.context["preview"] is None
    errors = response.context["form"].errors
    assert errors
    if field:
        assert field in errors
    port_rule.refresh_from_db()
    assert port_rule.conditions == {"keyword": ["port"]}


def test_saving_from_the_test_page_saves_the_edit_and_logs_who(client, administrator, port_rule):
    client.force_login(administrator)
    created_at = port_rule.created_at

    response = client.post(
        f"{RULES}{port_rule.pk}/try/",
        trial_form(port_rule, conditions=json.dumps({"keyword": ["port", "picc"]}), do="save"),
    )

    assert response.status_code == 302
    port_rule.refresh_from_db()
    assert port_rule.conditions == {"keyword": ["port", "picc"]}
    assert port_rule.updated_by == administrator
    assert port_rule.created_at == created_at
    entry = LogEntry.objects.get(object_id=str(port_rule.pk))
    assert entry.user == administrator
    assert entry.is_change()


def test_a_new_rule_can_be_tested_and_saved(client, administrator, clinic, port_pool):
    client.force_login(administrator)
    form = {
        "clinic": clinic.pk,
        "name": "Chemo patients to line care",
        "order": 3,
        "enabled": "on",
        **builder_post({"patient_flag": "on_chemotherapy"}, {"queue": port_pool.pk}),
        "language": "en",
        "days": 30,
        "do": "save",
    }

    assert client.get(f"{RULES}try/").status_code == 200
    assert client.post(f"{RULES}try/", form).status_code == 302

    saved = RoutingRule.objects.get(name="Chemo patients to line care")
    assert (saved.clinic, saved.updated_by, saved.order) == (clinic, administrator, 3)
    assert LogEntry.objects.get(object_id=str(saved.pk)).is_addition()


def test_another_clinics_rule_is_not_found_and_their_clinic_not_offered(
    client, administrator, port_rule
):
    other = ClinicFactory()
    theirs = RoutingRuleFactory(clinic=other, action={"auto_reply": "emergency"})
    client.force_login(administrator)

    assert client.get(f"{RULES}{theirs.pk}/try/").status_code == 404
    response = client.post(
        f"{RULES}try/", trial_form(theirs, name="Sneaky", clinic=other.pk, do="save")
    )
    assert "clinic" in response.context["form"].errors
    assert not RoutingRule.objects.filter(name="Sneaky").exists()


def test_staff_who_do_not_administer_rules_cannot_open_the_page(client, clinic, port_rule):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=False)
    client.force_login(nurse)

    response = client.get(f"{RULES}{port_rule.pk}/try/")

    assert response.status_code == 302
    assert "/admin/login/" in response.url


def test_a_replay_reports_which_past_messages_would_move(
    client, administrator, clinic, port_rule, port_pool, django_capture_on_commit_callbacks
):
    port = routed_item(clinic, body="My port is sore")
    picc = routed_item(clinic, body="The PICC dressing is loose")
    routed_item(clinic, body="Can I move my appointment?")
    old = routed_item(clinic, body="Old PICC question")
    Message.objects.filter(pk=old.message_id).update(
        created_at=timezone.now() - datetime.timedelta(days=40)
    )
    assert port.queue == port_pool
    assert picc.queue != port_pool
    client.force_login(administrator)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"{RULES}{port_rule.pk}/try/",
            trial_form(
                port_rule, conditions=json.dumps({"keyword": ["port", "picc"]}), do="replay"
            ),
        )

    replay = RuleReplay.objects.get()
    assert response.status_code == 302
    assert response.url == f"/admin/routing/rulereplay/{replay.pk}/change/"
    assert replay.status == RuleReplay.Status.DONE
    assert (replay.total, replay.processed) == (3, 3)  # the 40-day-old message is out
    report = replay.report
    assert (report["messages"], report["moved"]) == (3, 1)
    assert (report["matched_before"], report["matched_after"]) == (1, 2)
    assert report["queue_moves"] == [
        {"from": picc.queue.name, "to": "Port and line care", "messages": 1}
    ]
    assert [e["work_item_id"] for e in report["examples"]] == [picc.pk]
    port_rule.refresh_from_db()
    assert port_rule.conditions == {"keyword": ["port"]}  # the replay saves nothing

    page = client.get(response.url)
    assert page.status_code == 200
    assert "1 of 3" in page.text
    assert f"/admin/routing/workitem/{picc.pk}/change/" in page.text
    status = client.get(f"/admin/routing/rulereplay/{replay.pk}/status/").json()
    assert status == {
        "status": "done",
        "status_label": "Done",
        "processed": 3,
        "total": 3,
        "finished": True,
    }


def test_another_clinics_replay_is_not_found(client, administrator, port_rule):
    other = ClinicFactory()
    theirs = RuleReplay.objects.create(
        clinic=other,
        proposed_rule={"name": "x", "order": 1, "enabled": True, "conditions": {}, "action": {}},
        days=30,
        since=timezone.now(),
    )
    client.force_login(administrator)

    assert client.get(f"/admin/routing/rulereplay/{theirs.pk}/change/").status_code == 302
    assert client.get(f"/admin/routing/rulereplay/{theirs.pk}/status/").status_code == 404


def replay_request(clinic, rule, **proposed) -> RuleReplay:
    return RuleReplay.objects.create(
        clinic=clinic,
        rule=rule,
        proposed_rule={
            "name": rule.name,
            "order": rule.order,
            "enabled": True,
            "conditions": {"keyword": ["port", "picc"]},
            "action": rule.action,
            **proposed,
        },
        days=30,
        since=timezone.now() - datetime.timedelta(days=30),
    )


def test_a_finished_replay_is_left_alone_when_its_task_runs_again(clinic, port_rule):
    routed_item(clinic, body="PICC question")
    requested = replay_request(clinic, port_rule)
    rule_trial.run_rule_replay(replay_id=requested.pk)
    routed_item(clinic, body="another PICC question")

    again = rule_trial.run_rule_replay(replay_id=requested.pk)

    assert again.status == RuleReplay.Status.DONE
    assert (again.report["messages"], again.report["moved"]) == (1, 1)


def test_a_replay_that_fails_says_so_without_message_text(clinic, port_rule, caplog):
    routed_item(clinic, body="PICC question")
    requested = replay_request(clinic, port_rule, action=None)  # not a rule any more

    failed = rule_trial.run_rule_replay(replay_id=requested.pk)

    assert failed.status == RuleReplay.Status.FAILED
    assert failed.finished_at is not None
    assert "PICC" not in failed.error
    assert "rule replay" in caplog.text
