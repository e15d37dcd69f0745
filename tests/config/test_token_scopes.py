"""Every API and FHIR route of config.urls, asked with API tokens (issue 22):

- a token without the route's scope gets 403 naming the scope (all other scopes given, on
  its own clinic's object, so nothing but the scope can refuse it);
- a token of clinic A with every scope gets 404 on clinic B's object (a list never shows
  B's rows), while the same request on A's object is served (the control: a 404 that
  every caller gets would prove nothing).

ROUTES is written out by hand, route by route (principal, scope per method, how to name
a clinic's object): the scope each view declares is compared with it, not read from it.
test_every_api_and_fhir_route_is_in_the_table fails on a route added without a row."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Role
from accounts.scopes import ALL_SCOPES
from accounts.services import issue_api_token
from billing.models import EVisit
from inbox import services as inbox_services
from inbox.models import Message
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.factories import RoutingRuleFactory, routed_item

pytestmark = pytest.mark.django_db

INTEGRATION = "integration"
FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class Target:
    """One request on one clinic's data."""

    kwargs: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: dict | None = None
    content_type: str = "application/json"
    # Strings the answer shows for this clinic's rows (lists): A's must appear, B's never.
    shows: tuple[str, ...] = ()


@dataclass(frozen=True)
class Row:
    route: str
    method: str
    scope: str | None  # None: no scope needed (no clinic data behind it)
    principal: str = INTEGRATION  # or a Role: whose token
    target: Callable[[SimpleNamespace], Target] = lambda c: Target()
    # Clinic B's object for A's token: 404 for an id or slug; a list filters it out (200);
    # FHIR intake names patients, and B's is an unknown patient to A's integration (422).
    cross_status: int | None = 404


def quoted(value) -> str:
    return json.dumps(value)


def portal_message(c) -> dict:
    return {
        "external_id": f"sweep-{c.clinic.slug}",
        "clinic": c.clinic.slug,
        "patient": {"mrn": c.item.message.conversation.patient.mrn},
        "body": "Is it normal to feel dizzy after the new pills?",
    }


def communication(c) -> dict:
    mrn = c.item.message.conversation.patient.mrn
    return {
        "resourceType": "Communication",
        "identifier": [{"system": "urn:example:portal", "value": f"sweep-{c.clinic.slug}"}],
        "status": "completed",
        "subject": {"reference": f"Patient/{mrn}"},
        "payload": [{"contentString": "Is it normal to feel dizzy after the new pills?"}],
    }


def item_action(action: str, body: dict, principal=Role.NURSE, scope="work:write") -> Row:
    return Row(
        f"api/v1/work-items/<int:item_id>/{action}",
        "post",
        scope,
        principal,
        lambda c: Target(kwargs={"item_id": c.item.pk}, body=body),
    )


ROUTES = [
    # Documentation and capabilities: no clinic's data, any token (or none for metadata).
    Row("api/schema/", "get", None, cross_status=None),
    Row("api/docs/", "get", None, cross_status=None),
    Row("fhir/metadata", "get", None, cross_status=None),
    # The portal's and EHR's own work.
    Row(
        "api/v1/messages",
        "post",
        "messages:write",
        target=lambda c: Target(body=portal_message(c)),
    ),
    # A batch naming clinic B is answered 200, each message rejected as not found.
    Row(
        "api/v1/messages:batch",
        "post",
        "messages:write",
        target=lambda c: Target(body={"messages": [portal_message(c)]}),
        cross_status=200,
    ),
    Row(
        "api/v1/messages",
        "get",
        "messages:read",
        target=lambda c: Target(
            query={
                "conversation_id": c.item.message.conversation.external_id,
                "clinic": c.clinic.slug,
            }
        ),
    ),
    Row(
        "api/v1/messages/<int:message_id>",
        "get",
        "messages:read",
        target=lambda c: Target(kwargs={"message_id": c.item.message_id}),
    ),
    Row(
        "api/v1/outgoing-messages",
        "get",
        "outbox:read",
        target=lambda c: Target(query={"clinic": c.clinic.slug}),
    ),
    Row(
        "api/v1/outgoing-messages/<int:reply_id>/delivered",
        "post",
        "outbox:write",
        target=lambda c: Target(kwargs={"reply_id": c.reply.pk}),
    ),
    Row(
        "fhir/Communication",
        "post",
        "fhir:write",
        target=lambda c: Target(body=communication(c), content_type=FHIR_JSON),
        cross_status=422,
    ),
    Row(
        "fhir/Communication/<int:message_id>",
        "get",
        "fhir:read",
        target=lambda c: Target(kwargs={"message_id": c.item.message_id}),
    ),
    Row(
        "fhir/Task",
        "get",
        "fhir:read",
        target=lambda c: Target(shows=(quoted(f"Communication/{c.item.message_id}"),)),
        cross_status=None,
    ),
    # Staff work.
    Row(
        "api/v1/work-items",
        "get",
        "work:read",
        Role.NURSE,
        lambda c: Target(shows=(f'"id":{c.item.pk},',)),
        cross_status=None,
    ),
    Row(
        "api/v1/work-items/<int:item_id>",
        "get",
        "work:read",
        Role.NURSE,
        lambda c: Target(kwargs={"item_id": c.item.pk}),
    ),
    item_action("claim", {}),
    item_action("reply", {"body": "Please call us."}),
    item_action("close", {"reason": "answered by phone"}),
    item_action("reopen", {"reason": "patient wrote again"}),
    item_action("reassign", {"reason": "needs a doctor", "role": "physician"}),
    item_action("correct", {"label": "acuity", "to": "urgent", "reason": "worse"}),
    item_action("time", {"minutes": 5}, principal=Role.PHYSICIAN, scope="time:write"),
    Row(
        "api/v1/time-entries",
        "get",
        "work:read",
        Role.BILLING,
        lambda c: Target(query={"conversation": c.evisit.conversation_id}),
    ),
    Row(
        "api/v1/billing/evisits",
        "get",
        "billing:read",
        Role.BILLING,
        lambda c: Target(shows=(quoted(c.clinic.slug),)),
        cross_status=None,
    ),
    Row(
        "api/v1/billing/evisits/<int:evisit_id>",
        "get",
        "billing:read",
        Role.BILLING,
        lambda c: Target(kwargs={"evisit_id": c.evisit.pk}),
    ),
    # Administrators' reads.
    Row(
        "api/v1/queues",
        "get",
        "admin:read",
        Role.ADMIN,
        lambda c: Target(shows=(quoted(c.clinic.slug),)),
        cross_status=None,
    ),
    Row(
        "api/v1/routing-rules",
        "get",
        "admin:read",
        Role.ADMIN,
        lambda c: Target(shows=(quoted(c.rule.name),)),
        cross_status=None,
    ),
    Row(
        "api/v1/operations",
        "get",
        "admin:read",
        Role.ADMIN,
        lambda c: Target(query={"clinic": c.clinic.slug}),
    ),
]


def _clinic(mark: str) -> SimpleNamespace:
    c = SimpleNamespace(clinic=ClinicFactory())
    ensure_default_queues(clinic=c.clinic)
    c.people = {role: StaffFactory(clinic=c.clinic, role=role) for role in Role}
    c.people[INTEGRATION] = IntegrationFactory(clinic=c.clinic).account
    c.item = routed_item(c.clinic, subject=f"Dizzy {mark}")
    c.reply = inbox_services.send_reply(
        in_reply_to=c.item.message, body="Take it with food.", author=c.people[Role.NURSE]
    )
    c.evisit = EVisit.objects.create(
        clinic=c.clinic,
        conversation=c.item.message.conversation,
        status=EVisit.Status.READY,
        code="99422",
        minutes=12,
        amount=Decimal("31.00"),
        window_start=timezone.now() - timezone.timedelta(days=2),
    )
    c.rule = RoutingRuleFactory(clinic=c.clinic, name=f"Rule of clinic {mark}")
    return c


@pytest.fixture
def clinics(active_model_version) -> tuple[SimpleNamespace, SimpleNamespace]:
    return _clinic("A"), _clinic("B")


def ask(row: Row, token: str | None, target: Target):
    client = APIClient()
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    url = "/" + row.route
    for name, value in target.kwargs.items():
        url = url.replace(f"<int:{name}>", str(value))
    if row.method == "get":
        return client.get(url, target.query)
    body = json.dumps(target.body or {})
    return client.post(url, body, content_type=target.content_type)


def token_for(clinic: SimpleNamespace, row: Row, scopes) -> str:
    _, token = issue_api_token(user=clinic.people[row.principal], created_by=None, scopes=scopes)
    return token


def row_id(row: Row) -> str:
    return f"{row.method.upper()} {row.route}"


SCOPED = [row for row in ROUTES if row.scope is not None]


@pytest.mark.parametrize("row", SCOPED, ids=row_id)
def test_a_token_without_the_routes_scope_is_refused_naming_it(clinics, row):
    a, _ = clinics
    lacking = token_for(a, row, ALL_SCOPES - {row.scope})
    having = token_for(a, row, {row.scope})
    messages_before = Message.objects.count()

    refused = ask(row, lacking, row.target(a))

    assert refused.status_code == 403, refused.content[:300]
    assert row.scope in refused.content.decode()
    assert Message.objects.count() == messages_before
    served = ask(row, having, row.target(a))
    assert served.status_code not in (401, 403, 404), served.content[:300]


@pytest.mark.parametrize("row", [r for r in ROUTES if r.cross_status], ids=row_id)
def test_a_token_of_clinic_a_finds_nothing_of_clinic_b(clinics, row):
    a, b = clinics
    token = token_for(a, row, ALL_SCOPES)
    b_messages = Message.objects.filter(clinic=b.clinic).count()

    across = ask(row, token, row.target(b))

    assert across.status_code == row.cross_status, across.content[:300]
    assert b.clinic.slug not in across.content.decode()
    assert Message.objects.filter(clinic=b.clinic).count() == b_messages
    served = ask(row, token, row.target(a))
    assert served.status_code not in (401, 403, 404), served.content[:300]


@pytest.mark.parametrize("row", [r for r in ROUTES if r.scope and not r.cross_status], ids=row_id)
def test_a_list_shows_clinic_a_rows_to_its_token_and_never_clinic_b_rows(clinics, row):
    a, b = clinics
    token = token_for(a, row, ALL_SCOPES)

    answer = ask(row, token, row.target(a))

    assert answer.status_code == 200, answer.content[:300]
    text = answer.content.decode()
    for shown in row.target(a).shows:
        assert shown in text
    for hidden in row.target(b).shows:
        assert hidden not in text


@pytest.mark.parametrize("row", [r for r in ROUTES if r.scope is None], ids=row_id)
def test_routes_without_clinic_data_take_any_token(clinics, row):
    a, _ = clinics
    assert ask(row, token_for(a, row, []), row.target(a)).status_code == 200


# --- the table is complete and says what the views say --------------------------------------


def _routes(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        else:
            yield route, pattern.callback


def test_every_api_and_fhir_route_is_in_the_table():
    routes = {r for r, _ in _routes() if r.startswith(("api/", "fhir/"))}
    tabled = {row.route for row in ROUTES}

    assert routes - tabled == set(), "add the new API/FHIR route to ROUTES"
    assert tabled - routes == set(), "a row for a route that no longer exists"


ROUTED = {row.route for row in ROUTES}


def test_each_view_declares_the_scope_of_the_table():
    views = {r: getattr(cb, "view_class", None) or cb.cls for r, cb in _routes() if r in ROUTED}
    for row in ROUTES:
        declared = getattr(views[row.route], "required_scopes", None) or {}
        assert declared.get(row.method.upper()) == row.scope, row_id(row)
