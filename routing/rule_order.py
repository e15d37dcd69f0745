"""The order a clinic's routing rules are tried in, changed by moving one rule up or
down (the admin's "Order rules" page), and each rule said in plain words there."""

from django.db import transaction

from accounts.models import Clinic, User
from routing.models import RoutingRule


class CannotMove(ValueError):
    pass


def clinic_rules(*, clinic: Clinic) -> list[RoutingRule]:
    return list(RoutingRule.objects.filter(clinic=clinic).order_by("order", "id"))


@transaction.atomic
def move_rule(*, actor: User, rule: RoutingRule, up: bool) -> list[RoutingRule]:
    """Swap `rule` with its neighbour above (up) or below, and number the clinic's rules
    10, 20, 30... in the order they are then tried. Returns the rules whose order changed
    (each saved, so the clinic's configuration version moves and workers reload)."""
    ordered = list(
        RoutingRule.objects.select_for_update()
        .filter(clinic_id=rule.clinic_id)
        .order_by("order", "id")
    )
    at = next((i for i, r in enumerate(ordered) if r.pk == rule.pk), None)
    if at is None:
        raise CannotMove("That rule no longer exists.")
    other = at - 1 if up else at + 1
    if not 0 <= other < len(ordered):
        raise CannotMove(
            f"“{rule.name}” is already {'first' if up else 'last'}; it cannot move further."
        )
    ordered[at], ordered[other] = ordered[other], ordered[at]
    changed = []
    for position, each in enumerate(ordered, start=1):
        wanted = position * 10
        if each.order != wanted:
            each.order = wanted
            each.updated_by = actor
            each.save(update_fields=["order", "updated_by", "updated_at"])
            changed.append(each)
    return changed


def describe(rule: RoutingRule, *, queue_names: dict[int, str], staff_names: dict[int, str]) -> str:
    """'When words “chest pain”, patient on chemotherapy: to Oncology nurse pool, raise
    acuity to emergent.'"""
    when = []
    c = rule.conditions or {}

    def listed(value) -> list:
        return list(value) if isinstance(value, list | tuple) else [value]

    if "keyword" in c:
        when.append("words " + " or ".join(f"“{w}”" for w in listed(c["keyword"])))
    if "category" in c:
        when.append("category " + " or ".join(f"“{w}”" for w in listed(c["category"])))
    if "language" in c:
        when.append("language " + " or ".join(listed(c["language"])))
    if "red_flag" in c:
        when.append("red flag " + " or ".join(f.replace("_", " ") for f in listed(c["red_flag"])))
    if "acuity" in c:
        when.append("acuity " + " or ".join(listed(c["acuity"])))
    if "service_level" in c:
        when.append("routed to " + " or ".join(listed(c["service_level"])))
    if "patient_flag" in c:
        when.append("patient on chemotherapy")
    if isinstance(c.get("confidence_below"), dict):
        spec = c["confidence_below"]
        when.append(
            f"{spec.get('label', '').replace('_', ' ')} confidence below {spec.get('value')}"
        )
    if isinstance(c.get("time_of_day"), dict):
        when.append(f"received {c['time_of_day'].get('from')} to {c['time_of_day'].get('to')}")
    then = []
    a = rule.action or {}
    if "queue" in a:
        then.append("to " + queue_names.get(a["queue"], f"queue {a['queue']} (missing)"))
    if "raise_acuity" in a:
        then.append(f"raise acuity to {a['raise_acuity']}")
    if "assign_to" in a:
        then.append("assign to " + staff_names.get(a["assign_to"], f"user {a['assign_to']}"))
    if "notify" in a:
        then.append(
            "notify " + ", ".join(staff_names.get(p, f"user {p}") for p in listed(a["notify"]))
        )
    if "auto_reply" in a:
        then.append(f"automatic reply “{a['auto_reply'].replace('_', ' ')}”")
    return f"When {', '.join(when) or 'any message'}: {', '.join(then) or 'nothing'}."
