"""The search page and the queue page's search box, filters and informative rows,
through Django's test client."""

import pytest

from accounts.models import Role
from inbox.models import PatientDataAccess
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    return ClinicFactory()


def signed_in(client, clinic, role=Role.NURSE):
    user = StaffFactory(clinic=clinic, role=role)
    client.force_login(user)
    return user


def item_of(clinic, name="Lucia Fernandez", mrn="MRN900001", language="es", **kwargs):
    patient = PatientFactory(clinic=clinic, name=name, mrn=mrn, preferred_language=language)
    return routed_item(clinic, conversation=ConversationFactory(patient=patient), **kwargs)


def test_search_by_mrn_shows_the_conversation_and_logs_the_patient(client, clinic):
    nurse = signed_in(client, clinic)
    item = item_of(clinic, subject="Port site redness", body="My port looks red today")
    page = client.get("/work/search", {"q": "MRN900001"}).content.decode()
    assert "1 result for “MRN900001”" in page
    assert f'href="/work/items/{item.pk}/"' in page
    assert "Lucia Fernandez" in page
    assert "Port site redness" in page
    assert "My port looks red today" in page  # the preview, for a role that reads text
    access = PatientDataAccess.objects.get(user=nurse)
    assert (access.what, access.object_id) == ("search_results", item.pk)


def test_filters_are_in_the_url_and_shown_as_chosen(client, clinic):
    signed_in(client, clinic)
    urgent = item_of(clinic, acuity="urgent", subject="Fever on chemo")
    item_of(clinic, name="Other", mrn="MRN2", acuity="routine", subject="Parking")
    page = client.get("/work/search?acuity=urgent&language=es&due=").content.decode()
    assert "Fever on chemo" in page
    assert "Parking" not in page
    assert '<option value="urgent" selected>' in page
    assert f'href="/work/items/{urgent.pk}/"' in page


def test_an_empty_search_shows_the_form_and_logs_nothing(client, clinic):
    signed_in(client, clinic)
    item_of(clinic)
    page = client.get("/work/search").content.decode()
    assert "Type a search or choose a filter." in page
    assert not PatientDataAccess.objects.exists()


def test_a_value_not_understood_is_named(client, clinic):
    signed_in(client, clinic)
    page = client.get("/work/search?acuity=whenever").content.decode()
    assert "Not understood and left out: acuity=whenever." in page


@pytest.mark.parametrize("role", [Role.BILLING, Role.ADMIN])
def test_billing_and_administrators_are_refused_with_the_reason(client, clinic, role):
    signed_in(client, clinic, role=role)
    item_of(clinic)
    response = client.get("/work/search", {"q": "MRN900001"})
    assert response.status_code == 403
    assert "Lucia" not in response.content.decode()
    assert not PatientDataAccess.objects.exists()


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get("/work/search?q=x")
    assert response.status_code == 302
    assert "/login/" in response.url


def test_queue_rows_show_preview_age_and_language_and_the_search_box(client, clinic):
    signed_in(client, clinic)
    item_of(clinic, subject="Dolor", body="Tengo dolor en el brazo desde ayer " + "x" * 300)
    page = client.get("/work/").content.decode()
    assert 'role="search"' in page
    assert 'id="work-search-q"' in page
    assert "Tengo dolor en el brazo desde ayer" in page
    assert "x" * 200 not in page  # one line: truncated
    assert "received 0\xa0minutes ago" in page
    assert "language es" in page
