import pytest
from django.core.management import call_command

from accounts.models import Clinic, Membership, Role
from routing.models import WorkItem
from triage.models import Message

pytestmark = pytest.mark.django_db


def test_load_demo_creates_two_clinics_with_every_role_and_routed_messages(
    active_model_version, capsys, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("load_demo")

    assert Clinic.objects.count() == 2
    for clinic in Clinic.objects.all():
        roles = set(Membership.objects.filter(clinic=clinic).values_list("role", flat=True))
        assert roles == set(Role.values)
    messages = Message.objects.count()
    assert 150 <= messages <= 250
    assert not Message.objects.exclude(status=Message.Status.ROUTED).exists()
    assert WorkItem.objects.count() == messages
    assert "onc-nurse" in capsys.readouterr().out

    call_command("load_demo")  # a second run loads nothing again
    assert Message.objects.count() == messages
