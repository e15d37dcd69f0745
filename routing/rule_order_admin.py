"""The admin's "Order rules" page: a clinic's routing rules in the order they are tried,
each said in plain words, with "Move up" and "Move down" buttons (plain form posts, so
they work by keyboard and without script; no dragging)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse

from accounts.models import Clinic, Membership
from routing import rule_order
from routing.clinic_settings import queue_names
from routing.models import RoutingRule
from routing.rule_builder import staff_name


def _staff_names(clinic: Clinic) -> dict[int, str]:
    return {
        m.user_id: staff_name(m.user)
        for m in Membership.objects.filter(clinic=clinic).select_related("user")
    }


def summary_of(clinic: Clinic, conditions: dict, action: dict) -> str:
    """A rule's conditions and action in plain words (the replay report's edit)."""
    rule = RoutingRule(clinic=clinic, conditions=conditions or {}, action=action or {})
    return rule_order.describe(
        rule, queue_names=queue_names(clinic=clinic), staff_names=_staff_names(clinic)
    )


def order_page(model_admin, request):
    clinics = (
        Clinic.objects.all() if request.user.is_superuser else model_admin.admin_clinics(request)
    )
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    may_change = model_admin.has_change_permission(request)
    if request.method == "POST":
        if not may_change:
            raise PermissionDenied
        rule = RoutingRule.objects.filter(
            pk=request.POST.get("rule") or 0, clinic__in=clinics
        ).first()
        direction = request.POST.get("move")
        if rule is None or direction not in ("up", "down"):
            messages.error(request, "That rule is not a rule of a clinic you administer.")
            return redirect("admin:routing_routingrule_order")
        try:
            changed = rule_order.move_rule(actor=request.user, rule=rule, up=direction == "up")
        except rule_order.CannotMove as exc:
            messages.warning(request, str(exc))
        else:
            for each in changed:
                model_admin.log_change(request, each, f"Order set to {each.order} (rule moved).")
            messages.success(request, f"“{rule.name}” moved {direction}.")
        url = reverse("admin:routing_routingrule_order")
        # No #fragment: a browser ignores autofocus when the URL targets an element.
        return redirect(f"{url}?moved={rule.pk}&dir={direction}")

    moved = request.GET.get("moved", "")
    tables = []
    for clinic in clinics.order_by("name"):
        rules = rule_order.clinic_rules(clinic=clinic)
        if not rules:
            continue
        names = queue_names(clinic=clinic)
        staff = _staff_names(clinic)
        tables.append(
            (
                clinic,
                [
                    {
                        "rule": rule,
                        "position": position,
                        "summary": rule_order.describe(rule, queue_names=names, staff_names=staff),
                        "first": position == 1,
                        "last": position == len(rules),
                        "focus": _focus(
                            str(rule.pk) == moved,
                            request.GET.get("dir"),
                            first=position == 1,
                            last=position == len(rules),
                        ),
                    }
                    for position, rule in enumerate(rules, start=1)
                ],
            )
        )
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": "Order rules",
        "tables": tables,
        "may_change": may_change,
        "moved_direction": request.GET.get("dir", ""),
    }
    return TemplateResponse(request, "admin/routing/routingrule/order.html", context)


def _focus(moved: bool, direction: str | None, *, first: bool, last: bool) -> str:
    """Which button of the moved rule keeps the keyboard focus after the page reloads:
    the one pressed, or the other when the rule reached the top or the bottom."""
    if not moved:
        return ""
    if direction == "up":
        return "down" if first and not last else "up"
    return "up" if last and not first else "down"
