"""The claims export's FHIR file: a Bundle of ChargeItems that fhir.resources accepts (R4B
models: config/fhir.py says why), with real UUIDs and no empty-string NPI."""

import datetime
import json
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone
from fhir.resources.R4B.bundle import Bundle

from accounts.models import Membership, Role
from billing import services
from billing.fhir import charge_item_bundle
from billing.models import EVisit
from config.fhir import FhirInvalid, validate_resource
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory

NPI = "1234567893"


def _approved(clinic, patient, clinician) -> EVisit:
    return EVisit.objects.create(
        clinic=clinic,
        conversation=ConversationFactory(patient=patient),
        status=EVisit.Status.APPROVED,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        rendering_clinician=clinician,
        window_start=timezone.now() - datetime.timedelta(days=2),
    )


@pytest.fixture
def approved_claims(db):
    clinic = ClinicFactory(name="Pasadena Family Medicine")
    with_npi = StaffFactory(clinic=clinic, role=Role.PHYSICIAN, first_name="Ada", last_name="Ng")
    Membership.objects.filter(user=with_npi).update(credential="MD", npi=NPI)
    without_npi = StaffFactory(clinic=clinic, role=Role.PHYSICIAN, first_name="Bo", last_name="Li")
    Membership.objects.filter(user=without_npi).update(credential="MD", npi="")
    patient = PatientFactory(clinic=clinic, name="Ana Ruiz", mrn="A1234")
    evisits = [_approved(clinic, patient, with_npi), _approved(clinic, patient, without_npi)]
    return StaffFactory(clinic=clinic, role=Role.BILLING), evisits


@pytest.mark.django_db
def test_the_fhir_export_validates_with_real_uuids_and_no_empty_npi(approved_claims):
    billing, (with_npi, without_npi) = approved_claims

    export = services.export_approved(actor=billing, export_format="fhir")

    bundle = json.loads(export.content)
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    charges = {}
    for entry in bundle["entry"]:
        scheme, _, value = entry["fullUrl"].rpartition(":")
        assert scheme == "urn:uuid"
        assert str(uuid.UUID(value)) == value  # a real UUID, in its canonical form
        assert entry["resource"]["id"] == value
        (evisit_id,) = entry["resource"]["identifier"]
        charges[int(evisit_id["value"])] = entry["resource"]
    assert len({e["fullUrl"] for e in bundle["entry"]}) == 2
    assert charges[with_npi.pk]["performer"][0]["actor"]["identifier"] == {
        "system": "http://hl7.org/fhir/sid/us-npi",
        "value": NPI,
    }
    # No NPI: the performer is named, with no identifier at all (never an empty value).
    assert charges[without_npi.pk]["performer"][0]["actor"] == {"display": "Bo Li"}
    assert '""' not in export.content


def _row(**changes) -> dict:
    row = {
        "evisit_id": 16,
        "mrn": "A1234",
        "patient": "Ana Ruiz",
        "date_of_service": "2026-12-04",
        "code": "99422",
        "minutes": 12,
        "rendering_provider": "Ada Ng",
        "rendering_provider_npi": NPI,
        "clinic": "Pasadena Family Medicine",
        "amount": "31.00",
    }
    row.update(changes)
    return row


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"rendering_provider_npi": ""},
        {"rendering_provider_npi": "", "rendering_provider": ""},
        {"patient": "", "amount": "", "date_of_service": "", "clinic": ""},
    ],
    ids=["complete", "no npi", "no clinician", "blanks"],
)
def test_every_bundle_the_mapping_makes_is_valid(changes):
    bundle = charge_item_bundle([_row(**changes)], export_id=5, timestamp="2026-12-05T04:00:00Z")

    validate_resource(bundle, expected_type="Bundle")
    assert "" not in json.dumps(bundle).split('"')[1::2]  # no empty string anywhere


def test_the_old_shape_is_refused_by_the_validator():
    """What the export wrote before issue 22: an empty NPI fails validation (so the test
    above would catch its return)."""
    bundle = charge_item_bundle([_row()], export_id=5, timestamp="2026-12-05T04:00:00Z")
    bundle["entry"][0]["resource"]["performer"][0]["actor"]["identifier"]["value"] = ""

    with pytest.raises(FhirInvalid):
        validate_resource(bundle, expected_type="Bundle")
