"""The date of service is the clinic's calendar date, in the list, the CSV and the FHIR file,
and an export that would carry a claim without an NPI or a fee is shown first."""

import csv
import datetime
import io
import json
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Membership, Role
from billing import services
from billing.models import ClaimExport, EVisit, FeeSchedule, PatientVisit
from inbox.models import PatientDataAccess
from routing import services as routing_services
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, PatientFactory
from tests.triage.factories import ClassificationFactory

pytestmark = pytest.mark.django_db

PASADENA = ZoneInfo("America/Los_Angeles")
# 21:42 on 4 December in Pasadena is 05:42 on 5 December in UTC.
EVENING = datetime.datetime(2025, 12, 4, 21, 42, tzinfo=PASADENA)


@pytest.fixture
def clock(monkeypatch):
    """The clock the services read (timezone.now), set to the Pasadena evening."""
    now = {"at": EVENING}
    monkeypatch.setattr(timezone, "now", lambda: now["at"])
    return now


@pytest.fixture
def practice(clock):
    clinic = ClinicFactory(time_zone="America/Los_Angeles")
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    Membership.objects.filter(user=physician).update(credential="MD", npi="1234567893")
    billing = StaffFactory(clinic=clinic, role=Role.BILLING)
    return clinic, physician, billing


def evening_evisit(
    clock, clinic, physician, django_capture_on_commit_callbacks, minutes: int = 12
) -> EVisit:
    """A physician's minutes from 21:30 Pasadena time on 4 December (logged when done)."""
    clock["at"] = datetime.datetime(2025, 12, 4, 21, 30 + minutes, tzinfo=PASADENA)
    patient = PatientFactory(clinic=clinic, evisit_consent_at=EVENING - datetime.timedelta(days=30))
    PatientVisit.objects.create(patient=patient, on=datetime.date(2025, 10, 1))
    message = ClassificationFactory(
        message__conversation=ConversationFactory(patient=patient), service_level="physician"
    ).message
    item = routing_services.route(message_id=message.pk)
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.log_minutes(actor=physician, item_id=item.pk, minutes=minutes)
    assert entry.started_at.astimezone(PASADENA).strftime("%d %b %H:%M") == "04 Dec 21:30"
    evisit = EVisit.objects.get(conversation=item.conversation)
    return evisit


def test_evening_work_in_pasadena_is_billed_on_4_december_in_the_list_csv_and_fhir(
    practice, clock, client, django_capture_on_commit_callbacks
):
    clinic, physician, billing = practice
    first = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    second = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    assert first.window_start.astimezone(datetime.UTC).date() == datetime.date(2025, 12, 5)
    assert first.service_date == datetime.date(2025, 12, 4)

    client.force_login(billing)
    listed = client.get("/billing/", {"status": "all"}).content.decode()
    assert "<td>2025-12-04</td>" in listed
    assert "2025-12-05" not in listed

    services.approve(actor=billing, ids=[first.pk])
    rows = list(
        csv.DictReader(
            io.StringIO(services.export_approved(actor=billing, export_format="csv").content)
        )
    )
    assert [(r["date_of_service"], r["time_zone"]) for r in rows] == [
        ("2025-12-04", "America/Los_Angeles")
    ]

    services.approve(actor=billing, ids=[second.pk])
    bundle = json.loads(services.export_approved(actor=billing, export_format="fhir").content)
    charge = bundle["entry"][0]["resource"]
    assert charge["occurrenceDateTime"] == "2025-12-04"
    assert any("America/Los_Angeles" in note["text"] for note in charge["note"])


def test_the_list_filters_by_the_local_date(
    practice, clock, client, django_capture_on_commit_callbacks
):
    clinic, physician, billing = practice
    evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    client.force_login(billing)

    on_the_4th = client.get(
        "/billing/", {"status": "all", "from": "2025-12-04", "to": "2025-12-04"}
    )
    from_the_5th = client.get("/billing/", {"status": "all", "from": "2025-12-05"})

    assert "<td>2025-12-04</td>" in on_the_4th.content.decode()
    assert "<td>2025-12-04</td>" not in from_the_5th.content.decode()


def test_an_export_without_npi_or_fee_lists_those_claims_before_the_file_is_made(
    practice, clock, client, django_capture_on_commit_callbacks
):
    clinic, physician, billing = practice
    no_npi = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    Membership.objects.filter(user=physician).update(npi="")
    fine = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks, minutes=25)
    FeeSchedule.objects.filter(code="99423").delete()
    no_fee = evening_evisit(
        clock, clinic, physician, django_capture_on_commit_callbacks, minutes=25
    )
    assert no_fee.amount is None
    services.approve(actor=billing, ids=[no_npi.pk, fine.pk, no_fee.pk])
    client.force_login(billing)

    shown = client.post("/billing/export", {"format": "csv"})

    assert shown.status_code == 200
    assert not ClaimExport.objects.exists()  # nothing made yet
    page = shown.content.decode()
    for evisit in (no_npi, no_fee):
        row = page.split(f'id="export-problem-{evisit.pk}"', 1)[1].split("</tr>", 1)[0]
        assert evisit.conversation.patient.mrn in row
        assert "2025-12-04 (America/Los_Angeles)" in row
    # Since the physician has no NPI now, every claim lacks it; the 99423 ones lack a fee.
    assert "<td>NPI</td>" in page.split(f'id="export-problem-{no_npi.pk}"', 1)[1]
    assert "<td>NPI, fee</td>" in page.split(f'id="export-problem-{no_fee.pk}"', 1)[1]
    assert set(
        PatientDataAccess.objects.filter(
            user=billing, what=PatientDataAccess.What.EVISIT_LIST
        ).values_list("object_id", flat=True)
    ) == {no_npi.pk, fine.pk, no_fee.pk}

    acknowledged = [no_npi.pk, fine.pk, no_fee.pk]
    made = client.post("/billing/export", {"format": "csv", "acknowledged": acknowledged})

    assert made.status_code == 200
    assert made["Content-Disposition"].startswith('attachment; filename="claims-')
    assert ClaimExport.objects.get().claims == 3


def test_a_claim_not_yet_seen_is_listed_again_instead_of_exported(
    practice, clock, client, django_capture_on_commit_callbacks
):
    clinic, physician, billing = practice
    Membership.objects.filter(user=physician).update(npi="")
    seen = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    unseen = evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks)
    services.approve(actor=billing, ids=[seen.pk, unseen.pk])
    client.force_login(billing)

    again = client.post("/billing/export", {"format": "fhir", "acknowledged": [seen.pk]})

    assert f'id="export-problem-{unseen.pk}"' in again.content.decode()
    assert not ClaimExport.objects.exists()


def test_an_export_with_every_npi_and_fee_is_made_at_once(
    practice, clock, client, django_capture_on_commit_callbacks
):
    clinic, physician, billing = practice
    services.approve(
        actor=billing,
        ids=[evening_evisit(clock, clinic, physician, django_capture_on_commit_callbacks).pk],
    )
    client.force_login(billing)

    made = client.post("/billing/export", {"format": "csv"})

    assert made["Content-Type"] == "text/csv"
    assert ClaimExport.objects.get().claims == 1
