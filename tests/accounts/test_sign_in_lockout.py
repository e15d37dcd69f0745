"""Repeated failed sign-ins lock a username out (domain.md, Safety and privacy): through
/login/, /admin/login/ and `authenticate()`, with the stored failure times moved back to
let time pass."""

import logging
import re
from datetime import timedelta

import pytest
from django.contrib.auth import SESSION_KEY, authenticate
from django.db.models import F
from django.test import Client
from django.utils import timezone

from accounts.models import FailedSignIn
from tests.accounts.factories import ClinicFactory, FailedSignInFactory, StaffFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' default
WRONG = "wrong horse battery"
LOCKED = (
    "Too many failed sign-ins for this username. Try again in 15 minutes, "
    "or ask an administrator to unlock it."
)
WRONG_MESSAGE = "Wrong username or password."


@pytest.fixture(autouse=True)
def _default_limits(settings):
    # The documented defaults, whatever the environment running the tests says.
    settings.LOGIN_LOCKOUT_FAILURES = 5
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.LOGIN_LOCKOUT_IP_FAILURES = 50
    settings.LOGIN_LOCKOUT_PROXY_COUNT = 0


def sign_in(client, username: str, password: str, url: str = "/login/", **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def alert(response) -> str:
    """The login page's announced error (role="alert"), or "" when there is none."""
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', response.content.decode())
    return match.group(1) if match else ""


def signed_in(client) -> bool:
    return SESSION_KEY in client.session


def fail(client, username: str, times: int, url: str = "/login/", **extra) -> None:
    for _ in range(times):
        assert sign_in(client, username, WRONG, url, **extra).status_code == 200


def move_failures_back(minutes: float) -> None:
    FailedSignIn.objects.update(attempted_at=F("attempted_at") - timedelta(minutes=minutes))


@pytest.fixture
def nurse():
    return StaffFactory(username="alice", clinic=ClinicFactory())


def test_five_wrong_passwords_then_the_right_one_is_refused_on_the_login_page(client, nurse):
    fail(client, "alice", 4)
    assert alert(sign_in(client, "alice", WRONG)) == LOCKED  # the fifth says so at once

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 200
    assert alert(response) == LOCKED
    assert not signed_in(client)


def test_four_wrong_passwords_still_say_wrong_password_and_the_right_one_signs_in(client, nurse):
    fail(client, "alice", 3)
    assert alert(sign_in(client, "alice", WRONG)) == WRONG_MESSAGE

    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_five_wrong_passwords_then_the_right_one_is_refused_on_the_admin_login(client):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    fail(client, "root", 5, url="/admin/login/")

    response = sign_in(client, "root", PASSWORD, url="/admin/login/")

    assert response.status_code == 200
    assert LOCKED in response.content.decode()
    assert not signed_in(client)
    assert client.get("/admin/").status_code == 302  # to the login page


def test_failures_on_the_admin_login_lock_the_staff_login_too(client, nurse):
    fail(client, "alice", 5, url="/admin/login/")
    assert alert(sign_in(client, "alice", PASSWORD)) == LOCKED


def test_authenticate_refuses_a_locked_username_whatever_calls_it(nurse):
    # Any password path (DRF basic auth, a future API login) goes through authenticate().
    for _ in range(5):
        assert authenticate(username="alice", password=WRONG) is None
    assert authenticate(username="alice", password=PASSWORD) is None


def test_the_right_password_works_once_the_lock_has_passed(client, nurse):
    fail(client, "alice", 5)
    move_failures_back(14)
    assert alert(sign_in(client, "alice", PASSWORD)) == (
        "Too many failed sign-ins for this username. Try again in 1 minute, "
        "or ask an administrator to unlock it."
    )

    move_failures_back(1.1)
    response = sign_in(client, "alice", PASSWORD)

    assert response.status_code == 302
    assert signed_in(client)


def test_trying_on_during_a_lock_does_not_extend_it(client, nurse):
    fail(client, "alice", 5)
    move_failures_back(10)
    fail(client, "alice", 3)  # refused by the lock, not counted
    assert FailedSignIn.objects.count() == 5

    move_failures_back(5.1)

    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_five_failures_spread_over_more_than_the_window_do_not_lock(client, nurse):
    for _ in range(5):
        fail(client, "alice", 1)
        move_failures_back(4)  # the five span 16 minutes

    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_success_before_the_limit_clears_the_count(client, nurse):
    fail(client, "alice", 4)
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    client.logout()

    fail(client, "alice", 4)

    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_an_unknown_username_gets_the_same_lockout_message(client, nurse):
    fail(client, "alice", 5)
    fail(client, "nobody-here", 5)

    known = sign_in(client, "alice", PASSWORD)
    unknown = sign_in(client, "nobody-here", PASSWORD)

    assert alert(known) == alert(unknown) == LOCKED
    assert known.status_code == unknown.status_code == 200


def test_case_variants_of_a_username_count_together(client, nurse):
    for typed in ["Alice", "ALICE", " alice", "aLiCe", "alice"]:
        fail(client, typed, 1)

    assert alert(sign_in(client, "alice", PASSWORD)) == LOCKED
    assert set(FailedSignIn.objects.values_list("username", flat=True)) == {"alice"}


def test_other_usernames_are_not_locked_by_one_username(client, nurse):
    StaffFactory(username="bob", clinic=nurse.clinics.get())
    fail(client, "alice", 5)

    assert sign_in(client, "bob", PASSWORD).status_code == 302


def test_a_locked_users_existing_session_is_not_ended(client, nurse):
    # Decided: a lockout stops new sign-ins only. Ending sessions too would let anyone
    # sign a nurse out mid-shift by typing five wrong passwords for her username.
    client.force_login(nurse)
    assert client.get("/work/").status_code == 200
    elsewhere = Client()
    fail(elsewhere, "alice", 5)
    assert alert(sign_in(elsewhere, "alice", PASSWORD)) == LOCKED

    assert client.get("/work/").status_code == 200


def test_one_address_trying_many_usernames_is_locked_out(client, settings, nurse):
    settings.LOGIN_LOCKOUT_IP_FAILURES = 6
    for n in range(6):
        fail(client, f"guess{n}", 1, REMOTE_ADDR="203.0.113.7")

    from_there = sign_in(client, "alice", PASSWORD, REMOTE_ADDR="203.0.113.7")

    assert from_there.status_code == 200
    assert alert(from_there) == (
        "Too many failed sign-ins from this network address. Try again in 15 minutes, "
        "or ask an administrator to unlock it."
    )
    assert sign_in(client, "alice", PASSWORD, REMOTE_ADDR="198.51.100.4").status_code == 302


def test_behind_a_proxy_the_forwarded_client_address_is_counted(client, settings, nurse):
    settings.LOGIN_LOCKOUT_PROXY_COUNT = 1
    # What the client claims comes first; the load balancer appends what it saw.
    fail(client, "alice", 1, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")

    assert FailedSignIn.objects.get().ip_address == "203.0.113.7"


def test_the_lockout_start_is_logged_without_the_password(client, nurse, caplog):
    with caplog.at_level(logging.WARNING, logger="accounts.services"):
        fail(client, "alice", 4)
        assert caplog.records == []
        fail(client, "alice", 1)

    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "'alice'" in record.getMessage()
    assert "127.0.0.1" in record.getMessage()
    assert WRONG not in record.getMessage()


def test_failures_older_than_a_day_are_pruned_when_one_is_recorded(client):
    old = FailedSignInFactory(attempted_at=timezone.now() - timedelta(days=1, minutes=1))
    recent = FailedSignInFactory(attempted_at=timezone.now() - timedelta(hours=23))

    fail(client, "someone", 1)

    assert not FailedSignIn.objects.filter(pk=old.pk).exists()
    assert FailedSignIn.objects.filter(pk=recent.pk).exists()
    assert FailedSignIn.objects.count() == 2
