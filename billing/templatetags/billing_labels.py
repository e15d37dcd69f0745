"""`{{ code|exclusion_label }}`: an exclusion code as people read it (billing/exclusions.py)."""

from django import template

from billing import exclusions

register = template.Library()


@register.filter
def exclusion_label(code: str) -> str:
    return exclusions.exclusion_label(str(code))
