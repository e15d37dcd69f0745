"""The work item page and its actions under the scope of practice and "closed means
closed": a refusal is shown with its reason and changes nothing, buttons a person may not
use are not offered (with why), "Send to nurse triage", reopen, and where the screen goes
after closing, replying or reassigning (User.after_action)."""

import re

import pytest
from django.contrib.messages import get_messages

from accounts.models import Role, User
from routing import work_items
from routing.models import WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.routing.test_work_items_scope import make_item, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def clinic():
    clinic = ClinicFactory()
    ensure_default_queues(clinic=clinic)
    return clinic


def signed_in(client, clinic, role, **fields):
    user = StaffFactory(clinic=clinic, role=role, **fields)
    client.force_login(user)
    return user


def page(client, item: WorkItem) -> str:
    response = client.get(f"/work/items/{item.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- refusals on the screen -----------------------------------------------------------------


@pytest.mark.parametrize("action", ["claim", "reply", "close"])
def test_a_refused_action_shows_the_reason_and_changes_nothing(client, clinic, action):
    signed_in(client, clinic, Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="urgent")
    before = snapshot(item)

    response = client.post(f"/work/items/{item.pk}/{action}", {"body": "See you Tuesday."})

    assert response.status_code == 403
    verb = {"claim": "claim", "reply": "reply to", "close": "close"}[action]
    reason = (
        f"A clerical role may not {verb} an urgent clerical-level message: a nurse or "
        "physician must. Send it to nurse triage."
    )
    html = response.content.decode()
    assert f"<p data-refusal>{reason}</p>" in html
    assert f'<a href="/work/items/{item.pk}/">Back to the message</a>' in html
    assert snapshot(item) == before


def test_the_page_offers_only_what_the_person_may_do_and_says_why(client, clinic):
    signed_in(client, clinic, Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="urgent")

    html = page(client, item)

    assert 'id="claim"' not in html
    assert 'id="close"' not in html
    assert 'id="reply-body"' not in html
    assert (
        "A clerical role may not claim, reply to or close an urgent clerical-level message: "
        "a nurse or physician must. Send it to nurse triage."
    ) in html
    assert 'id="send-to-nurse"' in html
    assert 'id="reassign"' in html  # reassigning up stays open to anyone


def test_send_to_nurse_triage_reassigns_to_the_nurse_pool_with_a_reason(client, clinic):
    clerk = signed_in(client, clinic, Role.CLERICAL, after_action=User.AfterAction.STAY)
    item = make_item(clinic, level="clerical", acuity="urgent")
    form = re.search(
        r'<form[^>]*action="([^"]+)"[^>]*>(?:(?!</form>).)*id="send-to-nurse"',
        page(client, item),
        re.S,
    )
    fields = dict(re.findall(r'name="(target|reason)" value="([^"]*)"', form.group(0)))

    response = client.post(form.group(1), fields)

    assert flashed(response) == ["Reassigned."]
    item.refresh_from_db()
    assert (item.service_level, item.queue.role, item.status) == ("nurse", "nurse", "open")
    event = item.events.latest("id")
    assert (event.actor, event.reason) == (clerk, "outside the scope of practice of clerical")


def test_a_nurse_is_offered_every_action(client, clinic):
    signed_in(client, clinic, Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="urgent")

    html = page(client, item)

    for control in ('id="claim"', 'id="close"', 'id="reply-body"', 'id="reassign"'):
        assert control in html
    assert "data-scope-refusal" not in html
    assert 'id="send-to-nurse"' not in html


def test_a_nurse_may_not_close_a_physician_item_before_a_physician_replied(client, clinic):
    signed_in(client, clinic, Role.NURSE)
    item = make_item(clinic, level="physician", acuity="routine")

    html = page(client, item)

    assert 'id="close"' not in html
    assert 'id="claim"' in html
    assert "until a physician has replied on it" in html
    physician = StaffFactory(clinic=clinic, role=Role.PHYSICIAN)
    work_items.respond(actor=physician, item_id=item.pk, body="Take 5 mg.")
    assert 'id="close"' in page(client, item)


def test_the_keyboard_claim_posts_to_the_guarded_action_url(client, clinic):
    # work.js: "c" clicks #claim, the submit button of the claim form below.
    signed_in(client, clinic, Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")
    claim_form = (
        rf'<form method="post" action="/work/items/{item.pk}/claim">(?:(?!</form>).)*id="claim"'
    )
    assert re.search(claim_form, page(client, item), re.S)


# --- closed means closed --------------------------------------------------------------------


@pytest.fixture
def closed(clinic):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE, username="rn.closer")
    item = make_item(clinic, level="nurse", acuity="routine")
    work_items.claim(actor=nurse, item_id=item.pk)
    return work_items.close(actor=nurse, item_id=item.pk)


def test_a_closed_item_shows_who_closed_it_and_when_and_no_due_time(client, clinic, closed):
    signed_in(client, clinic, Role.PHYSICIAN)

    html = page(client, closed)

    assert re.search(
        r"data-closed>closed <time datetime=\"[^\"]+\">[^<]+</time> by <strong>rn.closer", html
    )
    assert "data-due" not in html
    assert "held by" not in html
    for control in (
        'id="claim"',
        'id="close"',
        'id="reply-body"',
        'id="reassign"',
        'id="escalate"',
    ):
        assert control not in html
    assert 'id="timer"' not in html  # no new timer on a closed item
    assert "This item is closed and read-only." in html
    assert 'id="reopen"' in html


def test_a_clerk_sees_who_may_reopen_a_closed_item(client, clinic, closed):
    signed_in(client, clinic, Role.CLERICAL)

    html = page(client, closed)

    assert 'id="reopen"' not in html
    assert "A clerical role may not reopen a closed message: a nurse or physician must." in html


@pytest.mark.parametrize(
    "action", ["claim", "reply", "close", "return", "escalate", "reassign", "timer-start"]
)
def test_every_action_on_a_closed_item_is_refused_on_the_screen(client, clinic, closed, action):
    signed_in(client, clinic, Role.PHYSICIAN)
    before = snapshot(closed)

    response = client.post(
        f"/work/items/{closed.pk}/{action}",
        {"body": "More", "reason": "more", "target": "role:physician"},
    )

    assert response.url == f"/work/items/{closed.pk}/"
    [message] = flashed(response)
    assert "closed" in message
    assert snapshot(closed) == before


def test_a_nurse_reopens_from_the_screen(client, clinic, closed):
    signed_in(client, clinic, Role.NURSE)

    client.post(f"/work/items/{closed.pk}/reopen", {"reason": ""})
    assert "Reopening needs a reason." in page(client, closed)  # shown, and so consumed
    closed.refresh_from_db()
    assert closed.status == "closed"  # a reason is needed

    response = client.post(f"/work/items/{closed.pk}/reopen", {"reason": "new lab result"})

    assert flashed(response) == ["Reopened: it is back in its queue."]
    closed.refresh_from_db()
    assert (closed.status, closed.closed_by, closed.closed_at) == ("open", None, None)
    assert "data-due" in page(client, closed)


# --- where the screen goes after an action ---------------------------------------------------


@pytest.fixture
def clerical_pool(clinic):
    """A clerk's pool: the item being worked, an urgent one the clerk may not take, one
    someone else holds, and two the clerk may take (the earlier due comes next)."""
    done = make_item(clinic, level="clerical", acuity="routine", due_in=1)
    make_item(clinic, level="clerical", acuity="urgent", due_in=2)  # out of scope
    held = make_item(clinic, level="clerical", acuity="routine", due_in=3)
    work_items.claim(actor=StaffFactory(clinic=clinic, role=Role.CLERICAL), item_id=held.pk)
    following = make_item(clinic, level="clerical", acuity="routine", due_in=30)
    later = make_item(clinic, level="clerical", acuity="routine", due_in=90)
    return {"done": done, "next": following, "later": later}


@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("close", {}),
        ("reply", {"body": "Tuesday at 3 pm works."}),
        ("reassign", {"target": "role:nurse", "reason": "a nurse should see it"}),
    ],
)
def test_after_an_action_the_next_item_of_the_queue_opens(
    client, clinic, clerical_pool, action, data
):
    signed_in(client, clinic, Role.CLERICAL)
    done = clerical_pool["done"]

    response = client.post(f"/work/items/{done.pk}/{action}", data)

    assert response.url == f"/work/items/{clerical_pool['next'].pk}/"
    following = WorkItem.objects.get(pk=clerical_pool["next"].pk)
    assert (following.status, following.claimed_by) == ("open", None)  # opened, not claimed


def test_with_stay_the_screen_stays_on_the_item(client, clinic, clerical_pool):
    signed_in(client, clinic, Role.CLERICAL, after_action=User.AfterAction.STAY)
    done = clerical_pool["done"]

    response = client.post(f"/work/items/{done.pk}/close")

    assert response.url == f"/work/items/{done.pk}/"
    assert flashed(response) == ["Closed."]


def test_with_nothing_left_the_screen_goes_back_to_the_queue(client, clinic):
    signed_in(client, clinic, Role.CLERICAL)
    item = make_item(clinic, level="clerical", acuity="routine")
    make_item(clinic, level="clerical", acuity="urgent")  # left, but not the clerk's to take

    response = client.post(f"/work/items/{item.pk}/close")

    assert response.url == f"/work/?queue={item.queue_id}"


def test_a_reassign_moves_on_in_the_queue_the_item_came_from(client, clinic):
    signed_in(client, clinic, Role.PHYSICIAN)
    item = make_item(clinic, level="physician", acuity="routine", due_in=5)
    following = make_item(clinic, level="physician", acuity="routine", due_in=50)
    make_item(clinic, level="nurse", acuity="emergent", due_in=1)  # the nurse pool's

    response = client.post(
        f"/work/items/{item.pk}/reassign", {"target": "role:nurse", "reason": "nurse can do"}
    )

    assert response.url == f"/work/items/{following.pk}/"


def test_a_refused_action_does_not_move_on(client, clinic, clerical_pool):
    signed_in(client, clinic, Role.MA)
    item = make_item(clinic, level="nurse", acuity="routine")

    response = client.post(f"/work/items/{item.pk}/close")

    assert response.status_code == 403  # the refusal page, not the next item


def test_the_after_action_choice_is_saved_from_the_item_page(client, clinic):
    user = signed_in(client, clinic, Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="routine")
    html = page(client, item)
    assert 'action="/work/after-action"' in html
    assert f'name="next" value="/work/items/{item.pk}/"' in html
    assert '<option value="next_item" selected>' in html

    response = client.post(
        "/work/after-action", {"after_action": "stay", "next": f"/work/items/{item.pk}/"}
    )

    assert response.url == f"/work/items/{item.pk}/"
    user.refresh_from_db()
    assert user.after_action == "stay"
    assert '<option value="stay" selected>' in page(client, item)


def test_the_after_action_choice_refuses_unknown_values_and_foreign_pages(client, clinic):
    user = signed_in(client, clinic, Role.NURSE)

    assert client.post("/work/after-action", {"after_action": "elsewhere"}).status_code == 400
    response = client.post(
        "/work/after-action", {"after_action": "stay", "next": "https://evil.example/"}
    )
    assert response.url == "/work/"
    assert client.get("/work/after-action").status_code == 405
    user.refresh_from_db()
    assert user.after_action == "stay"


def test_claim_next_on_the_screen_skips_what_the_role_may_not_take(client, clinic):
    signed_in(client, clinic, Role.CLERICAL)
    urgent = make_item(clinic, level="clerical", acuity="urgent")

    response = client.post("/work/next")

    assert response.url == "/work/"
    assert flashed(response) == ["Nothing waiting in your queues that your role may take."]
    assert WorkItem.objects.get(pk=urgent.pk).claimed_by is None


# --- roles that do not work messages, time and returns -----------------------------------------


@pytest.mark.parametrize(
    ("role", "way_out"),
    [
        (Role.BILLING, '<a href="/billing/">Go to the e-visits</a>'),
        (Role.ADMIN, '<a href="/">Go to the start page</a>'),
    ],
)
def test_billing_and_administrators_get_a_403_page_saying_why(client, clinic, role, way_out):
    signed_in(client, clinic, role)
    item = make_item(clinic, level="clerical", acuity="routine")

    for response in (
        client.get("/work/"),
        client.get(f"/work/items/{item.pk}/"),
        client.post(f"/work/items/{item.pk}/reply", {"body": "On my way."}),
        client.post("/work/next"),
    ):
        html = response.content.decode()
        assert response.status_code == 403
        assert "may not read or work patients&#x27; messages" in html
        assert way_out in html
        assert item.message.body not in html


def test_a_clerk_is_offered_no_timer_or_minutes_on_urgent_work_and_told_why(client, clinic):
    signed_in(client, clinic, Role.CLERICAL)
    urgent = make_item(clinic, level="clerical", acuity="urgent")
    routine = make_item(clinic, level="clerical", acuity="routine")

    html = page(client, urgent)

    assert 'id="timer"' not in html
    assert 'id="log-time"' not in html
    assert "may not log time on an urgent clerical-level message" in html
    assert 'id="log-time"' in page(client, routine)


def test_someone_elses_urgent_item_is_returned_only_by_who_may_take_it(client, clinic):
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)
    item = make_item(clinic, level="nurse", acuity="urgent")
    work_items.claim(actor=nurse, item_id=item.pk)
    signed_in(client, clinic, Role.CLERICAL)

    assert 'id="return"' not in page(client, item)
    before = snapshot(item)
    response = client.post(f"/work/items/{item.pk}/return")

    assert response.status_code == 403
    assert "may not return a message someone else holds" in response.content.decode()
    assert snapshot(item) == before
    client.force_login(StaffFactory(clinic=clinic, role=Role.PHYSICIAN))
    assert 'id="return"' in page(client, item)
