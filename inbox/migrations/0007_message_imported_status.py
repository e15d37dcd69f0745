# Imported history (import_messages --no-route) gets its own status, and the partial
# indexes of the sweep and the unrouted alert hold only messages still owed a routing.
# Written by hand: only these, so other inbox model changes of issue 22 get their own.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0006_access_api_reads"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="status",
            field=models.CharField(
                choices=[
                    ("received", "Received"),
                    ("classified", "Classified"),
                    ("routed", "Routed"),
                    ("imported", "Imported (history, not routed)"),
                ],
                default="received",
                max_length=16,
            ),
        ),
        migrations.RemoveIndex(model_name="message", name="message_not_routed"),
        migrations.RemoveIndex(model_name="message", name="message_unrouted_by_age"),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status__in", ["received", "classified"])),
                fields=["status_changed_at"],
                name="message_not_routed",
            ),
        ),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("status__in", ["received", "classified"])),
                fields=["created_at"],
                name="message_unrouted_by_age",
            ),
        ),
    ]
