"""The "Clinic administrators" group may view, add and change their clinics' integrations
and view the patient details those integrations sent (inbox.PatientChange). Which rows
they see is decided by accounts.admin_scoping.ClinicScopedAdmin; API tokens are issued
and revoked by ApiTokenAdmin, which checks the clinic itself."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Clinic administrators"
CODENAMES = {
    "accounts": ["view_integration", "add_integration", "change_integration"],
    "inbox": ["view_patientchange"],
}


def _permissions(Permission):
    return [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codenames in CODENAMES.items()
        for codename in codenames
    ]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*_permissions(apps.get_model("auth", "Permission")))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(*_permissions(apps.get_model("auth", "Permission")))


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_integrations_and_api_tokens"),
        ("inbox", "0003_patient_change"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
