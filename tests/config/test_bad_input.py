"""Each server error of the security team's fuzzing run, replayed: bad input is a 4xx
with a reason (JSON under /api/), and nothing is stored from a refused request."""

import base64
import json

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import RequestFactory

from accounts.models import Role
from config.input import parse_count, parse_id
from config.request_limits import RequestLimitsMiddleware
from inbox.models import Conversation, Message, Patient
from routing.models import WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory, StaffFactory
from tests.routing.factories import QueueFactory, routed_item

pytestmark = pytest.mark.django_db

MESSAGES = "/api/v1/messages"


@pytest.fixture
def clinic():
    return ClinicFactory(slug="onc")


@pytest.fixture
def portal(clinic, client_for):
    return client_for(IntegrationFactory(clinic=clinic).account)


@pytest.fixture
def nurse(clinic):
    return StaffFactory(clinic=clinic, role=Role.NURSE)


def message(clinic, *, patient=None, **overrides) -> dict:
    body = {
        "external_id": "portal-1",
        "clinic": clinic.slug,
        "patient": {"mrn": "A-1", "name": "Ana Diaz", **(patient or {})},
        "body": "Can I take ibuprofen with my new blood pressure pill?",
        "sent_at": "2026-01-05T09:30:00Z",
    }
    return {**body, **overrides}


def stored() -> tuple[int, int, int]:
    return Message.objects.count(), Patient.objects.count(), Conversation.objects.count()


def assert_refused_as_json(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    answer = response.json()
    assert answer["detail"]
    return answer


def cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


# --- ids and numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("42", 42),
        ("²", None),  # isdigit() says yes, int() raises
        ("٣", None),  # int() would read 3
        ("-1", None),
        ("0", None),
        (" 7", None),
        ("9" * 19, None),  # above a bigint
        (str(2**63 - 1), 2**63 - 1),
        ("9" * 5000, None),  # int() refuses more than 4,300 digits
        ("", None),
        (None, None),
    ],
)
def test_ids_are_ascii_digits_that_fit_a_bigint(value, expected):
    assert parse_id(value) == expected


def test_counts_are_ascii_digits_up_to_their_maximum():
    assert parse_count("0", maximum=240) == 0
    assert parse_count("240", maximum=240) == 240
    assert parse_count("241", maximum=240) is None
    assert parse_count("\uff11\uff12", maximum=240) is None  # fullwidth "12"


def test_a_unicode_digit_as_queue_id_is_a_400(client_for, nurse):
    response = client_for(nurse).get("/api/v1/work-items", {"queue": "²"})

    answer = assert_refused_as_json(response, 400)
    assert "queue" in answer["errors"]


def test_an_id_beyond_a_bigint_in_the_path_is_a_404(client_for, nurse):
    response = client_for(nurse).post(f"/api/v1/work-items/{'9' * 25}/claim", {}, format="json")

    assert_refused_as_json(response, 404)


def test_staff_screens_read_unicode_digits_as_no_number(client, clinic, nurse):
    item = routed_item(clinic, level="nurse")
    client.force_login(nurse)

    assert client.get("/work/rows", {"shown": "²"}).status_code == 200
    response = client.post(
        f"/work/items/{item.pk}/reassign", {"target": "queue:²", "reason": "wrong pool"}
    )

    assert response.status_code == 302  # back to the item, with the service's refusal
    assert WorkItem.objects.get(pk=item.pk).queue_id == item.queue_id


def test_a_page_position_too_big_for_a_date_is_a_404_not_a_500(client, clinic, nurse):
    QueueFactory(clinic=clinic, role="nurse")
    client.force_login(nurse)

    response = client.get("/work/rows", {"after": f"1.{'9' * 18}.1"})

    assert response.status_code == 404


def test_billing_review_reads_unicode_digits_as_no_evisit(client, clinic):
    biller = StaffFactory(clinic=clinic, role=Role.BILLING)
    client.force_login(biller)

    response = client.post(
        "/billing/review", {"evisit": ["²", "٣"], "decision": "approve", "reason": ""}
    )

    assert response.status_code == 302


def test_an_unknown_billing_status_filter_is_a_400(client, client_for, clinic):
    biller = StaffFactory(clinic=clinic, role=Role.BILLING)
    client.force_login(biller)

    assert client.get("/billing/", {"status": "shipped"}).status_code == 400
    assert client.get("/billing/", {"code": "DROP TABLE"}).status_code == 400
    answer = assert_refused_as_json(
        client_for(biller).get("/api/v1/billing/evisits", {"status": "shipped"}), 400
    )
    assert "status" in answer["errors"]


# --- cursors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "made_up",
    [
        cursor("p=abc"),  # a position that is no number: ValueError in the queryset (500)
        cursor("p=²"),
        cursor(f"p={'9' * 40}"),
        cursor("o=1&r=1&p=1.5"),
        "not base64 at all!",
        "é",
        "A" * 2000,
    ],
)
def test_a_made_up_cursor_is_a_400_with_a_reason(client_for, nurse, made_up):
    response = client_for(nurse).get("/api/v1/work-items", {"cursor": made_up})

    answer = assert_refused_as_json(response, 400)
    assert "cursor" in answer["errors"]


def test_a_cursor_the_api_gave_out_still_pages(client_for, clinic, nurse):
    for _ in range(3):
        routed_item(clinic, level="nurse")
    api = client_for(nurse)

    first = api.get("/api/v1/work-items", {"page_size": "2"}).json()
    second = api.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


def test_a_made_up_outbox_cursor_is_a_400(portal, clinic):
    response = portal.get("/api/v1/outgoing-messages", {"clinic": clinic.slug, "cursor": "x"})

    assert_refused_as_json(response, 400)


# --- NUL bytes ------------------------------------------------------------------------


def test_a_nul_byte_in_a_query_parameter_is_a_400_before_any_query(portal, client_for, nurse):
    # It used to reach PostgreSQL, which refuses NUL in text with a DataError (500).
    answer = assert_refused_as_json(
        portal.get("/api/v1/outgoing-messages", {"clinic": "onc\x00"}), 400
    )
    assert answer["code"] == "nul_character"
    assert_refused_as_json(client_for(nurse).get("/api/v1/work-items", {"x\x00": "1"}), 400)


def test_a_nul_byte_in_a_staff_form_is_a_400_and_changes_nothing(client, clinic, nurse):
    item = routed_item(clinic, level="nurse")
    client.force_login(nurse)

    response = client.post(f"/work/items/{item.pk}/escalate", {"reason": "chest\x00pain"})

    assert response.status_code == 400
    assert "NUL" in response.content.decode()
    assert WorkItem.objects.get(pk=item.pk).escalation_level == item.escalation_level


def test_a_nul_byte_in_a_json_field_is_a_400_and_stores_nothing(portal, clinic):
    response = portal.post(MESSAGES, message(clinic, body="chest\x00pain"), format="json")

    answer = assert_refused_as_json(response, 400)
    assert "body" in answer["errors"]
    assert stored() == (0, 0, 0)


# --- size and depth -------------------------------------------------------------------


@pytest.mark.parametrize("megabytes", [3, 12])
def test_a_body_over_the_limit_is_a_json_413_and_stores_nothing(portal, clinic, megabytes):
    huge = json.dumps(message(clinic, body="a" * (megabytes * 1024 * 1024)))

    response = portal.post(MESSAGES, huge, content_type="application/json")

    answer = assert_refused_as_json(response, 413)
    assert answer["code"] == "too_large"
    assert stored() == (0, 0, 0)


def test_a_body_over_the_limit_on_a_staff_screen_is_a_plain_413(client, clinic, nurse):
    item = routed_item(clinic, level="nurse")
    client.force_login(nurse)

    response = client.post(f"/work/items/{item.pk}/reply", {"body": "a" * (2 * 1024 * 1024)})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/plain")


def test_an_over_limit_body_is_read_and_dropped_so_the_client_sees_the_413():
    # A server that answers and closes with the body unread makes the client's TCP stack
    # report a reset (gunicorn, 12 MB: BrokenPipeError before the fix) instead of the 413.
    body = b"a" * (12 * 1024 * 1024)
    request = RequestFactory().post("/api/v1/messages", body, content_type="application/json")

    response = RequestLimitsMiddleware(lambda r: pytest.fail("the view ran"))(request)

    assert response.status_code == 413
    assert request.read() == b""  # nothing left unread


def test_a_body_read_over_the_limit_by_a_view_is_a_json_413():
    # A body with no Content-Length (chunked) passes the first check; Django raises
    # RequestDataTooBig when a view reads it, which was Django's HTML 400.
    request = RequestFactory().post("/api/v1/messages", {}, content_type="application/json")

    response = RequestLimitsMiddleware(lambda r: None).process_exception(
        request, RequestDataTooBig("too big")
    )

    assert response.status_code == 413
    assert json.loads(response.content)["code"] == "too_large"


def test_json_nested_100000_deep_is_a_400_not_a_recursion_error(portal, clinic):
    deep = '{"a":' * 100_000 + "1" + "}" * 100_000

    response = portal.post(MESSAGES, deep, content_type="application/json")

    answer = assert_refused_as_json(response, 400)
    assert "nested" in answer["detail"]
    assert stored() == (0, 0, 0)


def test_json_one_level_past_the_limit_is_refused_and_at_the_limit_read(portal, clinic, settings):
    def nesting(depth: int) -> dict:
        # The message object is one level; an unknown field holds lists for the rest.
        extra: object = "x"
        for _ in range(depth - 1):
            extra = [extra]
        return message(clinic, extra=extra)

    limit = settings.JSON_MAX_DEPTH

    assert_refused_as_json(portal.post(MESSAGES, nesting(limit + 1), format="json"), 400)
    assert portal.post(MESSAGES, nesting(limit), format="json").status_code == 201


# --- dates and language ---------------------------------------------------------------


@pytest.mark.parametrize("birth_date", ["0001-01-01", "9999-12-31", "1899-12-31", "2999-01-01"])
def test_a_birth_date_out_of_range_is_a_400_and_stores_nothing(portal, clinic, birth_date):
    response = portal.post(
        MESSAGES, message(clinic, patient={"birth_date": birth_date}), format="json"
    )

    answer = assert_refused_as_json(response, 400)
    assert "birth_date" in answer["errors"]["patient"]
    assert stored() == (0, 0, 0)


def test_a_birth_date_in_range_is_kept(portal, clinic):
    response = portal.post(
        MESSAGES, message(clinic, patient={"birth_date": "1900-01-01"}), format="json"
    )

    assert response.status_code == 201
    assert str(Patient.objects.get().birth_date) == "1900-01-01"


@pytest.mark.parametrize(
    "sent_at",
    ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00", "1970-01-01T00:00:00Z", "2999-01-01"],
)
def test_a_sent_at_out_of_range_is_a_400_and_stores_nothing(portal, clinic, sent_at):
    response = portal.post(MESSAGES, message(clinic, sent_at=sent_at), format="json")

    answer = assert_refused_as_json(response, 400)
    assert "sent_at" in answer["errors"]
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("language", ["xx-not-a-language", "klingon", "e", "en-", "español"])
def test_an_unknown_language_is_a_400_and_stores_nothing(portal, clinic, language):
    response = portal.post(
        MESSAGES, message(clinic, patient={"preferred_language": language}), format="json"
    )

    answer = assert_refused_as_json(response, 400)
    assert "preferred_language" in answer["errors"]["patient"]
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize(
    ("sent", "kept"), [("ES", "es"), ("zh-Hans", "zh-hans"), ("en-US", "en"), ("ht", "ht")]
)
def test_a_known_language_is_kept_as_its_code(portal, clinic, sent, kept):
    response = portal.post(
        MESSAGES, message(clinic, patient={"preferred_language": sent}), format="json"
    )

    assert response.status_code == 201, response.content
    assert Patient.objects.get().preferred_language == kept
