"""A locked-out sign-in does not tell whether the username belongs to anyone: after the
same failures, a real account and a made-up name get the same status and the same page,
word for word (only the CSRF token and the echoed username differ), on /login/ and on
/admin/login/, with the right password or a wrong one."""

import re

import pytest

from accounts.models import Role
from tests.accounts.factories import ClinicFactory, StaffFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' default
WRONG = "wrong horse battery"
REAL, MADE_UP = "alice", "nobody-here"
LOCKED = "Too many failed sign-ins for this username."


@pytest.fixture(autouse=True)
def _default_limits(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 5
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.LOGIN_LOCKOUT_IP_FAILURES = 0
    settings.LOGIN_LOCKOUT_PROXY_COUNT = 0


@pytest.fixture(autouse=True)
def _real_account():
    # Staff for the admin too, so its login cannot answer "not a staff account" either.
    user = StaffFactory(username=REAL, clinic=ClinicFactory(), role=Role.ADMIN)
    user.is_staff = True
    user.save(update_fields=["is_staff"])


def sign_in(client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


def page_without(response, username: str) -> str:
    """The page, with what may differ between two sign-ins whatever the name: the CSRF
    tokens (a new one per sign-in attempt) and the username the admin's form echoes."""
    html = response.content.decode()
    html = re.sub(r"[A-Za-z0-9]{64}", "TOKEN", html)
    return html.replace(f'value="{username}"', 'value="USERNAME"')


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
@pytest.mark.parametrize("password", [PASSWORD, WRONG])
def test_a_locked_account_and_a_made_up_name_get_the_same_answer(client, url, password):
    for username in (REAL, MADE_UP):
        for _ in range(5):
            sign_in(client, url, username, WRONG)

    real = sign_in(client, url, REAL, password)
    made_up = sign_in(client, url, MADE_UP, password)

    assert real.status_code == made_up.status_code == 200
    assert LOCKED in real.content.decode()
    assert page_without(real, REAL) == page_without(made_up, MADE_UP)


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_the_failure_that_starts_the_lock_reads_the_same_for_both(client, url):
    answers = {}
    for username in (REAL, MADE_UP):
        for _ in range(4):
            sign_in(client, url, username, WRONG)
        answers[username] = sign_in(client, url, username, WRONG)

    real, made_up = answers[REAL], answers[MADE_UP]
    assert real.status_code == made_up.status_code == 200
    assert LOCKED in real.content.decode()
    assert page_without(real, REAL) == page_without(made_up, MADE_UP)


@pytest.mark.parametrize("url", ["/login/", "/admin/login/"])
def test_before_the_lock_a_wrong_password_and_a_made_up_name_read_the_same(client, url):
    real = sign_in(client, url, REAL, WRONG)
    made_up = sign_in(client, url, MADE_UP, WRONG)

    assert real.status_code == made_up.status_code == 200
    assert LOCKED not in real.content.decode()
    assert page_without(real, REAL) == page_without(made_up, MADE_UP)
