"""Staff screens: the queues and one work item. Thin: reads come from selectors, every
change goes through routing.services / billing.services. The selectors that load a
patient's data write it to the access log themselves (told what the page shows), so no
view here calls the recorder."""

import datetime
import functools
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts import services as account_services
from accounts.models import User
from accounts.selectors import current_membership
from billing import selectors as billing_selectors
from billing import services as billing_services
from config.errors import DomainError
from config.input import ID_MAX, parse_count, parse_id
from inbox.models import Message, PatientDataAccess
from routing import corrections, notes, pending, scope_selectors, selectors, work_items
from routing.exceptions import InvalidTarget, OutsideScopeOfPractice, PatientCallRefused
from routing.models import WorkEvent, WorkItem
from triage.models import Classification, LabelCorrection
from triage.selectors import corrections_of_conversation
from workspace import bulk_context, staff_text_context

MINE = "mine"


def _refused(request: HttpRequest, reason: str, *, back_to: str | None = None) -> HttpResponse:
    """A refusal by role: a 403 page saying why, and where this person can go instead."""
    context = {"reason": reason, "back_to": back_to}
    return render(request, "workspace/refused.html", context, status=403)


def _refusals_by_role_as_403(view):
    """The screens answer a role that may not read or work messages here (billing,
    administrators) with a 403 page and the reason, wherever in the view it is found."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except OutsideScopeOfPractice as refusal:
            return _refused(request, refusal.detail)

    return guarded


def _workspace(request: HttpRequest):
    membership = current_membership(user=request.user, session=request.session)
    if membership is None:
        raise Http404("You are not staff of any clinic.")
    # The queues of the clinic being worked in: only for a role that works messages there.
    selectors.refuse_unless_works(role=membership.role)
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


def _page(request: HttpRequest, membership, queue, **limit):
    try:
        after = selectors.parse_cursor(request.GET.get("after"))
    except ValueError as exc:
        raise Http404("bad page position") from exc
    # The rows' patients are logged by the selector: only the page it returns.
    shown = PatientDataAccess.What.QUEUE_LIST
    if queue is None:
        return selectors.my_work_page(
            user=request.user, clinic=membership.clinic, viewed_as=shown, after=after, **limit
        )
    return selectors.queue_page(
        queue=queue, user=request.user, viewed_as=shown, after=after, **limit
    )


def _badge_pool(membership, queues, queue):
    """The pool counted in the page's title (unclaimed emergent and urgent items): the one
    shown. My work holds only the person's own claimed items, so there it is their home
    pool."""
    return queue or selectors.home_queue(queues=queues, role=membership.role)


def _badge(membership, queues, queue) -> int:
    pool = _badge_pool(membership, queues, queue)
    return selectors.waiting_acute_count(queue=pool) if pool else 0


def _live_limit(shown: str | None) -> int:
    # As many rows as the page shows, so rows fetched by "Load more" stay; at least a first
    # page, so a short queue shows what arrives; at most LIVE_ROWS_MAX.
    count = parse_count(shown, maximum=ID_MAX) or 0
    return min(max(count, selectors.PAGE_SIZE), selectors.LIVE_ROWS_MAX)


def _counts(request: HttpRequest, membership, queues, queue) -> dict:
    """The navigation's counts per pool, the acuity counts of what is shown and the title's
    badge: one statement for the pools (two for My work), each count capped."""
    now = timezone.now()
    pools = selectors.pool_counts(queues=queues, overdue_in=queue, now=now)
    if queue is None:
        selected = selectors.my_work_counts(user=request.user, clinic=membership.clinic, now=now)
    else:
        selected = pools[queue.pk]
    pool = _badge_pool(membership, queues, queue)
    return {
        "counts": selected,
        "nav_counts": pools,
        "cap": selectors.COUNT_CAP,
        "badge": pools[pool.pk]["acute"] if pool else 0,
    }


@login_required
@require_GET
@_refusals_by_role_as_403
def work(request: HttpRequest) -> HttpResponse:
    membership, queues = _workspace(request)
    queue = _selected(request, membership, queues)
    rows, cursor = _page(request, membership, queue)
    counts = _counts(request, membership, queues, queue)
    badge = counts["badge"]
    context = {
        "membership": membership,
        "queues": queues,
        "queue": queue,
        "queue_param": queue.pk if queue else MINE,
        "rows": rows,
        "cursor": cursor,
        "now": timezone.now(),
        "badge": badge,
        # What the page was drawn with: the live refresh redraws it only when this changes.
        "version": selectors.page_version(rows=rows, more=cursor is not None, badge=badge),
        "alert_on": request.user.emergent_arrival_alert,
        **counts,
        **bulk_context.queue_page_context(membership),  # row boxes and form: clerk, MA
    }
    return render(request, "workspace/work.html", context)


@login_required
@require_GET
@_refusals_by_role_as_403
def work_rows(request: HttpRequest) -> HttpResponse:
    """Rows of a queue page. With `after`: the next page, for "Load more" (keyset: the
    position of the last row). Without: the page's rows again, for the live refresh every
    3 s (static/js/live.js, sent as a background poll so it does not keep the session
    alive), which says how many rows the page shows and the page_version it was drawn
    with. Unchanged, the answer is 204: no patient loaded, so nothing written to the
    access log, and htmx swaps nothing. Changed, the rows are drawn (and logged), with the
    title and the new version."""
    membership, queues = _workspace(request)
    queue = _selected(request, membership, queues)
    queue_param = queue.pk if queue else MINE
    if request.GET.get("after"):
        rows, cursor = _page(request, membership, queue)
        context = {"rows": rows, "cursor": cursor, "queue_param": queue_param}
        context["bulk"] = bulk_context.offered(membership)
        return render(request, "workspace/_rows.html", {**context, "now": timezone.now()})

    limit = _live_limit(request.GET.get("shown"))
    badge = _badge(membership, queues, queue)
    known = request.GET.get("version")
    if known:
        if queue is None:
            now = selectors.my_work_page_version(
                user=request.user, clinic=membership.clinic, badge=badge, limit=limit
            )
        else:
            now = selectors.queue_page_version(queue=queue, badge=badge, limit=limit)
        if known == now:
            return HttpResponse(status=204)
    rows, cursor = _page(request, membership, queue, limit=limit)
    context = {
        "rows": rows,
        "cursor": cursor,
        "queue": queue,
        "queue_param": queue_param,
        "badge": badge,
        "cap": selectors.COUNT_CAP,
        "now": timezone.now(),
        "bulk": bulk_context.offered(membership),
    }
    response = render(request, "workspace/_live_rows.html", context)
    # The version of what was drawn (not of the positions read above: the rows may have
    # moved since). The page keeps it for its next poll; _counts.html refreshes on it.
    version = selectors.page_version(rows=rows, more=cursor is not None, badge=badge)
    return trigger_client_event(response, "work-rows-changed", {"version": version}, after="swap")


@login_required
@require_POST
def arrival_alert(request: HttpRequest) -> HttpResponse:
    """Turns the emergent arrival alert (a sound and a browser notification) on or off for
    the person signed in. `on` is the wanted state, so a double click does not undo it."""
    on = request.POST.get("on") == "1"
    account_services.set_emergent_arrival_alert(user=request.user, on=on)
    queue_param = request.POST.get("queue", "")
    if request.htmx:
        return render(
            request,
            "workspace/_arrival_alert.html",
            {"alert_on": on, "queue_param": queue_param},
        )
    back = reverse("work")
    if queue_param == MINE or parse_id(queue_param) is not None:
        back += "?" + urlencode({"queue": queue_param})
    return redirect(back)


@login_required
@require_GET
@_refusals_by_role_as_403
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
@_refusals_by_role_as_403
def work_item(request: HttpRequest, item_id: int) -> HttpResponse:
    item = selectors.access_work_item(
        user=request.user, item_id=item_id, viewed_as=PatientDataAccess.What.MESSAGE_THREAD
    )
    work_items.record_first_read(actor=request.user, item=item)
    timezone.activate(ZoneInfo(item.clinic.time_zone))
    classification = Classification.objects.filter(message=item.message).first()
    queues, people = selectors.reassign_targets(clinic=item.clinic)
    # What the person may do here (the services refuse the rest all the same).
    scope = scope_selectors.item_scope(user=request.user, item=item)
    time_spent = billing_selectors.conversation_time(
        conversation_id=item.conversation_id, user=request.user
    )
    context = {
        "item": item,
        "patient": item.conversation.patient,
        "age": item.conversation.patient.age_on(timezone.localdate()),
        "thread": staff_text_context.thread_with_notes(
            [_thread_entry(m) for m in selectors.conversation_thread(item=item)], item=item
        ),
        "classification": classification,
        "events": selectors.item_events(item=item),
        "reassign_queues": queues,
        "reassign_people": people,
        "roles": bulk_context.ROLES,  # (value, label): the reassign list
        "can_record_call": scope.role in work_items.CALLERS,
        "call_outcomes": WorkEvent.CallOutcome.choices,
        "scope": scope,
        "may_log_time": scope.log_time.allowed,
        # Anyone gives back what they hold; someone else's item, who may claim it.
        "may_return": item.claimed_by_id == request.user.pk or scope.decisions["claim"].allowed,
        "after_action_choices": User.AfterAction.choices,
        "time_entries": time_spent.entries,
        "my_timer": time_spent.running_timer,
        "total_minutes": time_spent.total_minutes,
        "now": timezone.now(),
        "corrections": corrections_of_conversation(conversation_id=item.conversation_id),
        "proposed": LabelCorrection.ReviewStatus.PROPOSED,
        "acuities": ["emergent", "urgent", "routine"],
        "pend_events": WorkItem.PendEvent.choices,  # the pend form (workspace/_pending.html)
        **staff_text_context.reply_form_context(user=request.user, item=item),
    }
    return render(request, "workspace/work_item.html", context)


def _wall_clock(value: str | None, *, refusal: Exception) -> datetime.datetime | None:
    """A form's datetime-local (the clinic's wall clock, read so by the service); None
    when left blank; `refusal` raised when it is no date and time."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError as exc:
        raise refusal from exc


def _pend_from_form(request: HttpRequest, item_id: int) -> WorkItem:
    """The work item page's pend form: a reason, a date and time, and optionally an event
    (then the time is "return no later than")."""
    return pending.pend(
        actor=request.user,
        item_id=item_id,
        reason=request.POST.get("reason", ""),
        until=_wall_clock(
            request.POST.get("until"),
            refusal=InvalidTarget("Give the time it comes back as a date and time."),
        ),
        event=request.POST.get("event", ""),
    )


def _unpend_from_form(request: HttpRequest, item_id: int) -> WorkItem:
    return pending.unpend(actor=request.user, item_id=item_id)


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


def _minutes(value: str | None) -> int:
    # Anything but plain ASCII digits is 0, which the service refuses with a clear message.
    return parse_count(value, maximum=ID_MAX) or 0


def _id_or_none(value: str | None) -> int | None:
    return parse_id(value)


def _called_at(request: HttpRequest) -> datetime.datetime | None:
    """The optional "called at" of the call form; None when left blank (the call is now)."""
    return _wall_clock(
        request.POST.get("called_at"),
        refusal=PatientCallRefused("Give the time of the call as a date and time."),
    )


ACTIONS = {
    "claim": lambda r, i: work_items.claim(actor=r.user, item_id=i),
    "return": lambda r, i: work_items.return_to_queue(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "")
    ),
    "escalate": lambda r, i: work_items.escalate(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "").strip() or "escalated"
    ),
    "reply": lambda r, i: work_items.respond(actor=r.user, item_id=i, body=r.POST.get("body", "")),
    "note": lambda r, i: notes.add_internal_note(
        actor=r.user, item_id=i, body=r.POST.get("note", "")
    ),
    "close": lambda r, i: work_items.close(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "")
    ),
    "timer-start": lambda r, i: billing_services.start_timer(actor=r.user, item_id=i),
    "timer-stop": lambda r, i: billing_services.stop_timer(actor=r.user, item_id=i),
    "log-time": lambda r, i: billing_services.log_minutes(
        actor=r.user, item_id=i, minutes=_minutes(r.POST.get("minutes"))
    ),
    "reopen": lambda r, i: work_items.reopen(
        actor=r.user, item_id=i, reason=r.POST.get("reason", "")
    ),
    "called": lambda r, i: work_items.record_patient_call(
        actor=r.user, item_id=i, outcome=r.POST.get("outcome", ""), called_at=_called_at(r)
    ),
    "correct": lambda r, i: corrections.correct_label(
        actor=r.user,
        item_id=i,
        label=r.POST.get("label", ""),
        to=r.POST.get("to", ""),
        reason=r.POST.get("reason", ""),
    ),
    "confirm-correction": lambda r, i: corrections.confirm_on_item(
        actor=r.user, item_id=i, correction_id=_id_or_none(r.POST.get("correction")) or 0
    ),
    # Pending (routing.pending).
    "pend": _pend_from_form,
    "unpend": _unpend_from_form,
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
    "called": "Call recorded.",
    "reassign": "Reassigned.",
    "reopen": "Reopened: it is back in its queue.",
    # A raised acuity moves the item up at once; a lowered one leaves it where it was
    # (routing.corrections): the notice says which, the page shows the acuity.
    "correct": (
        "Correction recorded. It is used for training once a colleague confirms it; a "
        "higher acuity moves the item up now, a lower one leaves its place as it was."
    ),
    "confirm-correction": "Confirmed: the correction will be used for training.",
    "pend": "Pended: it has left the queue and comes back at the time given.",
    "unpend": "Back in the queue.",
    "note": "Internal note added. It is for colleagues only: the patient never sees it.",
}
# After these the screen moves on to the next item of the queue (User.after_action).
MOVES_ON = {"close", "reply", "reassign"}


@login_required
@require_POST
@_refusals_by_role_as_403
def work_item_action(request: HttpRequest, item_id: int, action: str) -> HttpResponse:
    # 404 before anything; an action shows nothing of the patient (it redirects to the
    # item's page, which is logged when it is opened).
    item = selectors.access_work_item(user=request.user, item_id=item_id, viewed_as=None)
    came_from = item.queue_id  # before a reassign moves it
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
        if error.http_status == 403:
            # Refused by role (scope of practice, calls): a 403 page with the reason.
            return _refused(request, error.detail, back_to=reverse("work-item", args=[item_id]))
        messages.error(request, error.detail)
    else:
        messages.success(request, DONE[action])
        if action in MOVES_ON and request.user.after_action == User.AfterAction.NEXT_ITEM:
            return _next_item(request, queue_id=came_from, done_id=item_id)
    return redirect("work-item", item_id=item_id)


def _next_item(request: HttpRequest, *, queue_id: int, done_id: int) -> HttpResponse:
    """The page of the next item of the queue the person came from that they may take
    (opened, not claimed), or that queue's page when there is none."""
    following = scope_selectors.next_item_to_open(
        user=request.user, queue_id=queue_id, after_item_id=done_id
    )
    if following is not None:
        return redirect("work-item", item_id=following.pk)
    _, queues = _workspace(request)
    if any(queue.pk == queue_id for queue in queues):
        return redirect(reverse("work") + "?" + urlencode({"queue": queue_id}))
    return redirect("work")  # a queue this person's screen does not list


@login_required
@require_POST
def set_after_action(request: HttpRequest) -> HttpResponse:
    """The person's choice of where the screen goes after closing, replying to or
    reassigning an item; back to the page the form was on."""
    choice = request.POST.get("after_action", "")
    if choice not in User.AfterAction.values:
        return HttpResponseBadRequest("unknown choice")
    account_services.set_after_action(user=request.user, after_action=choice)
    messages.success(request, f"Saved: after an action, {User.AfterAction(choice).label.lower()}.")
    back = request.POST.get("next", "")
    # A path (the form sends one): not a bare word, which redirect() would take for a URL
    # name and fail on, nor another site.
    if not back.startswith("/") or not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = reverse("work")
    return HttpResponseRedirect(back)


@login_required
@require_POST
@_refusals_by_role_as_403
def claim_next(request: HttpRequest) -> HttpResponse:
    _, queues = _workspace(request)
    item = work_items.claim_next(actor=request.user, queue_ids=[q.pk for q in queues])
    if item is None:
        messages.info(request, "Nothing waiting in your queues that your role may take.")
        return redirect("work")
    return redirect("work-item", item_id=item.pk)
