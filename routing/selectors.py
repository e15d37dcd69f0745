from django.db.models import QuerySet
from django.http import Http404

from accounts.models import User
from accounts.selectors import clinics_for_user
from routing.models import Queue, WorkItem

OPEN_STATUSES = (WorkItem.Status.OPEN, WorkItem.Status.CLAIMED)


def queues_for_user(*, user: User) -> QuerySet[Queue]:
    return Queue.objects.filter(clinic__in=clinics_for_user(user=user)).select_related("clinic")


def access_queue(*, user: User, queue_id: int) -> Queue:
    queue = queues_for_user(user=user).filter(pk=queue_id).first()
    if queue is None:
        raise Http404("queue not found")
    return queue


def open_work_items(*, user: User, queue: Queue | None = None) -> QuerySet[WorkItem]:
    """Work not yet answered, most acute first, then earliest due: the queue page order."""
    items = WorkItem.objects.filter(
        clinic__in=clinics_for_user(user=user), status__in=OPEN_STATUSES
    )
    if queue is not None:
        items = items.filter(queue=queue)
    return items.select_related("queue", "message", "claimed_by").order_by(
        "acuity_rank", "due_at", "id"
    )
