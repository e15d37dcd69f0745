"""1,000 posted messages through real worker processes, PostgreSQL and Redis: each ends
in exactly one open work item of its own clinic's right queue, routed exactly once, also
when a worker is killed with SIGKILL halfway and a new one takes over."""

import collections
import time

import pytest
from django.conf import settings
from django.db.models import Count

from inbox.models import Conversation, Message
from routing import services
from routing.models import WorkEvent, WorkItem
from tests.accounts.factories import ClinicFactory, IntegrationFactory
from tests.routing.factories import QueueFactory, RoutingRuleFactory
from triage.ml.corpus import load_corpus
from triage.models import Classification

pytestmark = pytest.mark.integration

MESSAGES = 1_000
THREADS_WITH_A_REPLY = 50  # conversations that get a second message
ROUTING_KINDS = [
    WorkEvent.Kind.ROUTED,
    WorkEvent.Kind.MESSAGE_ADDED,
    WorkEvent.Kind.REASSIGNED,
    WorkEvent.Kind.REOPENED,
]


def two_clinics():
    oncology = ClinicFactory(slug="onc")
    primary = ClinicFactory(slug="pc")
    navigators = QueueFactory(clinic=oncology, role="nurse", name="Oncology nurse navigators")
    RoutingRuleFactory(
        clinic=oncology,
        name="Ports and lines",
        conditions={"keyword": ["port", "picc"]},
        action={"queue": navigators.pk},
    )
    posters = {
        oncology.slug: IntegrationFactory(clinic=oncology).account,
        primary.slug: IntegrationFactory(clinic=primary).account,
    }
    return oncology, primary, navigators, posters


def post_messages(client_for, posters) -> list[int]:
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    clients = {slug: client_for(user) for slug, user in posters.items()}
    slugs = sorted(clients)
    ids = []
    for n in range(MESSAGES):
        row = rows[(n * 7) % len(rows)]
        slug = slugs[n % 2]
        thread = (
            n - MESSAGES + 2 * THREADS_WITH_A_REPLY if n >= MESSAGES - THREADS_WITH_A_REPLY else n
        )
        body = row.body + (" Also my port site looks a bit red." if n % 10 == 4 else "")
        response = clients[slug].post(
            "/api/v1/messages",
            {
                "external_id": f"m-{n}",
                "conversation_id": f"t-{thread}",
                "clinic": slug,
                "patient": {"mrn": f"{slug}-{thread}"},
                "subject": row.subject,
                "body": body,
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def wait_until_routed(message_ids, *, seconds: float, at_least: int | None = None) -> int:
    target = len(message_ids) if at_least is None else at_least
    deadline = time.monotonic() + seconds
    while True:
        routed = Message.objects.filter(pk__in=message_ids, status=Message.Status.ROUTED).count()
        if routed >= target or time.monotonic() > deadline:
            return routed
        time.sleep(0.25)


def check_each_routed_once(message_ids, navigators) -> dict:
    messages = Message.objects.filter(pk__in=message_ids)
    assert messages.count() == MESSAGES
    assert not messages.exclude(status=Message.Status.ROUTED).exists()

    per_conversation = collections.Counter(
        WorkItem.objects.exclude(status=WorkItem.Status.CLOSED).values_list(
            "conversation_id", flat=True
        )
    )
    conversations = Conversation.objects.filter(messages__pk__in=message_ids).distinct()
    assert conversations.count() == MESSAGES - THREADS_WITH_A_REPLY
    assert all(per_conversation[c.pk] == 1 for c in conversations)

    events = collections.Counter(
        WorkEvent.objects.filter(kind__in=ROUTING_KINDS, message_id__in=message_ids).values_list(
            "message_id", flat=True
        )
    )
    routed_twice = [m for m in message_ids if events[m] != 1]
    assert routed_twice == [], f"{len(routed_twice)} messages not routed exactly once"

    wrong_clinic = WorkItem.objects.filter(conversation__in=conversations).exclude(
        queue__clinic_id=models_f("clinic_id")
    )
    assert not wrong_clinic.exists()

    # Single-message threads: the queue is the one the clinic's rules decide.
    single = conversations.annotate(n=Count("messages")).filter(n=1)
    wrong_queue = 0
    items = WorkItem.objects.filter(conversation__in=single).select_related(
        "message__conversation__patient", "clinic", "queue"
    )
    for item in items:
        classification = Classification.objects.get(message=item.message)
        decision, _, due_at = services.decide(
            message=item.message, classification=classification, clinic=item.clinic
        )
        expected = (
            decision.queue_id or services.default_queue(clinic=item.clinic, role=decision.role).pk
        )
        wrong_queue += item.queue_id != expected or item.due_at != due_at
    assert wrong_queue == 0
    in_navigators = WorkItem.objects.filter(queue=navigators)
    assert in_navigators.exists()
    assert not in_navigators.exclude(clinic=navigators.clinic).exists()
    return {
        "messages": messages.count(),
        "conversations": conversations.count(),
        "open_items": sum(per_conversation[c.pk] for c in conversations),
        "routing_events": sum(events.values()),
        "in_navigators_pool": in_navigators.count(),
    }


def models_f(name):
    from django.db.models import F

    return F(name)


def test_a_thousand_messages_each_get_one_item_in_the_right_queue(
    workers, active_model_version, client_for
):
    _, _, navigators, posters = two_clinics()
    workers.start("w1")
    workers.start("w2")
    started = time.monotonic()
    ids = post_messages(client_for, posters)
    routed = wait_until_routed(ids, seconds=90)
    elapsed = time.monotonic() - started
    assert routed == MESSAGES, f"only {routed} of {MESSAGES} routed"
    counts = check_each_routed_once(ids, navigators)
    print(f"posted and routed {MESSAGES} messages in {elapsed:.1f}s with 2 workers: {counts}")


def test_killing_a_worker_midway_loses_nothing_and_routes_nothing_twice(
    workers, active_model_version, client_for
):
    _, _, navigators, posters = two_clinics()
    clock = time.monotonic()
    ids = post_messages(client_for, posters)  # queued in Redis, no worker yet
    posted_in = time.monotonic() - clock
    workers.start("w1")
    workers.start("w2")
    clock = time.monotonic()
    before_kill = wait_until_routed(ids, seconds=60, at_least=MESSAGES * 3 // 10)
    rate = before_kill / (time.monotonic() - clock)
    workers.kill_hard("w1")  # kill -9 of the worker and its pool child
    # A new worker with beat: the stuck-message sweep re-enqueues what the dead worker
    # held (Redis would only redeliver it after the visibility timeout).
    workers.start("w3", beat=True, STUCK_MESSAGE_AFTER_SECONDS=5, SWEEP_INTERVAL_SECONDS=2)
    routed = wait_until_routed(ids, seconds=120)
    assert routed == MESSAGES, f"only {routed} of {MESSAGES} routed after the kill"
    counts = check_each_routed_once(ids, navigators)
    print(
        f"posted in {posted_in:.1f}s; 2 workers routed {rate:.0f} msg/s; killed w1 after "
        f"{before_kill} routed; after recovery: {counts}"
    )
