import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("portal_triage")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Current in every thread, not only the one that imported this module: a threaded web
# server (or the live test server) must send tasks through this configured app, not a
# default one pointing at amqp://localhost.
app.set_default()
