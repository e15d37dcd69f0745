from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("routing", "0009_list_query_indexes"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="workitem",
            index=models.Index(
                condition=models.Q(("status", "claimed")),
                fields=["claimed_by", "clinic", "acuity_rank", "due_at", "id"],
                name="workitem_held_by_person",
            ),
        ),
    ]
