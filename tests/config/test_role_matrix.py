"""The role matrix: every URL and API route of config.urls (the Django admin aside),
requested by every role of a clinic (clerical, MA, nurse, physician, billing,
administrator), by a nurse of another clinic, by nobody signed in and, on the API, by the
clinic's portal integration; on work items of every service level and acuity wherever the
answer depends on them. Each answer is compared with EXPECTED below, written out from
domain.md on its own (not read from routing/scope.py, which it checks).

An escalation is an answer that allows what the table refuses, a refused request that
changed something anyway, or a patient's message shown to someone who may not read it
(billing, administrators, another clinic, nobody): there must be none. Every other answer
must be the table's too (a clinician refused what they may do is a failure as well).

test_every_route_is_in_the_matrix fails when a route is added without a row here: a new
route must be classified before it ships."""

import datetime
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.contrib import messages
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from billing import services as billing_services
from billing.models import ClaimExport, EVisit, TimeEntry
from inbox import services as inbox_services
from inbox.models import Message, OutgoingMessage, Patient, PatientDataAccess
from routing.models import WorkEvent, WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from triage.ml.labels import ACUITY_RANK, Acuity
from triage.models import LabelCorrection
from workspace import views as workspace_views

pytestmark = pytest.mark.django_db

# --- who asks ------------------------------------------------------------------------------

CLERICAL, MA, NURSE, PHYSICIAN, BILLING, ADMIN = (
    Role.CLERICAL,
    Role.MA,
    Role.NURSE,
    Role.PHYSICIAN,
    Role.BILLING,
    Role.ADMIN,
)
OUTSIDER = "nurse of another clinic"
ANONYMOUS = "anonymous"
INTEGRATION = "portal integration"
ROLES = (CLERICAL, MA, NURSE, PHYSICIAN, BILLING, ADMIN)
SCREEN_PRINCIPALS = (*ROLES, OUTSIDER, ANONYMOUS)
# The integration has no password: it cannot sign in to the screens, only call the API.
API_PRINCIPALS = (*SCREEN_PRINCIPALS, INTEGRATION)
# Who may read this clinic's message threads and queues (domain.md: billing staff see
# e-visits and the time behind them, not message threads; administrators configure).
READERS = (CLERICAL, MA, NURSE, PHYSICIAN)

# --- what they get -------------------------------------------------------------------------

OK = "allowed"  # 2xx, or a redirect after an action that was done
REFUSED = "403"
NOT_FOUND = "404"
LOGIN = "sign in"  # screens: to the sign-in page; API: 401
INVALID = "invalid"  # the role may, the item's state or the input says no (400, 409, notice)

# --- the scope of practice, from domain.md -------------------------------------------------

LEVELS = ("clerical", "ma", "nurse", "physician")
ACUITIES = ("emergent", "urgent", "routine")
EVERY_CASE = tuple(itertools.product(LEVELS, ACUITIES))
# "A clerical user acts only on clerical-level routine items, an MA on MA- and
# clerical-level items; urgent and emergent items are answered and closed by a nurse or
# physician."
MAY_ACT = {
    CLERICAL: {("clerical", "routine")},
    MA: {("clerical", "routine"), ("ma", "routine")},
    NURSE: set(EVERY_CASE),
    PHYSICIAN: set(EVERY_CASE),
}


def may_act(principal: str, case: tuple[str, str], action: str = "reply") -> bool:
    level, _ = case
    if action == "close" and principal == NURSE and level == "physician":
        return False  # until a physician has replied on it (none has, here)
    return case in MAY_ACT.get(principal, set())


# --- expectations --------------------------------------------------------------------------

Expect = Callable[[str, tuple[str, str] | None], str]


def on_items(rule: Callable[[str, tuple[str, str]], str]) -> Expect:
    """A work item of this clinic: nobody signed in is sent to sign in, another clinic
    is told nothing exists, billing, administrators and the integration are refused;
    the clinical roles as `rule` says."""

    def expect(principal: str, case: tuple[str, str] | None) -> str:
        if principal == ANONYMOUS:
            return LOGIN
        if principal == OUTSIDER:
            return NOT_FOUND
        if principal not in READERS:
            return REFUSED
        return rule(principal, case)

    return expect


def clinical(action: str) -> Expect:
    return on_items(lambda p, case: OK if may_act(p, case, action) else REFUSED)


def reassign_up(p: str, case: tuple[str, str]) -> str:
    # Anyone sends a message up, to a more trained role; sideways only who may take it.
    return OK if case[0] != "physician" or may_act(p, case, "claim") else REFUSED


def reassign_down(p: str, case: tuple[str, str]) -> str:
    # To clerical is never up: only someone who may take the message moves it there.
    if not may_act(p, case, "claim"):
        return REFUSED
    # "An emergent item stays with a nurse or physician."
    return INVALID if case[1] == "emergent" else OK


def called(p: str, case: tuple[str, str]) -> str:
    if p == CLERICAL:
        return REFUSED  # calls are recorded by MAs, nurses and physicians
    return INVALID if case[1] == "routine" else OK  # urgent and emergent items only


def reopen(p: str, case: tuple[str, str]) -> str:
    return OK if p in (NURSE, PHYSICIAN) else REFUSED


def screens_of_readers(p: str, case=None) -> str:
    """The queue screens: this clinic's readers, and the other clinic's nurse (their own
    clinic's queues); billing and administrators refused with the reason."""
    if p == ANONYMOUS:
        return LOGIN
    return OK if p in (*READERS, OUTSIDER) else REFUSED


def bulk_sorters(p: str, case=None) -> str:
    """Bulk actions on the queue page: the roles that sort volume (clerical, MA); nurses
    and physicians work symptom messages one by one, billing and administrators none."""
    if p == ANONYMOUS:
        return LOGIN
    return OK if p in (CLERICAL, MA) else REFUSED


def a_pool_of_this_clinic(p: str, case=None) -> str:
    if p == OUTSIDER:
        return NOT_FOUND
    if p == INTEGRATION:
        return REFUSED
    return screens_of_readers(p)


def api_lists(p: str, case=None) -> str:
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED  # staff APIs refuse an integration's token
    return screens_of_readers(p)


def signed_in(p: str, case=None) -> str:
    """The person's own session and settings: anyone signed in."""
    return LOGIN if p == ANONYMOUS else OK


def members(p: str, case=None) -> str:
    if p == ANONYMOUS:
        return LOGIN
    return NOT_FOUND if p == OUTSIDER else OK


def everyone(p: str, case=None) -> str:
    return OK


def administrators(p: str, case=None) -> str:
    """The system health page: clinic administrators (counts and ages, no patient)."""
    if p == ANONYMOUS:
        return LOGIN
    return OK if p == ADMIN else REFUSED


def dashboard_viewers(p: str, case=None) -> str:
    """The operations dashboard, its CSV and API: the clinic's administrators (and members
    marked manager: tests/workspace/test_operations_page.py); to other staff it does not
    exist (404); the integration's token is refused."""
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED
    return OK if p == ADMIN else NOT_FOUND


def billing_only(p: str, case=None) -> str:
    """The billing screens and API: the billing role; to anyone else they do not exist
    (404, billing.selectors.require_billing); the integration's token is refused."""
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED
    return OK if p == BILLING else NOT_FOUND


def message_readers(p: str, case=None) -> str:
    """Patients' messages through the API: the clinic's readers and its portal; billing and
    administrators refused; another clinic told nothing exists."""
    if p == ANONYMOUS:
        return LOGIN
    if p == OUTSIDER:
        return NOT_FOUND
    return OK if p in (*READERS, INTEGRATION) else REFUSED


def time_readers(p: str, case=None) -> str:
    """A conversation's time (with an e-visit): billing all of it, a clinician their own;
    administrators refused; another clinic told nothing exists; no integration."""
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED
    if p == OUTSIDER:
        return NOT_FOUND
    return REFUSED if p == ADMIN else OK


def queue_readers(p: str, case=None) -> str:
    """Queue ids and names: the administrators who configure them and the clinical staff
    who filter and reassign by them (the other clinic's nurse: their own); billing 404."""
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED
    return NOT_FOUND if p == BILLING else OK


def rule_readers(p: str, case=None) -> str:
    """The routing rules: the clinic's administrators; to others they do not exist."""
    if p == ANONYMOUS:
        return LOGIN
    if p == INTEGRATION:
        return REFUSED
    return OK if p == ADMIN else NOT_FOUND


def task_readers(p: str, case=None) -> str:
    """FHIR Tasks (work items, no patient): the clinic's readers and its EHR; the other
    clinic's nurse their own clinic's; billing and administrators refused."""
    if p == INTEGRATION:
        return OK
    return screens_of_readers(p)


def integration_only(p: str, case=None) -> str:
    """The portal's endpoints: its integration token only; every staff member, of this
    clinic or another, is refused."""
    if p == ANONYMOUS:
        return LOGIN
    return OK if p == INTEGRATION else REFUSED


# --- the world the requests run in ---------------------------------------------------------

THREAD_MARK = "Zqxthread"  # in every patient message of the clinic: who sees it, reads it


def _now():
    return timezone.now()


def _item(clinic, queues, level: str, acuity: str, *, mark: str = THREAD_MARK) -> WorkItem:
    message = MessageFactory(
        conversation__patient__clinic=clinic,
        subject=f"{mark} {level} {acuity}",
        body=f"{mark}: a question about my {acuity} {level} matter.",
    )
    return WorkItem.objects.create(
        clinic=clinic,
        conversation=message.conversation,
        message=message,
        queue=queues[level],
        acuity=acuity,
        acuity_rank=ACUITY_RANK[Acuity(acuity)],
        service_level=level,
        due_at=_now() + datetime.timedelta(hours=1),
    )


@pytest.fixture
def world() -> SimpleNamespace:
    w = SimpleNamespace()
    w.clinic = ClinicFactory()
    w.queues = ensure_default_queues(clinic=w.clinic)
    w.people = {role: StaffFactory(clinic=w.clinic, role=role) for role in ROLES}
    w.holder = StaffFactory(clinic=w.clinic, role=Role.PHYSICIAN)  # holds items to return
    elsewhere = ClinicFactory()
    ensure_default_queues(clinic=elsewhere)
    w.people[OUTSIDER] = StaffFactory(clinic=elsewhere, role=Role.NURSE)
    w.people[INTEGRATION] = IntegrationFactory(clinic=w.clinic).account
    w.items = {case: _item(w.clinic, w.queues, *case) for case in EVERY_CASE}
    _item(elsewhere, ensure_default_queues(clinic=elsewhere), "nurse", "urgent", mark="Theirs")

    w.reply = inbox_services.send_reply(
        in_reply_to=w.items[("nurse", "routine")].message,
        body="Take it with food.",
        author=w.people[NURSE],
    )
    patient = PatientFactory(clinic=w.clinic)

    def evisit(status: str) -> EVisit:
        return EVisit.objects.create(
            clinic=w.clinic,
            conversation=ConversationFactory(patient=patient),
            status=status,
            code="99422",
            minutes=12,
            amount=Decimal("31.00"),
            window_start=_now() - datetime.timedelta(days=2),
        )

    evisit(EVisit.Status.APPROVED)
    w.export = billing_services.export_approved(actor=w.people[BILLING], export_format="csv")
    w.evisit = evisit(EVisit.Status.READY)
    evisit(EVisit.Status.APPROVED)  # waiting for the next export

    w.screen, w.api = {}, {}
    for principal in API_PRINCIPALS:
        api = APIClient()
        if principal != ANONYMOUS:
            api.force_authenticate(w.people[principal])
        w.api[principal] = api
        if principal in SCREEN_PRINCIPALS:
            screen = Client()
            if principal != ANONYMOUS:
                screen.force_login(w.people[principal])  # outside the rolled-back requests
            w.screen[principal] = screen
    return w


# --- the state a request finds (made inside the request's savepoint) -----------------------


def held_by_actor(w, item, principal):
    # Emergent items are closed only once claimed: by the person closing, here.
    who = w.people[principal] if principal in ROLES else w.holder
    WorkItem.objects.filter(pk=item.pk).update(status="claimed", claimed_by=who, claimed_at=_now())


def held_by_someone_else(w, item, principal):
    WorkItem.objects.filter(pk=item.pk).update(
        status="claimed", claimed_by=w.holder, claimed_at=_now()
    )


def closed(w, item, principal):
    WorkItem.objects.filter(pk=item.pk).update(
        status="closed", closed_at=_now(), closed_by=w.holder
    )


def correction_by_a_colleague(w, item, principal):
    # Proposed by someone else, so the person asking may confirm it (if their role may).
    w.correction_id = LabelCorrection.objects.create(
        message=item.message,
        label="acuity",
        from_value=item.acuity,
        to_value="emergent",
        corrected_by=w.holder,
    ).pk


def pend(p: str, case: tuple[str, str]) -> str:
    # Who may work (claim) the item pends it (routing.pending); never an emergent one.
    if not may_act(p, case, "claim"):
        return REFUSED
    return INVALID if case[1] == "emergent" else OK


def pend_form(w) -> dict:
    tomorrow = timezone.localtime(_now() + datetime.timedelta(days=1), ZoneInfo(w.clinic.time_zone))
    return {"reason": "waiting for the CBC", "until": tomorrow.strftime("%Y-%m-%dT%H:%M")}


def pended(w, item, principal):
    WorkItem.objects.filter(pk=item.pk).update(
        pended_until=_now() + datetime.timedelta(days=1), pended_at=_now(), pend_reason="CBC"
    )


def correct_acuity(p: str, case: tuple[str, str]) -> str:
    # Whoever reads the item corrects its labels; marking it as it already is says nothing.
    return INVALID if case[1] == "emergent" else OK


RAISE_TO_EMERGENT = {"label": "acuity", "to": "emergent", "reason": "worse than it reads"}


def timer_running(w, item, principal):
    if principal == ANONYMOUS:
        return
    # Started before today's rules (a role changed since, say): stopping it is the test.
    TimeEntry.objects.create(
        clinic=w.clinic,
        conversation_id=item.conversation_id,
        work_item=item,
        user=w.people[principal],
        role=principal if principal in ROLES else Role.NURSE,
        source=TimeEntry.Source.TIMER,
        started_at=_now() - datetime.timedelta(minutes=3),
    )


# --- the matrix ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    route: str  # the URL pattern as config.urls names it
    method: str
    path: Callable  # (world, item or None) -> the URL
    expect: Expect
    data: Callable | None = None  # (world) -> the body
    cases: tuple = ()  # (service level, acuity) of the item asked about; () for none
    prepare: Callable | None = None  # (world, item, principal): the state found
    screen_action: str = ""  # for work/items/<id>/<action>: which action
    mode: str = ""
    signs_out: bool = False  # asked with a session of its own, so the others stay signed in
    # A readiness probe's 503 ("not ready": no active model here) is its answer, not a fault.
    unavailable_answers: bool = False
    # Who may be shown a patient's message here (the messages API: the clinic's portal too).
    thread_readers: tuple = READERS

    @property
    def is_api(self) -> bool:
        return self.route.startswith(("api/", "fhir/"))

    @property
    def principals(self) -> tuple:
        return API_PRINCIPALS if self.is_api else SCREEN_PRINCIPALS

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.route}{f' [{self.mode}]' if self.mode else ''}"


NURSE_LEVEL = tuple(("nurse", acuity) for acuity in ACUITIES)


def item_url(suffix: str) -> Callable:
    return lambda w, item: f"/work/items/{item.pk}/{suffix}"


def api_item_url(action: str) -> Callable:
    return lambda w, item: f"/api/v1/work-items/{item.pk}/{action}"


ITEM = "work/items/<int:item_id>/"
ITEM_ACTION = "work/items/<int:item_id>/<slug:action>"
API_ACTION = "api/v1/work-items/<int:item_id>/{}"


def screen_action(action: str, rule, *, cases=EVERY_CASE, prepare=None, data=None, mode=""):
    return Probe(
        ITEM_ACTION,
        "post",
        item_url(action.partition(":")[0]),
        on_items(rule) if not isinstance(rule, str) else clinical(rule),
        data=data,
        cases=cases,
        prepare=prepare,
        screen_action=action.partition(":")[0],
        mode=mode or action,
    )


def api_action(action: str, rule, *, cases=EVERY_CASE, prepare=None, data=None, mode=""):
    return Probe(
        API_ACTION.format(action),
        "post",
        api_item_url(action),
        on_items(rule) if not isinstance(rule, str) else clinical(rule),
        data=data,
        cases=cases,
        prepare=prepare,
        mode=mode,
    )


def payload(w) -> dict:
    return {
        "external_id": "matrix-1",
        "clinic": w.clinic.slug,
        "patient": {"mrn": "MX-1", "name": "Mia Matrix", "preferred_language": "en"},
        "subject": "Reschedule",
        "body": "I need to move my appointment on Tuesday to later in the week please.",
        "category": "appointment",
        "sent_at": "2026-11-20T09:30:00Z",
    }


def fhir_communication(w) -> dict:
    mrn = w.items[("nurse", "routine")].conversation.patient.mrn
    return {
        "resourceType": "Communication",
        "identifier": [{"value": "matrix-fhir-1"}],
        "status": "completed",
        "subject": {"identifier": {"value": mrn}},
        "sent": "2026-11-20T09:30:00Z",
        "payload": [{"contentString": "Can I take the new tablets with food?"}],
    }


PROBES = [
    # Probes for the load balancer: anyone, signed in or not, gets the same answer.
    Probe("health/", "get", lambda w, i: "/health/", administrators, unavailable_answers=True),
    Probe("health/live", "get", lambda w, i: "/health/live", everyone),
    Probe("health/ready", "get", lambda w, i: "/health/ready", everyone, unavailable_answers=True),
    # Sign-in, session and clinic switch.
    Probe("", "get", lambda w, i: "/", signed_in),
    Probe("login/", "get", lambda w, i: "/login/", everyone),
    Probe("logout/", "post", lambda w, i: "/logout/", everyone, signs_out=True),
    Probe("clinic/", "post", lambda w, i: "/clinic/", members, lambda w: {"clinic": w.clinic.pk}),
    Probe("session/keep-alive", "post", lambda w, i: "/session/keep-alive", signed_in),
    # The queue screens.
    Probe("work/", "get", lambda w, i: "/work/", screens_of_readers, mode="home pool"),
    Probe(
        "work/",
        "get",
        # The physicians' pool: every clinical role's screen lists it (a physician's, only it).
        lambda w, i: f"/work/?queue={w.queues['physician'].pk}",
        a_pool_of_this_clinic,
        mode="a pool of this clinic",
    ),
    Probe("work/", "get", lambda w, i: "/work/?queue=mine", screens_of_readers, mode="my work"),
    Probe("work/rows", "get", lambda w, i: "/work/rows", screens_of_readers),
    # Search: the words of every thread here (the start of THREAD_MARK, so the box's echo
    # is not taken for a thread shown); the other clinic's nurse searches their own.
    Probe("work/search", "get", lambda w, i: "/work/search?q=zqxthr", screens_of_readers),
    Probe(
        "work/bulk",
        "post",
        lambda w, i: "/work/bulk",
        bulk_sorters,
        # Each item by the scope of practice (tests/routing/test_bulk.py): one both may take.
        lambda w: {"action": "claim", "items": [w.items[("clerical", "routine")].pk]},
    ),
    Probe("work/counts", "get", lambda w, i: "/work/counts", screens_of_readers),
    # Pending (routing.pending): the pended items of the person's pools, or theirs.
    Probe("work/pending", "get", lambda w, i: "/work/pending", screens_of_readers),
    Probe("work/next", "post", lambda w, i: "/work/next", screens_of_readers),
    Probe(
        "work/after-action",
        "post",
        lambda w, i: "/work/after-action",
        signed_in,
        lambda w: {"after_action": "stay", "next": "/work/"},
    ),
    Probe(
        "work/arrival-alert",
        "post",
        lambda w, i: "/work/arrival-alert",
        signed_in,
        lambda w: {"on": "1"},
    ),
    # One work item: its page, and every action of the screen.
    Probe(
        ITEM,
        "get",
        lambda w, item: f"/work/items/{item.pk}/",
        on_items(lambda p, c: OK),
        cases=EVERY_CASE,
    ),
    # The patient's other conversations (routing.patient_context): whoever reads the item.
    Probe(
        "work/items/<int:item_id>/patient-context/",
        "get",
        lambda w, item: f"/work/items/{item.pk}/patient-context/",
        on_items(lambda p, c: OK),
        cases=EVERY_CASE,
    ),
    screen_action("claim", "claim"),
    screen_action("reply", "reply", data=lambda w: {"body": "Tuesday at 3 pm works."}),
    screen_action("close", "close", prepare=held_by_actor),
    screen_action(
        "return",
        lambda p, case: OK if may_act(p, case, "claim") else REFUSED,
        prepare=held_by_someone_else,
        mode="return someone else's item",
    ),
    screen_action(
        "escalate", lambda p, c: OK, cases=NURSE_LEVEL, data=lambda w: {"reason": "worse"}
    ),
    screen_action(
        "reassign:up",
        reassign_up,
        data=lambda w: {"target": "role:physician", "reason": "a doctor should see it"},
        mode="up to physician",
    ),
    screen_action(
        "reassign:down",
        reassign_down,
        data=lambda w: {"target": "role:clerical", "reason": "scheduling only"},
        mode="down to clerical",
    ),
    screen_action("timer-start", "reply"),
    screen_action("timer-stop", lambda p, c: OK, cases=NURSE_LEVEL, prepare=timer_running),
    screen_action("log-time", "reply", data=lambda w: {"minutes": "6"}),
    screen_action("called", called, data=lambda w: {"outcome": "reached"}),
    screen_action(
        "reopen", reopen, cases=NURSE_LEVEL, prepare=closed, data=lambda w: {"reason": "new result"}
    ),
    screen_action("correct", correct_acuity, data=lambda w: RAISE_TO_EMERGENT),
    screen_action("pend", pend, data=pend_form),
    screen_action("unpend", "claim", prepare=pended),
    # An internal note (routing.notes): anyone who reads and works the item, at any acuity.
    screen_action("note", lambda p, c: OK, data=lambda w: {"note": "Pharmacy called back."}),
    screen_action(
        "confirm-correction",
        lambda p, c: OK,
        cases=NURSE_LEVEL,
        prepare=correction_by_a_colleague,
        data=lambda w: {"correction": w.correction_id},
    ),
    # Billing screens.
    Probe("billing/", "get", lambda w, i: "/billing/", billing_only),
    Probe(
        "billing/evisits/<int:evisit_id>/",
        "get",
        lambda w, i: f"/billing/evisits/{w.evisit.pk}/",
        billing_only,
    ),
    Probe(
        "billing/review",
        "post",
        lambda w, i: "/billing/review",
        billing_only,
        lambda w: {"evisit": w.evisit.pk, "decision": "approve"},
    ),
    Probe(
        "billing/export",
        "post",
        lambda w, i: "/billing/export",
        billing_only,
        lambda w: {"format": "csv"},
    ),
    Probe(
        "billing/exports/<int:export_id>",
        "get",
        lambda w, i: f"/billing/exports/{w.export.pk}",
        billing_only,
    ),
    Probe("billing/revenue", "get", lambda w, i: "/billing/revenue", billing_only),
    # The API's description and Swagger UI: any signed-in principal, no patient in them.
    Probe("api/schema/", "get", lambda w, i: "/api/schema/", signed_in),
    Probe("api/docs/", "get", lambda w, i: "/api/docs/", signed_in),
    # The portal's endpoints.
    Probe("api/v1/messages", "post", lambda w, i: "/api/v1/messages", integration_only, payload),
    Probe(
        "api/v1/messages:batch",
        "post",
        lambda w, i: "/api/v1/messages:batch",
        integration_only,
        lambda w: {"messages": [payload(w)]},
    ),
    Probe(
        "api/v1/outgoing-messages",
        "get",
        lambda w, i: f"/api/v1/outgoing-messages?clinic={w.clinic.slug}",
        integration_only,
    ),
    Probe(
        "api/v1/outgoing-messages/<int:reply_id>/delivered",
        "post",
        lambda w, i: f"/api/v1/outgoing-messages/{w.reply.pk}/delivered",
        integration_only,
    ),
    # The staff API.
    Probe(
        "api/v1/work-items", "get", lambda w, i: "/api/v1/work-items", api_lists, mode="every pool"
    ),
    Probe(
        "api/v1/work-items",
        "get",
        lambda w, i: f"/api/v1/work-items?queue={w.queues['nurse'].pk}",
        a_pool_of_this_clinic,
        mode="a pool of this clinic",
    ),
    api_action("claim", "claim"),
    api_action("reply", "reply", data=lambda w: {"body": "Tuesday at 3 pm works."}),
    api_action("close", "close", prepare=held_by_actor),
    api_action(
        "reopen", reopen, cases=NURSE_LEVEL, prepare=closed, data=lambda w: {"reason": "lab"}
    ),
    api_action(
        "reassign",
        reassign_up,
        data=lambda w: {"role": "physician", "reason": "a doctor should see it"},
        mode="up to physician",
    ),
    api_action(
        "reassign",
        reassign_down,
        data=lambda w: {"role": "clerical", "reason": "scheduling only"},
        mode="down to clerical",
    ),
    api_action("time", "reply", data=lambda w: {"minutes": 6}),
    api_action("correct", correct_acuity, data=lambda w: RAISE_TO_EMERGENT),
    Probe("api/v1/billing/evisits", "get", lambda w, i: "/api/v1/billing/evisits", billing_only),
    Probe(
        "api/v1/billing/evisits/<int:evisit_id>",
        "get",
        lambda w, i: f"/api/v1/billing/evisits/{w.evisit.pk}",
        billing_only,
    ),
    Probe(
        "api/v1/work-items/<int:item_id>",
        "get",
        lambda w, item: f"/api/v1/work-items/{item.pk}",
        on_items(lambda p, c: OK),
        cases=EVERY_CASE,
    ),
    Probe(
        "api/v1/messages/<int:message_id>",
        "get",
        lambda w, item: f"/api/v1/messages/{item.message_id}",
        message_readers,
        cases=NURSE_LEVEL,
        thread_readers=(*READERS, INTEGRATION),
    ),
    Probe(
        "api/v1/messages",
        "get",
        lambda w, item: f"/api/v1/messages?conversation_id={item.conversation.external_id}",
        message_readers,
        cases=NURSE_LEVEL,
        thread_readers=(*READERS, INTEGRATION),
        mode="a conversation",
    ),
    Probe(
        "api/v1/time-entries",
        "get",
        lambda w, i: f"/api/v1/time-entries?conversation={w.evisit.conversation_id}",
        time_readers,
    ),
    Probe("api/v1/queues", "get", lambda w, i: "/api/v1/queues", queue_readers),
    Probe("api/v1/routing-rules", "get", lambda w, i: "/api/v1/routing-rules", rule_readers),
    # The operations dashboard: figures only.
    Probe("operations/", "get", lambda w, i: "/operations/", dashboard_viewers),
    Probe("operations/export.csv", "get", lambda w, i: "/operations/export.csv", dashboard_viewers),
    Probe(
        "api/v1/operations",
        "get",
        lambda w, i: f"/api/v1/operations?clinic={w.clinic.slug}",
        dashboard_viewers,
    ),
    # FHIR R4 (docs/integration.md): metadata is public, as on any FHIR server.
    Probe("fhir/metadata", "get", lambda w, i: "/fhir/metadata", everyone),
    Probe(
        "fhir/Communication",
        "post",
        lambda w, i: "/fhir/Communication",
        integration_only,
        lambda w: fhir_communication(w),
    ),
    Probe(
        "fhir/Communication/<int:message_id>",
        "get",
        lambda w, item: f"/fhir/Communication/{item.message_id}",
        message_readers,
        cases=NURSE_LEVEL,
        thread_readers=(*READERS, INTEGRATION),
    ),
    Probe("fhir/Task", "get", lambda w, i: "/fhir/Task", task_readers),
]


# --- asking and judging --------------------------------------------------------------------


def outcome(response, *, api: bool) -> str:
    code = response.status_code
    if code == 401:
        return LOGIN
    if code == 302 and re.match(r"^/login/\?next=", response.url):
        return LOGIN
    if code == 403:
        return REFUSED
    if code == 404:
        return NOT_FOUND
    if code in (400, 409):
        return INVALID
    if code == 302 and not api:
        notices = {m.level for m in get_messages(response.wsgi_request)}
        return INVALID if messages.ERROR in notices else OK
    if 200 <= code < 300:
        return OK
    return f"HTTP {code}"


def state() -> tuple:
    """What a refused request must leave as it was."""
    return (
        tuple(
            WorkItem.objects.order_by("pk").values_list(
                "pk", "status", "claimed_by", "queue", "service_level", "escalation_level"
            )
        ),
        WorkEvent.objects.count(),
        tuple(OutgoingMessage.objects.order_by("pk").values_list("pk", "delivered_at")),
        tuple(TimeEntry.objects.order_by("pk").values_list("pk", "ended_at")),
        Message.objects.count(),
        tuple(Patient.objects.order_by("pk").values_list("pk", "name", "birth_date")),
        tuple(EVisit.objects.order_by("pk").values_list("pk", "status")),
        ClaimExport.objects.count(),
        PatientDataAccess.objects.count(),
        tuple(LabelCorrection.objects.order_by("pk").values_list("pk", "review_status")),
    )


@dataclass
class Tally:
    requests: int = 0
    escalations: list = field(default_factory=list)
    mismatches: list = field(default_factory=list)


def ask(w, probe: Probe, principal: str, case, tally: Tally) -> None:
    item = w.items[case] if case else None
    expected = probe.expect(principal, case)
    http = (w.api if probe.is_api else w.screen)[principal]
    if probe.signs_out:
        http = Client()
        if principal != ANONYMOUS:
            http.force_login(w.people[principal])
    with transaction.atomic():  # each request finds the same world
        if probe.prepare is not None:
            probe.prepare(w, item, principal)
        before = state() if expected != OK else None
        data = probe.data(w) if probe.data else {}
        if probe.is_api:
            response = getattr(http, probe.method)(probe.path(w, item), data, format="json")
        else:
            response = getattr(http, probe.method)(probe.path(w, item), data)
        got = outcome(response, api=probe.is_api)
        if probe.unavailable_answers and response.status_code == 503:
            got = OK
        changed = before is not None and state() != before
        transaction.set_rollback(True)
    http.cookies.pop("messages", None)  # a notice must not carry over to the next answer
    tally.requests += 1
    where = f"{probe} as {principal}" + (f" on {case[1]} {case[0]}-level" if case else "")
    leaked = principal not in probe.thread_readers and THREAD_MARK in response.content.decode(
        errors="replace"
    )
    if (expected != OK and got == OK) or changed or leaked:
        why = "changed the record" if changed else "showed a thread" if leaked else "allowed"
        tally.escalations.append(f"{where}: expected {expected}, got {got} ({why})")
    elif got != expected:
        tally.mismatches.append(f"{where}: expected {expected}, got {got}")


def test_every_route_with_every_role(world, capsys):
    tally = Tally()
    for probe in PROBES:
        for principal in probe.principals:
            for case in probe.cases or (None,):
                ask(world, probe, principal, case, tally)

    with capsys.disabled():
        print(
            f"\nrole matrix: {tally.requests} requests, {len(tally.escalations)} escalations, "
            f"{len(tally.mismatches)} other differences"
        )
    assert not tally.escalations, "\n".join(tally.escalations)
    assert not tally.mismatches, "\n".join(tally.mismatches)


# --- every route is in the matrix ----------------------------------------------------------


def _routes(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route


NOT_IN_THE_MATRIX = ("admin/", "static/", "media/")  # the admin has its own tests


def test_every_route_is_in_the_matrix():
    routes = {r for r in _routes() if not r.startswith(NOT_IN_THE_MATRIX)}
    probed = {probe.route for probe in PROBES}

    assert routes - probed == set(), "classify the new route in PROBES"
    assert probed - routes == set(), "a probe of a route that no longer exists"
    # Every action of the item screen is asked, by every role, not only the URL pattern.
    assert {p.screen_action for p in PROBES if p.screen_action} == {
        *workspace_views.ACTIONS,
        "reassign",
    }
