"""A generated-request run over every API route: thousands of requests with made-up
query parameters, ids and JSON bodies (wrong types, NUL bytes, Unicode digits, huge
numbers, deep nesting, broken JSON), each sent by a principal the route admits, so the
request reaches the route's own validation. Every answer must be JSON and below 500, and
a refused request (4xx) must leave every table it could write exactly as it was.

Repeatable: hypothesis is derandomized and keeps no example database, so CI sends the
same requests every run. `pytest -s` prints how many were sent per route."""

import json
from collections import Counter
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from billing.models import TimeEntry
from inbox.models import Conversation, Message, OutgoingMessage, Patient, PatientChange
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.factories import routed_item

pytestmark = pytest.mark.django_db

# Each route gets this many generated requests (some strategies send two): over 2,000 in
# all, in well under a minute on one core.
EXAMPLES_PER_ROUTE = 175
MINIMUM_REQUESTS = 2_000

# Tables a refused request must not touch.
WRITTEN = (Message, Patient, PatientChange, Conversation, OutgoingMessage, TimeEntry, WorkEvent)

# --- values a fuzzer tries first -------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",  # isdigit() is True, int() raises
    "٣",  # int() reads 3
    "\uff11\uff12",  # fullwidth "12"
    "-1",
    "0",
    "1.5",
    "1e999",
    "9" * 25,
    "9" * 5000,  # int() refuses over 4,300 digits
    str(2**63),
    "NaN",
    "null",
    "true",
    "[]",
    "{}",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "%00",
    "\u202e",
    "🙂" * 50,
    "x" * 70_000,
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59Z",
    "2026-02-30",
]
# Text a URL can carry (no lone surrogates: they cannot be encoded into a query string).
url_text = st.one_of(
    st.sampled_from([t for t in NASTY_TEXT if len(t) < 6000]),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=40),
)
json_text = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40))
huge_int = st.one_of(
    st.integers(),
    st.sampled_from([0, -1, 2**31, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30]),
)
json_scalar = st.one_of(st.none(), st.booleans(), huge_int, st.floats(allow_nan=False), json_text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(json_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def deep(depth: int, *, kind: str) -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


raw_body = st.one_of(
    st.builds(deep, st.sampled_from([31, 32, 33, 64, 1_000, 100_000]), kind=st.just("list")),
    st.builds(deep, st.sampled_from([31, 33, 5_000, 100_000]), kind=st.just("dict")),
    st.binary(max_size=200),  # not UTF-8, not JSON
    st.sampled_from(['{"a": NaN}', '{"a": Infinity}', "{", '{"a": 1,}', "", "null", '"x"']),
    st.sampled_from(["1" * 5000, "[" + "1" * 5000 + "]", '{"minutes": 1e999}']),
)


def query(keys: list[str]):
    """Query parameters: the route's own names and random ones, with nasty values."""
    names = st.one_of(st.sampled_from(keys), url_text) if keys else url_text
    return st.dictionaries(names, url_text, max_size=4)


def with_fields(base: dict, fields: dict):
    """`base` with some fields dropped or replaced by any JSON value (most requests are
    almost valid, so each field's validation is reached), or any JSON value at all."""

    @st.composite
    def mutated(draw):
        body = dict(base)
        for name in draw(st.lists(st.sampled_from(sorted(fields)), max_size=3, unique=True)):
            if draw(st.booleans()):
                body.pop(name, None)
            else:
                body[name] = draw(st.one_of(fields[name], json_value))
        return body

    return st.one_of(mutated(), mutated(), json_value)


# --- the routes -------------------------------------------------------------------------


@pytest.fixture
def world(client_for):
    """One clinic with routed work, a reply waiting for the portal, and the principal
    each route admits; another clinic's item for ids that must stay not found."""
    clinic = ClinicFactory(slug="onc")
    items = [routed_item(clinic, level=level) for level in ("nurse", "physician", "nurse")]
    outsider_item = routed_item(ClinicFactory(), level="nurse")
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    biller = StaffFactory(clinic=clinic, role=Role.BILLING)
    portal = client_for(IntegrationFactory(clinic=clinic).account)
    reply = OutgoingMessage.objects.create(
        clinic=clinic,
        conversation=items[0].conversation,
        in_reply_to=items[0].message,
        kind=OutgoingMessage.Kind.STAFF_REPLY,
        body="Please come in on Tuesday.",
    )
    ids = st.one_of(st.sampled_from([i.pk for i in items] + [outsider_item.pk]), huge_int)
    return {
        "clinic": clinic,
        "ids": ids.filter(lambda i: 0 <= i < 10**25),  # the URL's <int:...> is digits only
        "reply_ids": st.one_of(st.just(reply.pk), ids),
        "queues": [items[0].queue_id, outsider_item.queue_id],
        "staff": client_for(nurse),
        "physician": client_for(physician),
        "biller": client_for(biller),
        "portal": portal,
    }


def message_body(clinic) -> dict:
    return {
        "external_id": "fuzz-1",
        "clinic": clinic.slug,
        "patient": {"mrn": "F-1", "name": "Ana Diaz", "preferred_language": "es"},
        "subject": "Question",
        "body": "Can I take ibuprofen with my blood pressure pill?",
        "category": "medication",
        "sent_at": "2026-01-05T09:30:00Z",
        "conversation_id": "",
    }


PATIENT_FIELDS = {
    "mrn": json_text,
    "name": json_text,
    "birth_date": st.sampled_from(["0001-01-01", "9999-12-31", "1899-12-31", "1980-02-29"]),
    "preferred_language": st.sampled_from(["xx-not-a-language", "ES", "en-US", "x" * 16, ""]),
    "on_chemotherapy": json_scalar,
    "phone": json_text,
}


def routes(world) -> dict:
    """Each route: a strategy drawing (client, method, path, query, body) requests."""
    clinic = world["clinic"]
    ids, staff = world["ids"], world["staff"]
    # Most posts carry no query string: the body's validation is what they are for.
    post_query = st.one_of(st.just({}), st.just({}), query([]))

    @st.composite
    def message_post(draw):
        base = message_body(clinic)
        base["external_id"] = f"fuzz-{draw(st.integers(0, 30))}"
        base["patient"] = draw(with_fields(base["patient"], PATIENT_FIELDS))
        fields = {
            "external_id": json_text,
            "clinic": json_text,
            "subject": json_text,
            "body": json_text,
            "category": json_text,
            "sent_at": st.sampled_from(["9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", "x"]),
            "conversation_id": json_text,
            "patient": json_value,
        }
        body = draw(st.one_of(with_fields(base, fields), raw_body))
        return world["portal"], "post", "/api/v1/messages", draw(post_query), body

    def action(name: str, valid: dict, fields: dict, client: str = "staff"):
        @st.composite
        def post(draw):
            path = f"/api/v1/work-items/{draw(ids)}/{name}"
            mostly_valid = with_fields(valid, fields)
            body = draw(st.one_of(mostly_valid, mostly_valid, raw_body))
            return world[client], "post", path, draw(post_query), body

        return post()

    @st.composite
    def get(draw, client, path, keys, extra=None):
        params = draw(query(keys))
        if extra is not None:
            params.update(draw(extra))
        return world[client], "get", path, params, None

    cursors = st.fixed_dictionaries(
        {},
        optional={
            "cursor": st.one_of(
                url_text, st.sampled_from(["cD1hYmM=", "cD3Csg==", "bz0xJnI9MQ=="])
            ),
            "page_size": url_text,
            "queue": st.one_of(url_text, st.sampled_from([str(q) for q in world["queues"]])),
        },
    )

    @st.composite
    def delivered(draw):
        path = f"/api/v1/outgoing-messages/{draw(world['reply_ids'])}/delivered"
        return (
            world["portal"],
            "post",
            path,
            draw(post_query),
            draw(st.one_of(json_value, raw_body)),
        )

    @st.composite
    def unknown_path(draw):
        # Paths the router does not match: "²", NUL, huge numbers where an id belongs.
        segment = draw(url_text.filter(lambda s: "/" not in s and "?" not in s and "#" not in s))
        method = draw(st.sampled_from(["get", "post"]))
        return staff, method, f"/api/v1/work-items/{segment}/claim", {}, None

    return {
        "POST messages": message_post(),
        "GET outgoing-messages": get(
            "portal",
            "/api/v1/outgoing-messages",
            ["clinic", "cursor", "page_size"],
            st.fixed_dictionaries(
                {"clinic": st.one_of(st.just(clinic.slug), url_text)},
                optional={"cursor": url_text, "page_size": url_text},
            ),
        ),
        "POST outgoing-messages/ID/delivered": delivered(),
        "GET work-items": get("staff", "/api/v1/work-items", ["queue", "cursor"], cursors),
        "POST work-items/ID/claim": action("claim", {}, {"x": json_value}),
        "POST work-items/ID/reply": action(
            "reply", {"body": "Come in Tuesday."}, {"body": json_text}, "physician"
        ),
        "POST work-items/ID/close": action("close", {}, {"reason": json_text}, "physician"),
        "POST work-items/ID/reopen": action(
            "reopen", {"reason": "lab came back"}, {"reason": json_text}, "physician"
        ),
        "POST work-items/ID/reassign": action(
            "reassign",
            {"reason": "needs a nurse", "role": "nurse"},
            {
                "reason": json_text,
                "role": st.sampled_from(["nurse", "physician", "billing", "²", "\x00"]),
                "queue_id": st.one_of(huge_int, st.sampled_from(world["queues"])),
                "person_id": huge_int,
            },
        ),
        "POST work-items/ID/time": action(
            "time", {"minutes": 12}, {"minutes": st.one_of(huge_int, json_text)}, "physician"
        ),
        "GET billing/evisits": get("biller", "/api/v1/billing/evisits", ["status"]),
        "unmatched API paths": unknown_path(),
    }


def snapshot() -> tuple:
    counts = tuple(model.objects.count() for model in WRITTEN)
    patients = tuple(Patient.objects.order_by("pk").values_list())
    items = tuple(WorkItem.objects.order_by("pk").values_list("status", "queue_id", "claimed_by"))
    return counts, patients, items


def send(client, method: str, path: str, params: dict, body) -> object:
    if method == "get":
        return client.get(path, params)
    if path.startswith("/api/v1/work-items/") and body is None:
        return client.post(path)
    if isinstance(body, bytes):
        raw = body
    elif isinstance(body, str):
        raw = body.encode("utf-8", "surrogatepass")
    else:
        raw = json.dumps(body).encode("utf-8", "surrogatepass")  # lone surrogates too
    url = f"{path}?{urlencode(params)}" if params else path
    return client.post(url, raw, content_type="application/json")


def fuzz(name: str, requests, statuses: dict[str, Counter]) -> None:
    """Sends EXAMPLES_PER_ROUTE generated requests of one route, checking each answer."""
    # The tables as the last request left them: only these requests change them.
    last = [snapshot()]

    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(requests)
    def run(request):
        client, method, path, params, body = request
        response = send(client, method, path, params, body)
        statuses[name][response.status_code] += 1
        before, last[0] = last[0], snapshot()
        where = f"{name}: {method.upper()} {path} {params!r} -> {response.status_code}"
        assert response.status_code < 500, where
        assert response["Content-Type"].startswith("application/json"), where
        json.loads(response.content)
        if response.status_code >= 400:
            assert last[0] == before, f"stored by a refused request: {where}"

    run()


def test_no_generated_request_gets_a_5xx_or_stores_anything_when_refused(world, capsys):
    statuses: dict[str, Counter] = {}

    for name, requests in routes(world).items():
        statuses[name] = Counter()
        fuzz(name, requests, statuses)

    overall = sum(statuses.values(), Counter())
    total = sum(overall.values())
    with capsys.disabled():
        print(f"\nbad-input fuzz: {total} requests, by status {dict(sorted(overall.items()))}")
        for name, counts in statuses.items():
            print(f"  {sum(counts.values()):5d}  {name}  {dict(sorted(counts.items()))}")
    assert total >= MINIMUM_REQUESTS
    # Valid requests were generated too, so the checks ran past validation as well.
    assert overall[201] > 0
    assert overall[200] > 0
