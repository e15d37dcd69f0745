# The access log names the API v1 reads (a message, a conversation's messages, a work
# item, an e-visit record). Written by hand: only this field, so the inbox model changes
# other work of issue 22 makes get their own migration.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0005_access_corrections_export"),
    ]

    operations = [
        migrations.AlterField(
            model_name="patientdataaccess",
            name="what",
            field=models.CharField(
                choices=[
                    ("message_thread", "Message thread"),
                    ("evisit_record", "E-visit billing record"),
                    ("queue_list", "Queue list (names and subjects)"),
                    ("queue_list_api", "Queue list via API (subjects)"),
                    ("message_api", "Message via API (text)"),
                    ("message_list_api", "Conversation's messages via API (text)"),
                    ("work_item_api", "Work item via API (message text)"),
                    ("evisit_record_api", "E-visit billing record via API"),
                    ("evisit_list", "E-visit billing list"),
                    ("evisit_list_api", "E-visit billing list via API"),
                    ("claims_export", "Claims export file (CSV or FHIR)"),
                    ("portal_replies", "Replies collected by the patient portal"),
                    ("admin_visit_list", "Admin: patient visit list"),
                    ("admin_visit", "Admin: patient visit page"),
                    ("admin_claims_export", "Admin: claims export page (file content)"),
                    ("admin_access_log_list", "Admin: access log list"),
                    ("admin_access_log_entry", "Admin: access log entry page"),
                    ("admin_patient_list", "Admin: patient list (look-up)"),
                    ("admin_patient", "Admin: patient page"),
                    ("admin_patient_changes", "Admin: patient detail changes"),
                    (
                        "admin_corrections_export",
                        "Admin: label corrections export with message text",
                    ),
                ],
                max_length=32,
            ),
        ),
    ]
