"""Search (routing.search) on PostgreSQL: each message's words stored as a tsvector
(`search_text`, kept by a trigger) with a GIN index, a GIN index of patients' names, and
the access log's name for a page of search results.

A stored tsvector rather than an index on the expression: a common word ("pain") is
found fastest by walking the newest messages and testing each, and testing a stored
vector costs a microsecond where computing one from a long body costs fifty."""

import django.contrib.postgres.search
from django.db import migrations, models

INDEX = "message_text_search"
NAME_INDEX = "patient_name_search"
CONFIG = "simple"  # routing.search.TEXT_SEARCH_CONFIG

CREATE = [
    # PostgreSQL's own trigger function: to_tsvector(CONFIG, subject || ' ' || body).
    f"CREATE TRIGGER message_search_text BEFORE INSERT OR UPDATE OF subject, body"
    f" ON inbox_message FOR EACH ROW EXECUTE FUNCTION"
    f" tsvector_update_trigger(search_text, 'pg_catalog.{CONFIG}', subject, body)",
    # The rows already stored: the trigger above fills their search_text.
    "UPDATE inbox_message SET subject = subject",
    f"CREATE INDEX {INDEX} ON inbox_message USING gin (search_text)",
]
DROP = [
    f"DROP INDEX IF EXISTS {INDEX}",
    "DROP TRIGGER IF EXISTS message_search_text ON inbox_message",
]


def name_index():
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    # The very expression routing.search.matching_patient_ids filters on, built by the
    # same Django class (it adds a COALESCE), so PostgreSQL matches the query to the index.
    return GinIndex(SearchVector("name", config=CONFIG), name=NAME_INDEX)


def create(apps, schema_editor):
    # SQLite has no tsvector, trigger function or GIN: search there is a plain contains.
    if schema_editor.connection.vendor == "postgresql":
        for statement in CREATE:
            schema_editor.execute(statement)
        schema_editor.add_index(apps.get_model("inbox", "Patient"), name_index())


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("inbox", "Patient"), name_index())
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("inbox", "0009_access_patient_context_and_pending"),
    ]

    operations = [
        migrations.AddField(
            model_name="message",
            name="search_text",
            field=django.contrib.postgres.search.SearchVectorField(editable=False, null=True),
        ),
        migrations.RunPython(create, drop),
        migrations.AlterField(
            model_name="patientdataaccess",
            name="what",
            field=models.CharField(
                choices=[
                    ("message_thread", "Message thread"),
                    ("evisit_record", "E-visit billing record"),
                    ("queue_list", "Queue list (names, subjects, text preview)"),
                    ("search_results", "Search results (names, MRNs, subjects, text preview)"),
                    ("queue_list_api", "Queue list via API (subjects)"),
                    ("patient_context", "Patient context (earlier conversations)"),
                    ("pending_list", "Pending list (names and subjects)"),
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
