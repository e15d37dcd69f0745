"""Search box, filters and the queue rows' extras (routing.search)."""

from django import template

from routing import search
from routing.models import WorkItem

register = template.Library()


@register.filter
def may_read_text(membership) -> bool:
    """Whether the person's role in the clinic shown may see message text (a preview)."""
    return membership is not None and search.may_read_message_text(role=membership.role)


@register.inclusion_tag("workspace/_search_form.html", takes_context=True)
def search_form(context, filters: search.Filters | None = None) -> dict:
    """The search box and filters, for the clinic being worked in; the queue page shows
    them empty, the search page with what was asked."""
    membership = context.get("current_membership")
    clinic = membership.clinic if membership is not None else None
    return {
        "filters": filters or search.Filters(),
        "acuity_choices": search.ACUITIES,
        "status_choices": WorkItem.Status.choices,
        "assignee_choices": search.assignee_choices(clinic=clinic) if clinic else [],
        "language_choices": search.language_choices(clinic=clinic) if clinic else [],
    }
