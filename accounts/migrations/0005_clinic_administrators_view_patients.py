"""Clinic administrators look patients up (view only) when they enter a patient visit:
the visit form takes a patient id with a look-up in the clinic-scoped, logged patient
list instead of a drop-down naming every patient."""

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
    view_patient = Permission.objects.get(content_type__app_label="triage", codename="view_patient")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(view_patient)


def revoke(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    group = apps.get_model("auth", "Group").objects.filter(name=GROUP).first()
    if group is not None:
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="triage", codename="view_patient")
        )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_clinic_administrators_group"),
        ("triage", "0007_patientdataaccess_admin_patient_pages"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
