"""Staff screens: the queues and one work item. Thin: reads come from selectors, every
change goes through routing.services / billing.services. The selectors that load a
patient's data write it to the access log themselves (told what the page shows), so no
view here calls the recorder."""

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.selectors import current_membership
from billing import selectors as billing_selectors
from billing import services as billing_services
from config.errors import DomainError
from inbox.models import Message, PatientDataAccess
from routing import selectors, work_items
from triage.models import Classification

MINE = "mine"


def _workspace(request: HttpRequest):
    membership = current_membership(user=request.user, session=request.session)
    if membership is None:
        raise Http404("You are not staff of any clinic.")
    timezone.activate(ZoneInfo(membership.clinic.time_zone))  # times in the clinic's zone
    queues = selectors.visible_queues(
        user=request.user, clinic=membership.clinic, role=membership.role
    )
    return membership, queues


def _selected(request: HttpRequest, membership, queues):
    wanted = request.GET.get("queue")
    if wanted == MINE:
        return None
    if wanted is None:
        return selectors.home_queue(queues=queues, role=membership.role)
    for queue in queues:
        if str(queue.pk) == wanted:
            return queue
    raise Http404("queue not found")


def _page(request: HttpRequest, membership, queue):
    try:
        after = selectors.parse_cursor(request.GET.get("after"))
    except ValueError as exc:
        raise Http404("bad page position") from exc
    # The rows' patients are logged by the selector: only the page it returns.
    shown = PatientDataAccess.What.QUEUE_LIST
    if queue is None:
        return selectors.my_work_page(
            user=request.user, clinic=membership.clinic, viewed_as=shown, after=after
        )
    return selectors.queue_page(queue=queue, user=request.user, viewed_as=shown, after=after)


def _counts(request: HttpRequest, membership, queues, queue) -> dict:
    now = timezone.now()
    if queue is None:
        selected = selectors.my_work_counts(user=request.user, clinic=membership.clinic, now=now)
    else:
        selected = selectors.queue_counts(queue=queue, now=now)
    return {
        "counts": selected,
        "nav_counts": selectors.pool_totals(queues=queues, now=now),
        "cap": selectors.COUNT_CAP,
    }


@login_required
@require_GET
def work(request: HttpRequest) -> HttpResponse:
    membership, queues = _workspace(request)
    queue = _selected(request, membership, queues)
    rows, cursor = _page(request, membership, queue)
    context = {
        "membership": membership,
        "queues": queues,
        "queue": queue,
        "queue_param": queue.pk if queue else MINE,
        "rows": rows,
        "cursor": cursor,
        "now": timezone.now(),
        **_counts(request, membership, queues, queue),
    }
    return render(request, "workspace/work.html", context)


@login_required
@require_GET
def work_rows(request: HttpRequest) -> HttpResponse:
    """The next page of rows, for "Load more" (keyset: the position of the last row)."""
    membership, queues = _workspace(request)
    queue = _selected(request, membership, queues)
    rows, cursor = _page(request, membership, queue)
    context = {"rows": rows, "cursor": cursor, "queue_param": queue.pk if queue else MINE}
    return render(request, "workspace/_rows.html", {**context, "now": timezone.now()})


@login_required
@require_GET
def work_counts(request: HttpRequest) -> HttpResponse:
    """Counts refreshed in the background (htmx polling) without reloading the page."""
    membership, queues = _workspace(request)
    queue = _selected(request, membership, queues)
    context = {
        "queues": queues,
        "queue": queue,
        "queue_param": queue.pk if queue else MINE,
        **_counts(request, membership, queues, queue),
    }
    return render(request, "workspace/_counts.html", context)


@login_required
@require_GET
def work_item(request: HttpRequest, item_id: int) -> HttpResponse:
    item = selectors.access_work_item(
        user=request.user, item_id=item_id, viewed_as=PatientDataAccess.What.MESSAGE_THREAD
    )
    timezone.activate(ZoneInfo(item.clinic.time_zone))
    classification = Classification.objects.filter(message=item.message).first()
    queues, people = selectors.reassign_targets(clinic=item.clinic)
    time_spent = billing_selectors.conversation_time(
        conversation_id=item.conversation_id, user=request.user
    )
    context = {
        "item": item,
        "patient": item.conversation.patient,
        "age": item.conversation.patient.age_on(timezone.localdate()),
        "thread": [_thread_entry(m) for m in selectors.conversation_thread(item=item)],
        "classification": classification,
        "events": selectors.item_events(item=item),
        "reassign_queues": queues,
        "reassign_people": people,
        "roles": ["clerical", "ma", "nurse", "physician"],
        "time_entries": time_spent.entries,
        "my_timer": time_spent.running_timer,
        "total_minutes": time_spent.total_minutes,
        "now": timezone.now(),
    }
    return render(request, "workspace/work_item.html", context)


def _thread_entry(message) -> dict:
    if isinstance(message, Message):
        return {
            "from_patient": True,
            "who": "Patient",
            "at": message.created_at,
            "subject": message.subject,
            "category": message.category,
            "body": message.body,
        }
    who = message.author.get_username() if message.author else "Automatic reply"
    return {
        "from_patient": False,
        "who": who,
        "at": message.created_at,
        "body": message.body,
        "delivered_at": message.delivered_at,
    }


def _minutes(value: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0  # rejected by the service with a clear message


def _id_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


ACTIONS = {
    "claim": lambda r, i: work_items.claim(actor=r.user, item_id=i),
    "return": lambda r, i: work_items.return_to_queue(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "")
    ),
    "escalate": lambda r, i: work_items.escalate(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "").strip() or "escalated"
    ),
    "reply": lambda r, i: work_items.respond(actor=r.user, item_id=i, body=r.POST.get("body", "")),
    "close": lambda r, i: work_items.close(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "")
    ),
    "timer-start": lambda r, i: billing_services.start_timer(actor=r.user, item_id=i),
    "timer-stop": lambda r, i: billing_services.stop_timer(actor=r.user, item_id=i),
    "log-time": lambda r, i: billing_services.log_minutes(
        actor=r.user, item_id=i, minutes=_minutes(r.POST.get("minutes"))
    ),
}
DONE = {
    "claim": "Claimed: it is yours now.",
    "return": "Returned to the queue.",
    "escalate": "Escalated.",
    "reply": "Reply saved. It shows as delivered once the portal confirms the patient has it.",
    "close": "Closed.",
    "timer-start": "Timer started.",
    "timer-stop": "Timer stopped.",
    "log-time": "Time logged.",
    "reassign": "Reassigned.",
}


@login_required
@require_POST
def work_item_action(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    # 404 before anything; an action shows nothing of the patient (it redirects to the
    # item's page, which is logged when it is opened).
    selectors.access_work_item(user=request.user, item_id=item_id, viewed_as=None)
    try:
        if action == "reassign":
            target = request.POST.get("target", "")
            kind, _, value = target.partition(":")
            work_items.reassign(
                actor=request.user,
                item_id=item_id,
                reason=request.POST.get("reason", ""),
                role=value if kind == "role" else None,
                queue_id=_id_or_none(value) if kind == "queue" else None,
                person_id=_id_or_none(value) if kind == "person" else None,
            )
        elif action in ACTIONS:
            ACTIONS[action](request, item_id)
        else:
            return HttpResponseBadRequest("unknown action")
    except DomainError as error:
        messages.error(request, error.detail)
    else:
        messages.success(request, DONE[action])
    return redirect("work-item", item_id=item_id)


@login_required
@require_POST
def claim_next(request: HttpRequest) -> HttpResponse:
    _, queues = _workspace(request)
    item = work_items.claim_next(actor=request.user, queue_ids=[q.pk for q in queues])
    if item is None:
        messages.info(request, "Nothing waiting in your queues.")
        return redirect("work")
    return redirect("work-item", item_id=item.pk)
