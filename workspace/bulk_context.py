"""What the queue page needs for bulk actions (workspace/bulk_views.py): the row boxes and
the form, for the roles that may act in bulk (routing.bulk.decide_bulk) only."""

from routing import bulk, selectors
from triage.ml.labels import ServiceLevel

# The reassign list's roles' pools (value, label), in this order; the item page's list too.
ROLES = ServiceLevel.choices


def offered(membership) -> bool:
    """Whether the queue page shows the row boxes and the bulk form to this person."""
    return bulk.decide_bulk(role=membership.role).allowed


def queue_page_context(membership) -> dict:
    if not offered(membership):
        return {"bulk": False}
    queues, people = selectors.reassign_targets(clinic=membership.clinic)
    return {
        "bulk": True,
        "bulk_limit": bulk.BULK_LIMIT,
        "roles": ROLES,
        "reassign_queues": queues,
        "reassign_people": people,
    }
