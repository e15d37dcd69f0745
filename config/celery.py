import os

from celery import Celery
from django.db import InterfaceError, OperationalError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("portal_triage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Current in every thread, not only the one that imported this module: a threaded web
# server (or the live test server) must send tasks through this configured app, not a
# default one pointing at amqp://localhost.
app.set_default()

# One retry policy for every task: retry what can pass (the database went away or
# restarted), never a bug. Delivery is at least once (acks_late), so every task re-checks
# state under a row lock and may run twice.
DATABASE_RETRY = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
}
