"""The order a clinic's rules are tried in, changed on the admin's "Order rules" page by
moving one rule up or down (buttons, no dragging)."""

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Group

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Role
from routing import rule_order
from routing.models import RoutingRule
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory

pytestmark = pytest.mark.django_db

ORDER = "/admin/routing/routingrule/order/"


@pytest.fixture
def clinic():
    return ClinicFactory(name="Oncology - Pasadena")


@pytest.fixture
def three_rules(clinic):
    pool = QueueFactory(clinic=clinic, name="Oncology nurse pool")
    return [
        RoutingRuleFactory(
            clinic=clinic,
            name=name,
            order=order,
            conditions={"keyword": [name.lower()]},
            action={"queue": pool.pk},
        )
        for name, order in (("Port", 1), ("Fever", 5), ("Refill", 5))
    ]


@pytest.fixture
def administrator(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


def names(clinic) -> list[str]:
    return [r.name for r in rule_order.clinic_rules(clinic=clinic)]


def test_moving_a_rule_swaps_it_with_its_neighbour_and_numbers_the_rest(
    clinic, three_rules, administrator
):
    refill = three_rules[2]

    changed = rule_order.move_rule(actor=administrator, rule=refill, up=True)

    assert names(clinic) == ["Port", "Refill", "Fever"]
    assert [r.order for r in rule_order.clinic_rules(clinic=clinic)] == [10, 20, 30]
    assert {r.name for r in changed} == {"Port", "Refill", "Fever"}
    refill.refresh_from_db()
    assert refill.updated_by == administrator


def test_the_first_rule_cannot_move_up_and_nothing_changes(clinic, three_rules, administrator):
    clinic.refresh_from_db()
    version = clinic.configuration_version

    with pytest.raises(rule_order.CannotMove, match="already first"):
        rule_order.move_rule(actor=administrator, rule=three_rules[0], up=True)

    assert [r.order for r in rule_order.clinic_rules(clinic=clinic)] == [1, 5, 5]
    clinic.refresh_from_db()
    assert clinic.configuration_version == version


def test_a_move_gives_the_clinic_a_new_configuration_version(clinic, three_rules, administrator):
    clinic.refresh_from_db()
    version = clinic.configuration_version

    rule_order.move_rule(actor=administrator, rule=three_rules[0], up=False)

    clinic.refresh_from_db()
    assert clinic.configuration_version != version


def test_each_rule_is_said_in_plain_words(clinic):
    pool = QueueFactory(clinic=clinic, name="Oncology nurse pool")
    rule = RoutingRule(
        clinic=clinic,
        name="Chest pain on chemotherapy",
        order=1,
        conditions={"keyword": ["chest pain"], "patient_flag": "on_chemotherapy"},
        action={"queue": pool.pk, "raise_acuity": "emergent"},
    )

    said = rule_order.describe(rule, queue_names={pool.pk: pool.name}, staff_names={})

    assert said == (
        "When words “chest pain”, patient on chemotherapy: "
        "to Oncology nurse pool, raise acuity to emergent."
    )


def test_the_page_lists_the_rules_in_order_and_moves_one_by_button(
    client, clinic, three_rules, administrator
):
    client.force_login(administrator)
    page = client.get(ORDER)
    assert page.status_code == 200
    text = page.text
    assert text.index("Port") < text.index("Fever") < text.index("Refill")
    assert "When words “port”: to Oncology nurse pool." in text
    assert ORDER in client.get("/admin/routing/routingrule/").text

    fever = three_rules[1]
    response = client.post(ORDER, {"rule": fever.pk, "move": "down"}, follow=True)

    assert names(clinic) == ["Port", "Refill", "Fever"]
    assert "“Fever” moved down." in response.text
    # The keyboard stays on the moved rule: now last, its "Move up" button takes the focus.
    assert response.context["tables"][0][1][2]["focus"] == "up"
    entry = LogEntry.objects.filter(object_id=str(fever.pk)).get()
    assert entry.user == administrator
    assert entry.is_change()


def test_moving_the_last_rule_down_is_refused_with_the_reason(
    client, clinic, three_rules, administrator
):
    client.force_login(administrator)

    response = client.post(ORDER, {"rule": three_rules[2].pk, "move": "down"}, follow=True)

    assert "“Refill” is already last; it cannot move further." in response.text
    assert names(clinic) == ["Port", "Fever", "Refill"]


def test_another_clinics_rules_are_neither_shown_nor_moved(client, three_rules, administrator):
    theirs = RoutingRuleFactory(clinic=ClinicFactory(), name="Theirs", order=1)
    RoutingRuleFactory(clinic=theirs.clinic, name="Theirs too", order=2)
    client.force_login(administrator)

    assert "Theirs" not in client.get(ORDER).text
    response = client.post(ORDER, {"rule": theirs.pk, "move": "down"}, follow=True)

    assert "That rule is not a rule of a clinic you administer." in response.text
    theirs.refresh_from_db()
    assert theirs.order == 1


def test_staff_who_do_not_administer_rules_cannot_open_or_post(client, clinic, three_rules):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, is_staff=False)
    client.force_login(nurse)

    assert client.get(ORDER).status_code == 302  # to the admin's sign-in
    client.post(ORDER, {"rule": three_rules[2].pk, "move": "up"})
    assert names(clinic) == ["Port", "Fever", "Refill"]
