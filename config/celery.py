import json
import logging
import os

from celery import Celery, signals
from celery.fixups.django import DjangoFixup, DjangoWorkerFixup
from celery.worker.consumer import Consumer
from django.db import InterfaceError, OperationalError, close_old_connections
from kombu.transport import redis as redis_transport
from kombu.transport.virtual import Empty

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


# --- Database connections kept between tasks -----------------------------------------
# Celery's Django fixup closes every database connection before and after each task, so
# CONN_MAX_AGE does nothing in a worker and each task opened a new PostgreSQL connection
# (539 per 500 messages, 12% of a routed message's time; issue 23). Around a task we do
# what Django does around a request instead: close_old_connections() closes a connection
# only when it is older than CONN_MAX_AGE or broke during the task, and re-arms the
# CONN_HEALTH_CHECKS check, so a connection the server dropped between tasks is replaced
# before the next task's first query. Worker start-up, forked pool children and embedded
# beat still close unconditionally (the fixup's close_database and _close_database).


class ConnectionKeepingWorkerFixup(DjangoWorkerFixup):
    def on_task_prerun(self, sender, **kwargs):
        if not getattr(sender.request, "is_eager", False):
            close_old_connections()

    def on_task_postrun(self, sender, **kwargs):
        if not getattr(sender.request, "is_eager", False):
            close_old_connections()
            self.close_cache()


@signals.celeryd_init.connect
def keep_database_connections(**kwargs) -> None:
    # Sent by `celery worker` before worker_init, where the fixup installs its worker
    # part. Celery has no public handle on an app's fixups; if this stops finding it,
    # tests/integration/test_worker_keeps_db_connection.py fails.
    for fixup in app._fixups:
        if isinstance(fixup, DjangoFixup):
            fixup.worker_fixup = ConnectionKeepingWorkerFixup(app)


# --- Poison messages ---------------------------------------------------------------------
# Anyone who can write to Redis can put anything in a queue list. Out of the box, kombu's
# Redis transport decodes each entry inside the worker's event loop and any error there
# ("not json", JSON that is not a message envelope, a body that does not base64-decode)
# escapes to Celery as "Unrecoverable error" and the worker exits: one bad entry stops
# triage for the whole clinic. The entry is already popped (BRPOP) when it fails, so
# dropping it loses nothing that could have run. We subclass the transport rather than
# patch kombu's module: the redis transport's parsing is not a hook, but its two entry
# points (_brpop_read for the event loop, _deliver for every parsed message) are methods,
# and the subclass is named in settings (CELERY_BROKER_TRANSPORT), so nothing global is
# changed. Errors Celery itself already survives (no task header, unknown task name,
# undecodable body) go through the consumer below, which logs them without the body.
# Log lines name the queue, the length and a short reason, never the content: a message
# body is PHI.

poison_logger = logging.getLogger("config.celery.poison")


def log_dropped(*, queue: str, length: int, reason: str) -> None:
    poison_logger.error(
        "dropped a malformed broker message: queue=%s length=%s reason=%s", queue, length, reason
    )


def envelope_problem(raw: object) -> str | None:
    """What kombu's virtual Message would fail on, checked before it is built (a failure
    while building it is fatal to the worker)."""
    if not isinstance(raw, dict):
        return f"envelope is a JSON {type(raw).__name__}, not an object"
    properties = raw.get("properties")
    if not isinstance(properties, dict):
        return "envelope has no properties"
    if not isinstance(properties.get("delivery_tag"), str):
        return "envelope has no delivery tag"
    if not isinstance(properties.get("delivery_info"), dict):
        return "envelope has no delivery info"
    if not isinstance(raw.get("headers", {}), dict):
        return "headers are not an object"
    if not isinstance(raw.get("body", ""), str):
        return "body is not a string"
    return None


class PoisonTolerantChannel(redis_transport.Channel):
    def _brpop_read(self, **options):
        try:
            return super()._brpop_read(**options)
        except json.JSONDecodeError as exc:
            # kombu moved the queue it just popped from to the end of its cycle before
            # decoding (kombu.utils.scheduling.round_robin_cycle.rotate).
            items = getattr(self._queue_cycle, "items", None) or ["?"]
            log_dropped(queue=items[-1], length=len(exc.doc), reason="not JSON")
            return True  # an entry was consumed: the loop goes on reading

    def _get(self, queue):
        try:
            return super()._get(queue)
        except json.JSONDecodeError as exc:
            log_dropped(queue=queue, length=len(exc.doc), reason="not JSON")
            raise Empty() from None


class PoisonTolerantRedisTransport(redis_transport.Transport):
    Channel = PoisonTolerantChannel

    def _deliver(self, message, queue):
        problem = envelope_problem(message)
        if problem is None and self.channels:
            try:  # the body's transfer encoding (base64) is decoded while building it
                self.channels[0].Message(message, channel=self.channels[0])
            except Exception:
                problem = "body does not decode"
        if problem is not None:
            # Measured only for the log line: every good message passes here too.
            log_dropped(queue=queue, length=len(json.dumps(message, default=str)), reason=problem)
            return
        super()._deliver(message, queue)


class PoisonTolerantConsumer(Consumer):
    """Celery already survives these, but its log lines include the message body."""

    def on_decode_error(self, message, exc):
        log_dropped(
            queue=_queue_of(message),
            length=len(message.body or b""),
            reason=f"body does not decode ({type(exc).__name__})",
        )
        message.ack()

    def on_unknown_message(self, body, message):
        log_dropped(queue=_queue_of(message), length=len(message.body or b""), reason="not a task")
        message.reject_log_error(poison_logger, self.connection_errors)

    def on_unknown_task(self, body, message, exc):
        name = str((message.headers or {}).get("task", "?"))[:80]
        log_dropped(
            queue=_queue_of(message),
            length=len(message.body or b""),
            reason=f"unknown task {name!r}",
        )
        message.reject_log_error(poison_logger, self.connection_errors)

    def on_invalid_task(self, body, message, exc):
        log_dropped(
            queue=_queue_of(message),
            length=len(message.body or b""),
            reason=f"invalid task message ({type(exc).__name__})",
        )
        message.reject_log_error(poison_logger, self.connection_errors)


def _queue_of(message) -> str:
    return str((message.delivery_info or {}).get("routing_key", "?"))
