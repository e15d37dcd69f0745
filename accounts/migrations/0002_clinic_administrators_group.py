"""The "Clinic administrators" group: what a clinic's administrators may do in the Django
admin. Which rows they see is decided by accounts.admin_scoping.ClinicScopedAdmin (only their
clinics'); users, clinics and the fee schedule stay superuser-only whatever the group holds."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

GROUP = "Clinic administrators"

# The clinic's configuration: view, add, change and delete.
CONFIGURATION = {
    "accounts": ["absence"],
    "routing": [
        "queue",
        "routingrule",
        "slapolicy",
        "clinicrouting",
        "businesshours",
        "clinicclosure",
        "oncallshift",
        "autoreplytemplate",
    ],
    "billing": ["patientvisit"],
}
# Work, billing and audit records: view only.
RECORDS = {
    # Rule replays: requested from a rule's test page (which needs permission to change
    # rules). Patients: looked up when entering a patient visit.
    "routing": ["workitem", "workevent", "notification", "slabreach", "rulereplay"],
    "billing": ["timeentry", "evisit", "claimexport", "billingauditevent"],
    "inbox": ["patientdataaccess", "patient"],
}


def create_group(apps, schema_editor):
    # Permissions are normally created after all migrations; create them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = [
        (app, f"{action}_{model}")
        for app, models in CONFIGURATION.items()
        for model in models
        for action in ("view", "add", "change", "delete")
    ] + [(app, f"view_{model}") for app, models in RECORDS.items() for model in models]
    permissions = [
        Permission.objects.get(content_type__app_label=app, codename=codename)
        for app, codename in wanted
    ]
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(*permissions)


def delete_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("inbox", "0001_initial"),
        ("routing", "0001_initial"),
        ("billing", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, delete_group)]
