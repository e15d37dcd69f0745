import pytest
from django.core.management import call_command

from accounts.models import CLINIC_ADMINISTRATORS_GROUP, Clinic, Membership, Role, User
from inbox.models import Message
from routing.models import WorkItem

pytestmark = pytest.mark.django_db


def test_load_demo_creates_two_clinics_with_every_role_and_routed_messages(
    active_model_version, capsys, django_capture_on_commit_callbacks, client
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

    # Each clinic's administrator uses the admin for that clinic only; no superuser.
    assert not User.objects.filter(is_superuser=True).exists()
    onc_admin = User.objects.get(username="onc-admin")
    assert onc_admin.is_staff
    assert onc_admin.groups.filter(name=CLINIC_ADMINISTRATORS_GROUP).exists()
    client.force_login(onc_admin)
    assert client.get("/admin/").status_code == 200
    listed = client.get("/admin/routing/workitem/").context["cl"].queryset
    oncology = Clinic.objects.get(memberships__user=onc_admin)
    assert listed.count() == WorkItem.objects.filter(clinic=oncology).count() > 0
    assert not listed.exclude(clinic=oncology).exists()

    call_command("load_demo")  # a second run loads nothing again
    assert Message.objects.count() == messages
