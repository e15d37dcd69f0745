"""The work item page: "Acuity was wrong" and "Not an e-visit", and a colleague's
"Confirm" of a pending correction (never the author's own)."""

import pytest
from django.contrib.messages import get_messages

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.factories import routed_item
from triage.models import Classification, LabelCorrection

pytestmark = pytest.mark.django_db

Review = LabelCorrection.ReviewStatus


@pytest.fixture
def clinic():
    return ClinicFactory()


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


@pytest.fixture
def physician(clinic):
    return StaffFactory(clinic=clinic, role=Role.PHYSICIAN)


def act(client, user, item, action, data):
    client.force_login(user)
    return client.post(f"/work/items/{item.pk}/{action}", data)


def notices(response) -> list[str]:
    return [m.message for m in get_messages(response.wsgi_request)]


def test_acuity_was_wrong_from_the_page_raises_the_item(client, nurse):
    item = routed_item(nurse.memberships.get().clinic, acuity="routine")
    nurse.after_action = "stay"
    nurse.save()

    response = act(
        client, nurse, item, "correct", {"label": "acuity", "to": "urgent", "reason": "worse"}
    )

    assert response.status_code == 302
    assert "Correction recorded" in notices(response)[0]
    item.refresh_from_db()
    assert item.acuity == "urgent"
    page = client.get(f"/work/items/{item.pk}/").content.decode()
    assert "routine → urgent" in page
    assert "data-confirm-correction" not in page  # the author does not confirm their own


def test_the_page_refuses_an_acuity_correction_without_a_reason(client, nurse):
    item = routed_item(nurse.memberships.get().clinic, acuity="routine")

    response = act(client, nurse, item, "correct", {"label": "acuity", "to": "urgent"})

    assert "Say why the acuity was wrong." in notices(response)
    assert not LabelCorrection.objects.exists()


def test_not_an_e_visit_is_offered_on_a_candidate_and_recorded(client, nurse):
    item = routed_item(nurse.memberships.get().clinic, acuity="routine")
    client.force_login(nurse)
    assert "data-correct-evisit" not in client.get(f"/work/items/{item.pk}/").content.decode()
    Classification.objects.filter(message=item.message).update(evisit_candidate=True)
    assert "data-correct-evisit" in client.get(f"/work/items/{item.pk}/").content.decode()

    act(client, nurse, item, "correct", {"label": "evisit", "to": "false"})

    correction = LabelCorrection.objects.get()
    assert (correction.label, correction.to_value, correction.corrected_by) == (
        "evisit_candidate",
        "false",
        nurse,
    )


def test_a_colleague_confirms_from_the_page_the_author_is_refused(client, nurse, physician):
    item = routed_item(nurse.memberships.get().clinic, acuity="urgent")
    act(client, nurse, item, "correct", {"label": "acuity", "to": "routine", "reason": "old"})
    correction = LabelCorrection.objects.get()

    refused = act(client, nurse, item, "confirm-correction", {"correction": correction.pk})
    client.force_login(physician)
    page = client.get(f"/work/items/{item.pk}/").content.decode()
    confirmed = act(client, physician, item, "confirm-correction", {"correction": correction.pk})

    assert refused.status_code == 403
    assert "data-confirm-correction" in page
    assert confirmed.status_code == 302
    correction.refresh_from_db()
    assert (correction.review_status, correction.reviewed_by) == (Review.CONFIRMED, physician)


def test_a_correction_of_another_conversation_is_not_confirmed_through_this_item(
    client, nurse, physician
):
    clinic = nurse.memberships.get().clinic
    item, elsewhere = routed_item(clinic), routed_item(clinic)
    act(client, nurse, elsewhere, "correct", {"label": "acuity", "to": "urgent", "reason": "x"})
    correction = LabelCorrection.objects.get()

    response = act(client, physician, item, "confirm-correction", {"correction": correction.pk})

    assert response.status_code == 404
    assert LabelCorrection.objects.get().review_status == Review.PROPOSED


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_billing_and_administrators_are_refused_on_the_page(client, clinic, role):
    item = routed_item(clinic, acuity="routine")
    user = StaffFactory(clinic=clinic, role=role)

    response = act(
        client, user, item, "correct", {"label": "acuity", "to": "urgent", "reason": "x"}
    )

    assert response.status_code == 403
    assert not LabelCorrection.objects.exists()
