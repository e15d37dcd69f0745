"""Pending (routing.pending): an item pended until a time or an event, out of the pools
until it returns; the clinic's policy on the SLA clock while pending. The pool index
leaves pended items out, so the pool pages and counts stay on it."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0009_access_patient_context_and_pending"),
        ("routing", "0010_work_item_held_by_person"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="clinicrouting",
            name="pause_sla_while_pending",
            field=models.BooleanField(
                default=False, verbose_name="pause the response clock while an item is pending"
            ),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pend_event",
            field=models.CharField(
                blank=True,
                choices=[("result", "Result back"), ("callback", "Patient callback")],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pend_pauses_sla",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pend_reason",
            field=models.CharField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pended_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pended_by",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="workitem",
            name="pended_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="workevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("routed", "Routed"),
                    ("message_added", "Message added"),
                    ("claimed", "Claimed"),
                    ("reassigned", "Reassigned"),
                    ("escalated", "Escalated"),
                    ("returned", "Returned to queue"),
                    ("responded", "Responded"),
                    ("closed", "Closed"),
                    ("reopened", "Reopened"),
                    ("assigned", "Assigned"),
                    ("covered", "Covered (out of office)"),
                    ("sla_breached", "SLA breached"),
                    ("alerted", "Alert sent"),
                    ("called_patient", "Called the patient"),
                    ("after_hours_acknowledged", "After hours: patient told to call"),
                    ("pended", "Pended"),
                    ("unpended", "Back from pending"),
                ],
                max_length=32,
            ),
        ),
        migrations.RemoveIndex(model_name="workitem", name="workitem_open_by_queue"),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("pended_until", None), ("status", "open")),
                fields=["queue", "acuity_rank", "due_at", "id"],
                name="workitem_open_by_queue",
            ),
        ),
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("pended_until__isnull", False)),
                fields=["pended_until"],
                name="workitem_pended_by_return",
            ),
        ),
    ]
