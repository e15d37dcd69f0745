"""Quick replies (per clinic, role and language) and internal notes on work items; the
clinic's office phone for {clinic_phone}. The "Clinic administrators" group manages its
clinics' quick replies (ClinicScopedAdmin decides which rows)."""

import django.db.models.deletion
from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations, models

GROUP = "Clinic administrators"
CODENAMES = ["view_quickreply", "add_quickreply", "change_quickreply", "delete_quickreply"]


def _permissions(Permission):
    return list(
        Permission.objects.filter(content_type__app_label="routing", codename__in=CODENAMES)
    )


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
        ("accounts", "0010_clinic_configuration_version"),
        ("inbox", "0010_message_text_search"),
        ("routing", "0011_work_item_pending"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="clinicrouting",
            name="office_phone",
            field=models.CharField(blank=True, max_length=40, verbose_name="clinic phone"),
        ),
        migrations.CreateModel(
            name="InternalNote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("body", models.TextField(max_length=2000)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "author",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "conversation",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="internal_notes",
                        to="inbox.conversation",
                    ),
                ),
                (
                    "work_item",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="internal_notes",
                        to="routing.workitem",
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(fields=["conversation", "created_at"], name="note_by_conversation")
                ],
            },
        ),
        migrations.CreateModel(
            name="QuickReply",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                ("title", models.CharField(max_length=80)),
                (
                    "role",
                    models.CharField(
                        blank=True,
                        choices=[
                            ("clerical", "Clerical"),
                            ("ma", "Medical assistant"),
                            ("nurse", "Nurse"),
                            ("physician", "Physician / APP"),
                        ],
                        help_text="Leave blank to offer it to every role of the clinic.",
                        max_length=16,
                    ),
                ),
                (
                    "language",
                    models.CharField(
                        choices=[("en", "English"), ("es", "Español")], default="en", max_length=8
                    ),
                ),
                (
                    "body",
                    models.TextField(
                        help_text=(
                            "Placeholders: {patient_first_name}, {clinic_phone}, {staff_name}."
                        ),
                        max_length=4000,
                    ),
                ),
                ("active", models.BooleanField(default=True)),
                (
                    "clinic",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="quick_replies",
                        to="accounts.clinic",
                    ),
                ),
            ],
            options={
                "verbose_name": "quick reply",
                "verbose_name_plural": "quick replies",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("clinic", "title", "language", "role"),
                        name="quickreply_one_per_title_language_role",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            ("role__in", ["", "clerical", "ma", "nurse", "physician"])
                        ),
                        name="quickreply_role_answers_patients",
                    ),
                ],
            },
        ),
        migrations.RunPython(grant, revoke),
    ]
