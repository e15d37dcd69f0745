"""Administrators unlock a locked-out username: the admin action (superusers only) and
`manage.py unlock_login`."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, FailedSignIn, Role
from tests.accounts.factories import (
    ClinicFactory,
    FailedSignInFactory,
    StaffFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FAILURES = "/admin/accounts/failedsignin/"
PASSWORD = "correct horse battery"
WRONG = "wrong horse battery"


@pytest.fixture(autouse=True)
def _default_limits(settings):
    settings.LOGIN_LOCKOUT_FAILURES = 5
    settings.LOGIN_LOCKOUT_MINUTES = 15
    settings.LOGIN_LOCKOUT_IP_FAILURES = 50


@pytest.fixture
def locked_nurse(client):
    nurse = StaffFactory(username="alice", clinic=ClinicFactory())
    for _ in range(5):
        client.post("/login/", {"username": "Alice", "password": WRONG})
    assert client.post("/login/", {"username": "alice", "password": PASSWORD}).status_code == 200
    return nurse


def signs_in(username: str) -> bool:
    from django.test import Client

    response = Client().post("/login/", {"username": username, "password": PASSWORD})
    return response.status_code == 302


def test_superuser_sees_failures_and_unlocks_the_selected_usernames(client, locked_nurse):
    FailedSignInFactory(username="bob")  # not selected: stays
    superuser = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(superuser)
    listing = client.get(FAILURES)
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    assert "127.0.0.1" in listing.content.decode()
    one_of_alices = FailedSignIn.objects.filter(username="alice").first()

    response = client.post(
        FAILURES,
        {"action": "unlock_usernames", "_selected_action": [one_of_alices.pk]},
        follow=True,
    )

    assert "Unlocked alice: 5 failed sign-ins cleared." in response.content.decode()
    assert list(FailedSignIn.objects.values_list("username", flat=True)) == ["bob"]
    assert signs_in("alice")


def test_unlocking_an_address_clears_every_username_tried_from_it(client, locked_nurse):
    FailedSignInFactory(username="bob", ip_address="192.0.2.99")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    row = FailedSignIn.objects.filter(username="alice").first()

    client.post(FAILURES, {"action": "unlock_addresses", "_selected_action": [row.pk]})

    assert list(FailedSignIn.objects.values_list("username", flat=True)) == ["bob"]
    assert signs_in("alice")


def test_failure_records_cannot_be_edited_or_deleted_by_hand(client, locked_nurse):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    row = FailedSignIn.objects.first()
    assert client.get(f"{FAILURES}add/").status_code == 403
    assert client.get(f"{FAILURES}{row.pk}/delete/").status_code == 403
    assert "delete_selected" not in client.get(FAILURES).content.decode()


def test_clinic_administrators_do_not_see_the_failures(client, locked_nurse):
    administrator = StaffFactory(is_staff=True, role=Role.ADMIN)
    administrator.groups.add(Group.objects.get(name=CLINIC_ADMINISTRATORS_GROUP))
    client.force_login(administrator)

    assert client.get(FAILURES).status_code == 403
    response = client.post(
        FAILURES,
        {"action": "unlock_usernames", "_selected_action": [FailedSignIn.objects.first().pk]},
    )
    assert response.status_code == 403
    assert FailedSignIn.objects.count() == 5


def test_unlock_login_command_clears_the_username_and_says_how_many(locked_nurse):
    FailedSignInFactory(username="bob")
    out = StringIO()

    call_command("unlock_login", "ALICE", stdout=out)

    assert out.getvalue() == "Cleared 5 failed sign-ins for username 'alice'.\n"
    assert list(FailedSignIn.objects.values_list("username", flat=True)) == ["bob"]
    assert signs_in("alice")


def test_unlock_login_command_for_a_username_with_no_failures_clears_nothing():
    out = StringIO()
    call_command("unlock_login", "nobody", stdout=out)
    assert out.getvalue() == "Cleared 0 failed sign-ins for username 'nobody'.\n"


def test_unlock_login_command_unlocks_an_address(locked_nurse):
    out = StringIO()
    call_command("unlock_login", "--ip", "127.0.0.1", stdout=out)
    assert out.getvalue() == "Cleared 5 failed sign-ins from address 127.0.0.1.\n"
    assert signs_in("alice")


@pytest.mark.parametrize("args", [[], ["--ip", "not-an-address"]])
def test_unlock_login_command_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("unlock_login", *args)
