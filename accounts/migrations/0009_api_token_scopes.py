from django.db import migrations, models

# Tokens issued before scopes existed keep doing what they did: an integration's posted
# messages and collected replies; a staff member's worked the API their role allowed
# (the role still limits them). New tokens get only what their issuer ticks.
INTEGRATION_SCOPES = ["messages:write", "outbox:read", "outbox:write"]
STAFF_SCOPES = ["admin:read", "billing:read", "time:write", "work:read", "work:write"]


def scope_existing_tokens(apps, schema_editor):
    ApiToken = apps.get_model("accounts", "ApiToken")
    Integration = apps.get_model("accounts", "Integration")
    integration_accounts = Integration.objects.values("account_id")
    ApiToken.objects.filter(user_id__in=integration_accounts).update(scopes=INTEGRATION_SCOPES)
    ApiToken.objects.exclude(user_id__in=integration_accounts).update(scopes=STAFF_SCOPES)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_membership_is_manager"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scopes",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(scope_existing_tokens, migrations.RunPython.noop),
    ]
