"""Clinic administrators see the replays they request of a rule edit (view only: a
replay is requested from the rule's test page, which needs permission to change rules)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Clinic administrators"


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    view = Permission.objects.get(content_type__app_label="routing", codename="view_rulereplay")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(view)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="routing", codename="view_rulereplay")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_clinic_administrators_view_patients"),
        ("routing", "0005_rulereplay"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
