"""The "Clinic administrators" group may view, add, change and delete their clinics'
scope of practice grants (routing.ScopeGrant): a clinic widens the default scope of
practice (routing/scope.py) without a developer. Which rows they see is decided by
accounts.admin_scoping.ClinicScopedAdmin, as for the rest of the clinic's configuration
(see 0002_clinic_administrators_group)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Clinic administrators"
CODENAMES = [f"{action}_scopegrant" for action in ("view", "add", "change", "delete")]


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permissions = [
        Permission.objects.get(content_type__app_label="routing", codename=codename)
        for codename in CODENAMES
    ]
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*permissions)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="routing", codename__in=CODENAMES)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_user_arrival_alert_after_action"),
        ("routing", "0002_after_hours_scope_grants_callback"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
