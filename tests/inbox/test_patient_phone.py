"""The patient's phone number comes with the message (patient.phone) for a call back on
urgent and emergent items: stored, updated by a later message, refused when implausible."""

import pytest

from inbox.models import Conversation, Message, Patient
from tests.accounts.factories import ClinicFactory, IntegrationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/messages"


def payload(clinic, external_id="portal-2001", **patient):
    return {
        "external_id": external_id,
        "clinic": clinic.slug,
        "patient": {"mrn": "A-1", "name": "Ana Diaz", **patient},
        "body": "My fever is 39.5 since this morning and I am on chemo.",
    }


@pytest.fixture
def clinic():
    return ClinicFactory(slug="onc")


@pytest.fixture
def api(client_for, clinic):
    return client_for(IntegrationFactory(clinic=clinic).account)


@pytest.mark.parametrize(
    "phone", ["+1 (415) 555-0100", "415-555-0100", "0044 20 7946 0958", "9" * 40]
)
def test_a_phone_number_is_accepted_and_stored_as_sent(api, clinic, phone):
    response = api.post(URL, payload(clinic, phone=phone), format="json")

    assert response.status_code == 201, response.content
    assert Patient.objects.get(clinic=clinic, mrn="A-1").phone == phone


def test_a_later_message_updates_the_phone_and_one_without_it_keeps_it(api, clinic):
    assert api.post(URL, payload(clinic, phone="415 555 0100"), format="json").status_code == 201

    changed = api.post(URL, payload(clinic, "portal-2002", phone="415 555 0199"), format="json")
    assert changed.status_code == 201
    assert Patient.objects.get(mrn="A-1").phone == "415 555 0199"

    # The portal sends what it knows; a message without the phone (or a blank one) clears nothing.
    assert api.post(URL, payload(clinic, "portal-2003"), format="json").status_code == 201
    assert api.post(URL, payload(clinic, "portal-2004", phone=""), format="json").status_code == 201
    assert Patient.objects.get(mrn="A-1").phone == "415 555 0199"


@pytest.mark.parametrize(
    "phone",
    [
        "call me at 415 555 0100",  # letters
        "415.555.0100",  # dots are not in the accepted set
        "+1 415 555 0100 ext 12",
        "<script>",
        "+()-",  # no digits at all
        "12",  # too few digits to call
        "9" * 41,  # over 40 characters
    ],
)
def test_an_implausible_phone_is_400_naming_the_field_and_nothing_is_stored(api, clinic, phone):
    response = api.post(URL, payload(clinic, phone=phone), format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == ["patient"]
    [error] = body["errors"]["patient"]["phone"]
    assert error == "Enter a phone number: digits, spaces, + - ( ) only, up to 40 characters."
    assert not Message.objects.exists()
    assert not Patient.objects.exists()
    assert not Conversation.objects.exists()


def test_an_implausible_phone_on_a_later_message_keeps_the_stored_one(api, clinic):
    api.post(URL, payload(clinic, phone="415 555 0100"), format="json")

    response = api.post(URL, payload(clinic, "portal-2002", phone="not a number"), format="json")

    assert response.status_code == 400
    assert Patient.objects.get(mrn="A-1").phone == "415 555 0100"
    assert Message.objects.count() == 1
