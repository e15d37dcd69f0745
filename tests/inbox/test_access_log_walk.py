"""The access log seen from outside: a walk over every URL that shows patient data, as
someone allowed to see it, checking that each request wrote exactly one row per patient
it showed, with the right `what` and object, and nothing for anyone it did not show.

The walk is also the list of such URLs: test_every_url_that_can_show_a_patient_is_walked
fails when a URL pattern that could show patient data is neither walked here nor listed
in SHOWS_NO_PATIENT (with the reason). A new page must join the walk, and so be logged
(its selector is told what it shows), or say why it names nobody; the pages of that list
are fetched with patients on file to check that they indeed name none."""

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.urls import URLResolver, get_resolver, resolve
from django.utils import timezone

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Membership, Role
from billing import services as billing_services
from billing.models import ClaimExport, EVisit, PatientVisit, TimeEntry
from inbox import services as inbox_services
from inbox.admin import PatientDataAccessLogged
from inbox.audit import record_patient_data_access
from inbox.models import (
    Conversation,
    Message,
    OutgoingMessage,
    Patient,
    PatientChange,
    PatientDataAccess,
)
from routing.models import WorkEvent, WorkItem
from routing.selectors import make_cursor
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory, UserFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from triage.models import LabelCorrection

pytestmark = pytest.mark.django_db

What = PatientDataAccess.What
ACUITY = {0: "emergent", 1: "urgent", 2: "routine"}


# --- the clinic's day: three patients, Alice with several items in every list ------------


def _item(queue, patient, *, rank: int, due_in: int, claimed_by=None) -> WorkItem:
    """A work item on a new conversation of `patient` (one open item per conversation),
    whose subject carries the patient's surname, so a page that shows only subjects (the
    queue API) can be checked for whom it shows too."""
    message = MessageFactory(
        conversation=ConversationFactory(patient=patient),
        subject=f"Question from {patient.name.split()[-1]}",
    )
    return WorkItem.objects.create(
        clinic=queue.clinic,
        conversation=message.conversation,
        message=message,
        queue=queue,
        acuity=ACUITY[rank],
        acuity_rank=rank,
        service_level=queue.role,
        status=WorkItem.Status.CLAIMED if claimed_by else WorkItem.Status.OPEN,
        claimed_by=claimed_by,
        claimed_at=timezone.now() if claimed_by else None,
        due_at=timezone.now() + datetime.timedelta(minutes=due_in),
    )


def _evisit(clinic, patient, *, status: str, days_ago: int) -> EVisit:
    # Rendered by a physician with an NPI: a claim without one is first listed for a check
    # (billing export warning), and this walk's export step makes the file at once.
    npi = Membership.objects.filter(clinic=clinic).exclude(npi="").first()
    if npi is None:
        physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
        Membership.objects.filter(user=physician, clinic=clinic).update(npi="1234567893")
        npi = Membership.objects.get(user=physician, clinic=clinic)
    return EVisit.objects.create(
        clinic=clinic,
        rendering_clinician=npi.user,
        conversation=ConversationFactory(patient=patient),  # one e-visit per conversation
        status=status,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        window_start=timezone.now() - datetime.timedelta(days=days_ago),
    )


def _clinic_administrator(clinic):
    user = StaffFactory(clinic=clinic, role=Role.ADMIN, is_staff=True)
    user.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    return user


@pytest.fixture
def day() -> SimpleNamespace:
    """One clinic's patients and staff. Every list below shows Alice more than once (so
    one row per patient is checked) and at least one other patient; Carol is left out of
    some lists, so a list is also checked not to log whom it does not show. The order of
    each list is set by acuity, due time or date, so whose item comes first is known."""
    d = SimpleNamespace()
    d.clinic = ClinicFactory(name="Walk Clinic")
    queues = ensure_default_queues(clinic=d.clinic)
    d.nurse_pool, d.clerical_pool = queues[Role.NURSE], queues[Role.CLERICAL]
    d.nurse = StaffFactory(clinic=d.clinic, role=Role.NURSE)
    d.clerk = StaffFactory(clinic=d.clinic, role=Role.CLERICAL)  # bulk actions
    d.billing = StaffFactory(clinic=d.clinic, role=Role.BILLING)
    d.portal = IntegrationFactory(clinic=d.clinic).account
    d.administrator = _clinic_administrator(d.clinic)
    d.alice = PatientFactory(clinic=d.clinic, name="Alice Quarrington", mrn="MRN-A-7731")
    d.bob = PatientFactory(clinic=d.clinic, name="Bob Vantongeren", mrn="MRN-B-4402")
    d.carol = PatientFactory(clinic=d.clinic, name="Carol Wexcombe", mrn="MRN-C-9158")

    # Nurse pool, open (page order a1, b1, a2); the clerical pool (c1, a3, a4); the
    # nurse's own claimed items, in the nurse pool (b2, a5, b3).
    d.a1 = _item(d.nurse_pool, d.alice, rank=1, due_in=10)
    d.b1 = _item(d.nurse_pool, d.bob, rank=1, due_in=20)
    d.a2 = _item(d.nurse_pool, d.alice, rank=2, due_in=6)
    d.c1 = _item(d.clerical_pool, d.carol, rank=1, due_in=5)
    d.a3 = _item(d.clerical_pool, d.alice, rank=2, due_in=7)
    d.a4 = _item(d.clerical_pool, d.alice, rank=2, due_in=12)
    d.b2 = _item(d.nurse_pool, d.bob, rank=1, due_in=3, claimed_by=d.nurse)
    d.a5 = _item(d.nurse_pool, d.alice, rank=2, due_in=1, claimed_by=d.nurse)
    d.b3 = _item(d.nurse_pool, d.bob, rank=2, due_in=30, claimed_by=d.nurse)

    # The outbox, oldest first: ra1, rb1, ra2.
    d.ra1, d.rb1, d.ra2 = (
        inbox_services.send_reply(
            in_reply_to=item.message, body="Take it with food.", author=d.nurse
        )
        for item in (d.a1, d.b1, d.a2)
    )

    # E-visits, newest first: to review ea1, eb1, ea2; exported (the file below) xa1, xb1,
    # xa2; approved and waiting for the next export ya1, yc1.
    d.ea1 = _evisit(d.clinic, d.alice, status=EVisit.Status.READY, days_ago=1)
    d.eb1 = _evisit(d.clinic, d.bob, status=EVisit.Status.READY, days_ago=2)
    d.ea2 = _evisit(d.clinic, d.alice, status=EVisit.Status.READY, days_ago=3)
    for patient, days_ago in ((d.alice, 4), (d.bob, 5), (d.alice, 6)):
        _evisit(d.clinic, patient, status=EVisit.Status.APPROVED, days_ago=days_ago)
    d.export = billing_services.export_approved(actor=d.billing, export_format="csv")
    d.ya1 = _evisit(d.clinic, d.alice, status=EVisit.Status.APPROVED, days_ago=7)
    d.yc1 = _evisit(d.clinic, d.carol, status=EVisit.Status.APPROVED, days_ago=8)

    # Visits from the EHR, newest first in the admin: va2, vb, va1.
    d.va1 = PatientVisit.objects.create(patient=d.alice, on=datetime.date(2026, 1, 5))
    d.vb = PatientVisit.objects.create(patient=d.bob, on=datetime.date(2026, 1, 6))
    d.va2 = PatientVisit.objects.create(patient=d.alice, on=datetime.date(2026, 1, 7))

    # Earlier accesses, for the access log's own pages, newest first: la2, lb, la1.
    d.la1 = record_patient_data_access(
        user=d.nurse, patient=d.alice, what=What.MESSAGE_THREAD, object_id=d.a1.pk
    )
    d.lb = record_patient_data_access(
        user=d.nurse, patient=d.bob, what=What.MESSAGE_THREAD, object_id=d.b1.pk
    )
    d.la2 = record_patient_data_access(
        user=d.nurse, patient=d.alice, what=What.MESSAGE_THREAD, object_id=d.a2.pk
    )

    # Details a portal sent that differ from the chart, newest first: pa2, pb, pa1.
    d.pa1, d.pb, d.pa2 = (
        PatientChange.objects.create(
            clinic=d.clinic, patient=patient, field="name", new_value="X", applied=False
        )
        for patient in (d.alice, d.bob, d.alice)
    )

    # Rows whose admin pages show no patient (SHOWS_NO_PATIENT), to open them with.
    now = timezone.now()
    TimeEntry.objects.create(
        clinic=d.clinic,
        conversation=d.a1.conversation,
        work_item=d.a1,
        user=d.nurse,
        role=Role.NURSE,
        source=TimeEntry.Source.MANUAL,
        started_at=now - datetime.timedelta(minutes=5),
        ended_at=now,
        seconds=300,
    )
    WorkEvent.objects.create(
        work_item=d.a1, kind=WorkEvent.Kind.ROUTED, message=d.a1.message, to_queue=d.nurse_pool
    )
    LabelCorrection.objects.create(
        message=d.a1.message,
        label="acuity",
        from_value="routine",
        to_value="urgent",
        corrected_by=d.nurse,
        reason="worse since this morning",
    )
    d.superuser = UserFactory(is_staff=True, is_superuser=True)
    return d


def _pended(item: WorkItem, url: str) -> str:
    """`url`, with `item` pended for a day (the state the pending list is walked in)."""
    WorkItem.objects.filter(pk=item.pk).update(
        pended_until=timezone.now() + datetime.timedelta(days=1),
        pended_at=timezone.now(),
        pend_reason="waiting for a result",
    )
    return url


def markers(patient: Patient) -> tuple[str, ...]:
    """What names a patient in a response: the MRN, or the surname (in the name and in
    their messages' subjects)."""
    return (patient.mrn, patient.name.split()[-1])


def named_in(content: str, d) -> set[Patient]:
    return {p for p in (d.alice, d.bob, d.carol) if any(m in content for m in markers(p))}


# --- the walk -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One request of the walk: who makes it, and whom it shows as (patient, object_id),
    which is what the access log must hold for it, one row each."""

    route: str  # the URL pattern, as django.urls.resolve(...).route names it
    who: str  # the person of `day` allowed to see it
    url: Callable[[SimpleNamespace], str]
    what: str
    shown: Callable[[SimpleNamespace], dict[Patient, int]]  # read after the request
    method: str = "get"
    data: dict | Callable[[SimpleNamespace], dict] | None = None  # a callable: read from `day`
    mode: str = ""  # tells apart the walks of one URL pattern (test ids)

    @property
    def is_api(self) -> bool:
        return self.route.startswith(("api/", "fhir/"))

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.route}{f' [{self.mode}]' if self.mode else ''}"


WALK = [
    # Staff screens: the queue page in each mode, "Load more", and one message thread.
    Step(
        "work/",
        "nurse",
        lambda d: "/work/",
        What.QUEUE_LIST,
        lambda d: {d.alice: d.a1.pk, d.bob: d.b1.pk},
        mode="home pool",
    ),
    Step(
        "work/",
        "nurse",
        lambda d: f"/work/?queue={d.clerical_pool.pk}",
        What.QUEUE_LIST,
        lambda d: {d.carol: d.c1.pk, d.alice: d.a3.pk},
        mode="a chosen pool",
    ),
    Step(
        "work/",
        "nurse",
        lambda d: "/work/?queue=mine",
        What.QUEUE_LIST,
        lambda d: {d.bob: d.b2.pk, d.alice: d.a5.pk},
        mode="my work",
    ),
    Step(
        "work/rows",
        "nurse",
        lambda d: f"/work/rows?queue={d.nurse_pool.pk}&after={make_cursor(d.a1)}",
        What.QUEUE_LIST,
        lambda d: {d.bob: d.b1.pk, d.alice: d.a2.pk},  # after a1: Alice's first here is a2
        mode="next page of a pool",
    ),
    Step(
        "work/rows",
        "nurse",
        lambda d: "/work/rows?queue=mine",
        What.QUEUE_LIST,
        lambda d: {d.bob: d.b2.pk, d.alice: d.a5.pk},
        mode="my work",
    ),
    Step(
        "work/rows",
        "nurse",
        # The live refresh of a page drawn before a change (an unchanged one answers 204).
        lambda d: f"/work/rows?queue={d.nurse_pool.pk}&shown=2&version=older",
        What.QUEUE_LIST,
        lambda d: {d.alice: d.a1.pk, d.bob: d.b1.pk},
        mode="live refresh of a pool",
    ),
    # Search (routing.search): newest first, so Alice's first row is her newest item.
    # Typed in lower case: the page repeats what was typed, and the stranger's walk below
    # checks that no MRN or surname *of the clinic's records* reaches them.
    Step(
        "work/search",
        "nurse",
        lambda d: "/work/search?q=mrn-a-7731",
        What.SEARCH_RESULTS,
        lambda d: {d.alice: d.a5.pk},
        mode="by MRN",
    ),
    Step(
        "work/search",
        "nurse",
        lambda d: "/work/search?q=quarrington",
        What.SEARCH_RESULTS,
        lambda d: {d.alice: d.a5.pk},
        mode="by name and words",
    ),
    Step(
        "work/search",
        "nurse",
        # Filters alone: unanswered work in queue order (urgent, held by nobody: c1, a1, b1).
        lambda d: "/work/search?acuity=urgent&assignee=nobody",
        What.SEARCH_RESULTS,
        lambda d: {d.carol: d.c1.pk, d.alice: d.a1.pk, d.bob: d.b1.pk},
        mode="filters",
    ),
    Step(
        "work/items/<int:item_id>/",
        "nurse",
        lambda d: f"/work/items/{d.a1.pk}/",
        What.MESSAGE_THREAD,
        lambda d: {d.alice: d.a1.pk},
    ),
    # The patient context of a1: Alice's other conversations (one row, for the item).
    Step(
        "work/items/<int:item_id>/patient-context/",
        "nurse",
        lambda d: f"/work/items/{d.a1.pk}/patient-context/",
        What.PATIENT_CONTEXT,
        lambda d: {d.alice: d.a1.pk},
    ),
    # The pending list, with Bob's b1 pended (routing.pending).
    Step(
        "work/pending",
        "nurse",
        lambda d: _pended(d.b1, "/work/pending"),
        What.PENDING_LIST,
        lambda d: {d.bob: d.b1.pk},
    ),
    # A bulk claim's summary names the patient of each item (Carol's urgent c1 refused to
    # a clerk, Alice's a3 and a4 claimed): as a queue page does.
    Step(
        "work/bulk",
        "clerk",
        lambda d: "/work/bulk",
        What.QUEUE_LIST,
        lambda d: {d.carol: d.c1.pk, d.alice: d.a3.pk},
        method="post",
        data=lambda d: {"action": "claim", "items": [d.c1.pk, d.a3.pk, d.a4.pk]},
    ),
    # Billing screens: the list (to review), a record, a new claims file, a file again.
    Step(
        "billing/",
        "billing",
        lambda d: "/billing/",
        What.EVISIT_LIST,
        lambda d: {d.alice: d.ea1.pk, d.bob: d.eb1.pk},
    ),
    Step(
        "billing/evisits/<int:evisit_id>/",
        "billing",
        lambda d: f"/billing/evisits/{d.ea1.pk}/",
        What.EVISIT_RECORD,
        lambda d: {d.alice: d.ea1.pk},
    ),
    Step(
        "billing/export",
        "billing",
        lambda d: "/billing/export",
        What.CLAIMS_EXPORT,
        # The file made by this request (Alice's ya1, Carol's yc1), named by the export.
        lambda d: dict.fromkeys((d.alice, d.carol), ClaimExport.objects.latest("pk").pk),
        method="post",
        data={"format": "csv"},
    ),
    Step(
        "billing/exports/<int:export_id>",
        "billing",
        lambda d: f"/billing/exports/{d.export.pk}",
        What.CLAIMS_EXPORT,
        lambda d: dict.fromkeys((d.alice, d.bob), d.export.pk),  # Alice twice in the file
    ),
    # The API.
    Step(
        "api/v1/work-items",
        "nurse",
        lambda d: "/api/v1/work-items",
        What.QUEUE_LIST_API,
        # Every pool of the clinic, open and claimed: b2, c1, a1, b1, a5, a2, a3, a4, b3.
        lambda d: {d.bob: d.b2.pk, d.carol: d.c1.pk, d.alice: d.a1.pk},
        mode="every pool",
    ),
    Step(
        "api/v1/work-items",
        "nurse",
        lambda d: f"/api/v1/work-items?queue={d.nurse_pool.pk}&page_size=3",
        What.QUEUE_LIST_API,
        lambda d: {d.bob: d.b2.pk, d.alice: d.a1.pk},  # the page: b2, a1, b1
        mode="one pool, one page",
    ),
    Step(
        "api/v1/work-items/<int:item_id>",
        "nurse",
        lambda d: f"/api/v1/work-items/{d.a1.pk}",
        What.WORK_ITEM_API,
        lambda d: {d.alice: d.a1.pk},
    ),
    Step(
        "api/v1/messages/<int:message_id>",
        "nurse",
        lambda d: f"/api/v1/messages/{d.b1.message.pk}",
        What.MESSAGE_API,
        lambda d: {d.bob: d.b1.message.pk},
    ),
    Step(
        "fhir/Communication/<int:message_id>",
        "portal",
        lambda d: f"/fhir/Communication/{d.b1.message.pk}",
        What.MESSAGE_API,
        lambda d: {d.bob: d.b1.message.pk},
        mode="as its clinic's EHR",
    ),
    Step(
        "api/v1/messages",
        "portal",
        lambda d: f"/api/v1/messages?conversation_id={d.a1.conversation.external_id}",
        What.MESSAGE_LIST_API,
        lambda d: {d.alice: d.a1.message.pk},
        mode="a conversation, as its clinic's portal",
    ),
    Step(
        "api/v1/billing/evisits/<int:evisit_id>",
        "billing",
        lambda d: f"/api/v1/billing/evisits/{d.eb1.pk}",
        What.EVISIT_RECORD_API,
        lambda d: {d.bob: d.eb1.pk},
    ),
    Step(
        "api/v1/billing/evisits",
        "billing",
        lambda d: "/api/v1/billing/evisits",
        What.EVISIT_LIST_API,
        lambda d: {d.alice: d.ea1.pk, d.bob: d.eb1.pk, d.carol: d.yc1.pk},  # every status
    ),
    Step(
        "api/v1/outgoing-messages",
        "portal",
        lambda d: f"/api/v1/outgoing-messages?clinic={d.clinic.slug}",
        What.PORTAL_REPLIES,
        lambda d: {d.alice: d.ra1.pk, d.bob: d.rb1.pk},
    ),
    Step(
        "api/v1/outgoing-messages/<int:reply_id>/delivered",
        "portal",
        lambda d: f"/api/v1/outgoing-messages/{d.rb1.pk}/delivered",
        What.PORTAL_REPLIES,
        lambda d: {d.bob: d.rb1.pk},
        method="post",
    ),
    # Admin pages that name patients, as the clinic's administrator.
    Step(
        "admin/inbox/patient/",
        "administrator",
        lambda d: "/admin/inbox/patient/",
        What.ADMIN_PATIENT_LIST,
        lambda d: {p: p.pk for p in (d.alice, d.bob, d.carol)},
    ),
    Step(
        "admin/inbox/patient/<path:object_id>/history/",
        "administrator",
        lambda d: f"/admin/inbox/patient/{d.alice.pk}/history/",
        What.ADMIN_PATIENT,
        lambda d: {d.alice: d.alice.pk},
    ),
    Step(
        "admin/billing/patientvisit/add/",
        "administrator",
        lambda d: f"/admin/billing/patientvisit/add/?patient={d.alice.pk}",
        What.ADMIN_PATIENT,
        lambda d: {d.alice: d.alice.pk},
        mode="for a patient from the look-up",
    ),
    Step(
        "admin/inbox/patient/<path:object_id>/change/",
        "administrator",
        lambda d: f"/admin/inbox/patient/{d.alice.pk}/change/",
        What.ADMIN_PATIENT,
        lambda d: {d.alice: d.alice.pk},
    ),
    Step(
        "admin/inbox/patientdataaccess/",
        "administrator",
        lambda d: "/admin/inbox/patientdataaccess/",
        What.ADMIN_ACCESS_LOG_LIST,
        lambda d: {d.alice: d.la2.pk, d.bob: d.lb.pk},
    ),
    Step(
        "admin/inbox/patientdataaccess/<path:object_id>/change/",
        "administrator",
        lambda d: f"/admin/inbox/patientdataaccess/{d.la1.pk}/change/",
        What.ADMIN_ACCESS_LOG_ENTRY,
        lambda d: {d.alice: d.la1.pk},
    ),
    Step(
        "admin/inbox/patientchange/",
        "administrator",
        lambda d: "/admin/inbox/patientchange/",
        What.ADMIN_PATIENT_CHANGES,
        lambda d: {d.alice: d.pa2.pk, d.bob: d.pb.pk},
    ),
    Step(
        "admin/inbox/patientchange/<path:object_id>/change/",
        "administrator",
        lambda d: f"/admin/inbox/patientchange/{d.pb.pk}/change/",
        What.ADMIN_PATIENT_CHANGES,
        lambda d: {d.bob: d.pb.pk},
    ),
    Step(
        "admin/inbox/patientchange/<path:object_id>/history/",
        "administrator",
        lambda d: f"/admin/inbox/patientchange/{d.pa1.pk}/history/",
        What.ADMIN_PATIENT_CHANGES,
        lambda d: {d.alice: d.pa1.pk},
    ),
    Step(
        "admin/billing/patientvisit/",
        "administrator",
        lambda d: "/admin/billing/patientvisit/",
        What.ADMIN_VISIT_LIST,
        lambda d: {d.alice: d.va2.pk, d.bob: d.vb.pk},
    ),
    Step(
        "admin/billing/patientvisit/<path:object_id>/change/",
        "administrator",
        lambda d: f"/admin/billing/patientvisit/{d.vb.pk}/change/",
        What.ADMIN_VISIT,
        lambda d: {d.bob: d.vb.pk},
    ),
    Step(
        "admin/billing/claimexport/<path:object_id>/change/",
        "administrator",
        lambda d: f"/admin/billing/claimexport/{d.export.pk}/change/",
        What.ADMIN_CLAIMS_EXPORT,
        lambda d: dict.fromkeys((d.alice, d.bob), d.export.pk),
    ),
]


def _request(step: Step, user, client, client_for, d):
    http = client_for(user) if step.is_api else client
    if not step.is_api:
        client.force_login(user)
    data = step.data(d) if callable(step.data) else step.data
    return getattr(http, step.method)(step.url(d), data or {})


def _written_since(before: int) -> list[tuple]:
    return sorted(
        PatientDataAccess.objects.filter(pk__gt=before).values_list(
            "user", "patient", "what", "object_id"
        )
    )


def _last_access() -> int:
    last = PatientDataAccess.objects.order_by("-pk").first()
    return last.pk if last else 0


@pytest.mark.parametrize("step", WALK, ids=str)
def test_each_url_logs_one_row_per_patient_it_shows(step, day, client, client_for):
    user = getattr(day, step.who)
    assert resolve(urlsplit(step.url(day)).path).route == step.route  # walks what it says
    before = _last_access()

    response = _request(step, user, client, client_for, day)

    assert response.status_code == 200, response.content[:500]
    shown = step.shown(day)
    content = response.content.decode()
    # The expectation is what the response holds: these patients and no one else.
    assert named_in(content, day) == set(shown)
    # Exactly one row per patient shown (a list, so a second row would show), pointing
    # at their first item in the response.
    assert _written_since(before) == sorted(
        (user.pk, patient.pk, step.what, object_id) for patient, object_id in shown.items()
    )


def _stranger(step: Step, d):
    """Someone like the walker, of another clinic (with its own pools, so their pages
    work): they may use the URL, but none of these patients is theirs."""
    elsewhere = ClinicFactory()
    ensure_default_queues(clinic=elsewhere)
    if step.who == "administrator":
        return _clinic_administrator(elsewhere)
    if step.who == "portal":
        return IntegrationFactory(clinic=elsewhere).account
    role = {"nurse": Role.NURSE, "billing": Role.BILLING, "clerk": Role.CLERICAL}[step.who]
    return StaffFactory(clinic=elsewhere, role=role)


@pytest.mark.parametrize("step", WALK, ids=str)
def test_the_same_urls_log_nothing_for_someone_of_another_clinic(step, day, client, client_for):
    """Refused (404, 403, "not found" in the admin) or shown their own empty lists: either
    way none of these patients reaches them, and nothing is written."""
    before = _last_access()

    response = _request(step, _stranger(step, day), client, client_for, day)

    assert response.status_code < 500
    assert named_in(response.content.decode(), day) == set()
    assert _written_since(before) == []


# --- every URL that could show a patient is walked, or says why it shows none --------------

# URL patterns that show no patient data, and why. The Django admin's pages of rows that
# hold no patient (queues, rules, users, clinics...) are not listed: see _may_show_patients.
SHOWS_NO_PATIENT = {
    "admin/autocomplete/": "the patient search refuses it (test_the_patient_search_...)",
    # Sign-in, session and clinic switch: nothing of a patient.
    "": "home: redirects to the person's screen",
    "login/": "the sign-in form",
    "logout/": "signs out (POST)",
    "clinic/": "switches the clinic (POST) and redirects",
    "session/keep-alive": "an empty 204 that keeps the session alive (POST)",
    # Probes (pipeline.health): counts and ages only, no login.
    "health/": "the same checks for administrators, and unrouted counts and ages by clinic",
    "health/live": "a liveness probe: {'status': 'ok'}",
    "health/ready": "a readiness probe: checks, unrouted count and oldest age",
    # Staff screens.
    "work/counts": "counts per pool and acuity only (background refresh)",
    "work/next": "claims the next item (POST) and redirects to its page, which is logged",
    "work/arrival-alert": "the person's emergent arrival alert on or off (POST): the switch",
    "work/items/<int:item_id>/<slug:action>": "an action on an item (POST), then redirects",
    "work/after-action": "saves where the screen goes after an action (POST), then redirects",
    # Billing.
    "billing/review": "approves or rejects (POST), then redirects",
    "billing/revenue": "sums per clinic and month, and why revenue was missed: no patient",
    # The operations dashboard (administrators and managers): aggregates only.
    "operations/": "counts, hours and shares per acuity, week, queue, role, language, age band",
    "operations/export.csv": "the dashboard's figures as CSV: aggregates only",
    "api/v1/operations": "the dashboard's figures as JSON: aggregates only",
    # The API.
    "api/schema/": "the OpenAPI description of the API: paths and shapes, no data",
    "api/docs/": "Swagger UI's page over that description",
    "api/v1/time-entries": "a conversation's time: ids, staff, roles and seconds",
    "api/v1/messages:batch": (
        "the portal posts messages (POST); each one's position, outcome and id back, or the "
        "fields it got wrong"
    ),
    "api/v1/queues": "queue ids, names and roles",
    "api/v1/routing-rules": "rule names, order, conditions and actions: no patient",
    "api/v1/work-items/<int:item_id>/time": "minutes from another system (POST): ids back",
    # FHIR R4.
    "fhir/metadata": "the CapabilityStatement: what the server does",
    "fhir/Communication": "the EHR posts a message (POST); the answer says where it is stored",
    "fhir/Task": "work items as Tasks: status, priority, owner (staff or queue), message id",
    **{
        f"api/v1/work-items/<int:item_id>/{action}": (
            "an action on an item (POST): its id, status, queue, labels and staff back"
        )
        for action in ("claim", "reply", "close", "reopen", "reassign", "correct")
    },
    # The admin site's own pages.
    "admin/": "the index: models and the person's own recent actions",
    "admin/login/": "the admin's sign-in form",
    "admin/logout/": "signs out (POST)",
    "admin/password_change/": "the person's password",
    "admin/password_change/done/": "the person's password",
    "admin/jsi18n/": "translations for the admin's scripts",
    "admin/<app_label>/$": "an app's models",
    "admin/r/<path:content_type_id>/<path:object_id>/": "redirects to an object's page",
    "admin/(?P<url>.*)$": "anything else: redirects to the sign-in or is not found",
    # Admin pages of rows that point at a patient's conversation or message, by id only.
    "admin/routing/workitem/": "ids, pools, acuity, status, due times",
    "admin/routing/workitem/add/": "read-only: refused",
    "admin/routing/workitem/<path:object_id>/history/": "the item's id and changes",
    "admin/routing/workitem/<path:object_id>/delete/": "read-only: refused",
    "admin/routing/workitem/<path:object_id>/change/": (
        "ids, pool, acuity, status and routing reasons (rule names, matched conditions): "
        "no name, MRN or message text"
    ),
    "admin/routing/workitem/<path:object_id>/": "redirects to the change page",
    "admin/routing/workevent/": "kinds, staff, pools and reasons of work item events",
    "admin/routing/workevent/add/": "read-only: refused",
    "admin/routing/workevent/<path:object_id>/history/": "the event's changes",
    "admin/routing/workevent/<path:object_id>/delete/": "read-only: refused",
    "admin/routing/workevent/<path:object_id>/change/": "the event; its message by id",
    "admin/routing/workevent/<path:object_id>/": "redirects to the change page",
    "admin/billing/timeentry/": "who spent how long on which conversation (by id)",
    "admin/billing/timeentry/add/": "a form offering conversations and items by id",
    "admin/billing/timeentry/<path:object_id>/history/": "the entry's changes",
    "admin/billing/timeentry/<path:object_id>/delete/": "the entry: person, minutes, id",
    "admin/billing/timeentry/<path:object_id>/change/": "a form offering ids only",
    "admin/billing/timeentry/<path:object_id>/": "redirects to the change page",
    "admin/billing/evisit/": "codes, minutes, amounts; the conversation by id",
    "admin/billing/evisit/add/": "read-only: refused",
    "admin/billing/evisit/<path:object_id>/history/": "the e-visit's changes",
    "admin/billing/evisit/<path:object_id>/delete/": "read-only: refused",
    "admin/billing/evisit/<path:object_id>/change/": "codes, minutes, reasons; ids only",
    "admin/billing/evisit/<path:object_id>/": "redirects to the change page",
    # The other pages of the logged admins (PatientDataAccessLogged).
    "admin/inbox/patient/add/": "read-only: refused",
    "admin/inbox/patient/<path:object_id>/delete/": "read-only: refused",
    "admin/inbox/patient/<path:object_id>/": "redirects to the change page (logged there)",
    "admin/inbox/patientchange/add/": "read-only: refused",
    "admin/inbox/patientchange/<path:object_id>/delete/": "read-only: refused",
    "admin/inbox/patientchange/<path:object_id>/": "redirects to the change page",
    "admin/inbox/patientdataaccess/add/": "read-only: refused",
    "admin/inbox/patientdataaccess/<path:object_id>/history/": "the entry by ids, no name",
    "admin/inbox/patientdataaccess/<path:object_id>/delete/": "read-only: refused",
    "admin/inbox/patientdataaccess/<path:object_id>/": "redirects to the change page",
    "admin/billing/patientvisit/<path:object_id>/history/": "the visit (kind, date)",
    "admin/billing/patientvisit/<path:object_id>/delete/": "the visit (kind, date)",
    "admin/billing/patientvisit/<path:object_id>/": "redirects to the change page",
    "admin/billing/claimexport/": "counts and totals of each file, no patient",
    "admin/billing/claimexport/add/": "read-only: refused",
    "admin/billing/claimexport/<path:object_id>/history/": "the export's number and size",
    "admin/billing/claimexport/<path:object_id>/delete/": "read-only: refused",
    "admin/billing/claimexport/<path:object_id>/": "redirects to the change page",
    # Staff label corrections: the message by id; its text only in an export a superuser
    # chooses (POST, written to the access log: tests/triage/test_corrections.py).
    "admin/triage/labelcorrection/": "ids, labels, from and to, staff, reasons, review",
    "admin/triage/labelcorrection/add/": "read-only: refused",
    "admin/triage/labelcorrection/<path:object_id>/history/": "the correction's changes",
    "admin/triage/labelcorrection/<path:object_id>/delete/": "read-only: refused",
    "admin/triage/labelcorrection/<path:object_id>/change/": "the correction; message by id",
    "admin/triage/labelcorrection/<path:object_id>/": "redirects to the change page",
}

# Rows of these models hold or point at a patient's data: every admin page of a model
# that has one (or whose admin logs) must be walked or listed above.
PATIENT_MODELS = (Patient, Conversation, Message, OutgoingMessage)


def _may_show_patients(model) -> bool:
    if model in PATIENT_MODELS or isinstance(admin.site._registry[model], PatientDataAccessLogged):
        return True
    relations = [*model._meta.fields, *model._meta.many_to_many]
    return any(f.is_relation and f.related_model in PATIENT_MODELS for f in relations)


def _url_patterns(patterns=None, prefix: str = ""):
    """The route of every URL pattern, joined as ResolverMatch.route joins them (the
    admin's app index, whose expression lists the apps, as "admin/<app_label>/$")."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        route = prefix + route.removeprefix("^") if prefix else route
        if isinstance(pattern, URLResolver):
            yield from _url_patterns(pattern.url_patterns, route)
        else:
            yield re.sub(r"\(\?P<app_label>[^)]*\)", "<app_label>", route)


def _admin_model(route: str):
    for model in admin.site._registry:
        if route.startswith(f"admin/{model._meta.app_label}/{model._meta.model_name}/"):
            return model
    return None


def test_every_url_that_can_show_a_patient_is_walked():
    routes = set(_url_patterns())
    walked = {step.route for step in WALK}
    accounted = walked | SHOWS_NO_PATIENT.keys()
    must_account = {
        route
        for route in routes
        if (model := _admin_model(route)) is None or _may_show_patients(model)
    }

    assert sorted(must_account - accounted) == [], (
        "URL patterns that may show patient data: add each to WALK (and make its selector "
        "log what it shows) or to SHOWS_NO_PATIENT with the reason"
    )
    # And no list names a URL pattern that is gone.
    assert sorted(accounted - routes) == []
    assert not walked & SHOWS_NO_PATIENT.keys()


def test_the_admin_pages_that_log_are_walked():
    """Every admin that writes the access log has its logged pages in the walk."""
    walked = {step.route for step in WALK}
    for model, model_admin in admin.site._registry.items():
        if not isinstance(model_admin, PatientDataAccessLogged):
            continue
        base = f"admin/{model._meta.app_label}/{model._meta.model_name}/"
        if model_admin.access_log_list:
            assert base in walked
        if model_admin.access_log_page:
            assert f"{base}<path:object_id>/change/" in walked


def _example(route: str, d) -> str:
    """A URL of the pattern, for one of the day's rows (the pattern's model's first row
    for the admin's object pages, a patient for the admin's redirect to an object)."""
    if route == "admin/(?P<url>.*)$":
        return "/admin/no-such-page/"
    if route == "admin/<app_label>/$":
        return "/admin/inbox/"
    model = _admin_model(route)
    values = {
        "<int:item_id>": d.a1.pk,
        "<slug:action>": "claim",
        "<path:content_type_id>": ContentType.objects.get_for_model(Patient).pk,
        "<path:object_id>": (
            model.objects.order_by("pk").first().pk if model is not None else d.alice.pk
        ),
    }
    return "/" + re.sub(r"<[^>]+>", lambda m: str(values[m.group(0)]), route)


def _checker_for(route: str, d):
    """Who opens a page of SHOWS_NO_PATIENT: whoever may see the most there."""
    if route.startswith("admin/"):
        return d.superuser
    if route.startswith("billing/"):
        return d.billing
    if route in (
        "operations/",
        "operations/export.csv",
        "api/v1/operations",
        "api/v1/queues",
        "api/v1/routing-rules",
    ):
        return d.administrator
    return d.nurse


@pytest.mark.parametrize("route", sorted(SHOWS_NO_PATIENT))
def test_the_urls_said_to_show_no_patient_name_none(route, day, client):
    """Opened (GET) with the day's patients on file, by whoever may see the most there:
    no patient's MRN or name in the answer, and nothing written. A POST-only URL answers
    405 here: its reason above says why what it does shows nobody."""
    url = _example(route, day)
    client.force_login(_checker_for(route, day))
    before = _last_access()

    response = client.get(url, follow=False)

    # The readiness probe says 503 when a check fails (here: no active model), by design.
    assert response.status_code < 500 or route in ("health/", "health/ready")
    assert named_in(response.content.decode(), day) == set()
    assert _written_since(before) == []


def test_the_patient_search_answers_no_autocomplete(day, client):
    """Django answers an autocomplete search of any admin with search fields through any
    foreign key; no form here uses one, so the patient search refuses it rather than
    answer names and MRNs outside the logged patient list."""
    client.force_login(day.superuser)
    before = _last_access()

    response = client.get(
        "/admin/autocomplete/?app_label=billing&model_name=patientvisit"
        f"&field_name=patient&term={day.alice.name.split()[-1]}"
    )

    assert response.status_code == 404
    assert named_in(response.content.decode(), day) == set()
    assert _written_since(before) == []
