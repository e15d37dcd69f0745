"""Routing rules as data, evaluated over the facts of one message. Pure: no ORM.

A rule has an explicit order, an enabled switch, conditions (all must hold) and an
action. The first enabled rule whose conditions hold decides; with none, the message
goes to the default queue of the role the classifier chose. The decision carries the
rule that matched and why, so staff can see why an item sits where it does.

Conditions (JSON object, every key must hold):
    acuity:           "urgent" or ["emergent", "urgent"]
    service_level:    "nurse" or [...]             (the role the classifier routed to)
    confidence_below: {"label": "acuity" | "service_level" | "evisit", "value": 0.6}
    keyword:          ["port", "picc"]               (any, whole words, accents ignored)
    category:         ["Medication refill"]          (the patient-chosen category)
    patient_flag:     "on_chemotherapy" or [...]     (all must be set)
    language:         "es" or [...]
    time_of_day:      {"from": "17:00", "to": "08:00"} (clinic time; may wrap midnight)
    red_flag:         ["chest_pain"]                 (any red flag of that name found)
Action (JSON object, at least one key):
    queue: queue id · raise_acuity: "urgent" · assign_to: user id ·
    notify: [user ids] · auto_reply: template name

Safety holds whatever a rule says: acuity is only ever raised; an emergent message is
never put in a queue of a role below nurse; a classification that needs review is never
moved to a less trained role than the one the classifier routed it to.
"""

import datetime
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from triage.ml.labels import ACUITY_RANK, SERVICE_LEVEL_RANK, Acuity, ServiceLevel
from triage.ml.redflags import normalize as normalize_text

CONDITION_KEYS = frozenset(
    {
        "acuity",
        "service_level",
        "confidence_below",
        "keyword",
        "category",
        "patient_flag",
        "language",
        "time_of_day",
        "red_flag",
    }
)
ACTION_KEYS = frozenset({"queue", "raise_acuity", "assign_to", "notify", "auto_reply"})
PATIENT_FLAGS = frozenset({"on_chemotherapy"})
CONFIDENCE_LABELS = frozenset({"acuity", "service_level", "evisit"})
# How trained a queue's role is; non-clinical roles rank with clerical.
ROLE_RANK = {**{str(k): v for k, v in SERVICE_LEVEL_RANK.items()}, "billing": 0, "admin": 0}
LEAST_ROLE_FOR_EMERGENT = ServiceLevel.NURSE


class InvalidRule(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class Rule:
    id: int | None
    name: str
    order: int
    enabled: bool
    conditions: Mapping[str, Any]
    action: Mapping[str, Any]


@dataclass(frozen=True)
class MessageFacts:
    acuity: str
    service_level: str  # the role the classifier routed to
    acuity_confidence: float = 1.0
    service_level_confidence: float = 1.0
    evisit_confidence: float = 1.0
    needs_review: bool = False
    text: str = ""
    category: str = ""
    language: str = "en"
    patient_flags: frozenset[str] = frozenset()
    red_flags: frozenset[str] = frozenset()
    local_time: datetime.time = datetime.time(12, 0)


def facts_for(
    *,
    subject: str,
    body: str,
    category: str,
    language: str,
    on_chemotherapy: bool,
    received_at: datetime.datetime,
    time_zone: str,
    acuity: str,
    service_level: str,
    acuity_confidence: float,
    service_level_confidence: float,
    evisit_confidence: float,
    needs_review: bool,
    red_flags: Sequence[str],
) -> MessageFacts:
    """The facts the rules see, from a message and its classification: one place, for the
    router, the rule test on a typed message and the replay."""
    return MessageFacts(
        acuity=acuity,
        service_level=service_level,
        acuity_confidence=acuity_confidence,
        service_level_confidence=service_level_confidence,
        evisit_confidence=evisit_confidence,
        needs_review=needs_review,
        text=normalize_text(f"{subject}\n{body}"),
        category=category,
        language=language,
        patient_flags=frozenset({"on_chemotherapy"} if on_chemotherapy else ()),
        red_flags=frozenset(red_flags),
        local_time=received_at.astimezone(ZoneInfo(time_zone)).time(),
    )


@dataclass(frozen=True)
class RoutingDecision:
    role: str
    acuity: str
    queue_id: int | None  # None: the role's default queue
    assignee_id: int | None = None
    notify_user_ids: tuple[int, ...] = ()
    auto_reply: str | None = None
    rule_id: int | None = None
    rule_name: str = ""
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, list | tuple | set | frozenset) else [value]


def _parse_clock(value: Any) -> datetime.time:
    return datetime.time.fromisoformat(str(value))


def validate(conditions: Any, action: Any) -> None:
    """Check a rule's vocabulary before it is saved; raises InvalidRule with every
    problem found, keyed by where it is."""
    errors: dict[str, str] = {}
    if not isinstance(conditions, dict):
        errors["conditions"] = "must be a JSON object"
        conditions = {}
    if not isinstance(action, dict) or not action:
        errors["action"] = "must be a JSON object with at least one of: " + ", ".join(
            sorted(ACTION_KEYS)
        )
        action = {} if not isinstance(action, dict) else action
    for key in set(conditions) - CONDITION_KEYS:
        errors[f"conditions.{key}"] = "unknown condition; known: " + ", ".join(
            sorted(CONDITION_KEYS)
        )
    for key in set(action) - ACTION_KEYS:
        errors[f"action.{key}"] = "unknown action; known: " + ", ".join(sorted(ACTION_KEYS))

    vocab = {"acuity": set(Acuity.values), "service_level": set(ServiceLevel.values)}
    for key, allowed in vocab.items():
        if key in conditions:
            bad = [v for v in _as_list(conditions[key]) if v not in allowed]
            if bad or not _as_list(conditions[key]):
                errors[f"conditions.{key}"] = f"must be among {sorted(allowed)}"
    if "confidence_below" in conditions:
        spec = conditions["confidence_below"]
        if not (
            isinstance(spec, dict)
            and spec.get("label") in CONFIDENCE_LABELS
            and isinstance(spec.get("value"), int | float)
            and 0 < spec["value"] <= 1
        ):
            errors["conditions.confidence_below"] = (
                'must be {"label": acuity|service_level|evisit, "value": 0-1}'
            )
    for key in ("keyword", "category", "language", "red_flag"):
        if key in conditions:
            values = _as_list(conditions[key])
            if not values or not all(isinstance(v, str) and v.strip() for v in values):
                errors[f"conditions.{key}"] = "must be a non-empty text or list of texts"
    if "patient_flag" in conditions:
        bad = [v for v in _as_list(conditions["patient_flag"]) if v not in PATIENT_FLAGS]
        if bad:
            errors["conditions.patient_flag"] = f"must be among {sorted(PATIENT_FLAGS)}"
    if "time_of_day" in conditions:
        spec = conditions["time_of_day"]
        try:
            _parse_clock(spec["from"])
            _parse_clock(spec["to"])
        except (TypeError, KeyError, ValueError):
            errors["conditions.time_of_day"] = 'must be {"from": "HH:MM", "to": "HH:MM"}'

    if "raise_acuity" in action and action["raise_acuity"] not in Acuity.values:
        errors["action.raise_acuity"] = f"must be among {sorted(Acuity.values)}"
    for key in ("queue", "assign_to"):
        if key in action and not (isinstance(action[key], int) and action[key] > 0):
            errors[f"action.{key}"] = "must be an id (a positive integer)"
    if "notify" in action:
        ids = _as_list(action["notify"])
        if not ids or not all(isinstance(i, int) and i > 0 for i in ids):
            errors["action.notify"] = "must be a list of user ids"
    if "auto_reply" in action and not (
        isinstance(action["auto_reply"], str) and action["auto_reply"].strip()
    ):
        errors["action.auto_reply"] = "must be a template name"
    if errors:
        raise InvalidRule(errors)


def _time_in_range(now: datetime.time, start: datetime.time, end: datetime.time) -> bool:
    if start <= end:
        return start <= now < end
    return now >= start or now < end  # wraps midnight


def _keyword_found(text: str, keyword: str) -> bool:
    return re.search(rf"\b{re.escape(normalize_text(keyword))}\b", text) is not None


def explain_match(conditions: Mapping[str, Any], facts: MessageFacts) -> list[str] | None:
    """Why each condition holds, or None as soon as one does not."""
    why: list[str] = []
    for key, spec in conditions.items():
        if key in ("acuity", "service_level", "language"):
            wanted = _as_list(spec)
            actual = getattr(facts, key)
            if actual not in wanted:
                return None
            why.append(f"{key} is {actual}")
        elif key == "confidence_below":
            actual = getattr(facts, f"{spec['label']}_confidence")
            if not actual < spec["value"]:
                return None
            why.append(f"{spec['label']} confidence {actual:.2f} < {spec['value']}")
        elif key == "keyword":
            found = [k for k in _as_list(spec) if _keyword_found(facts.text, k)]
            if not found:
                return None
            why.append(f"keyword '{found[0]}'")
        elif key == "category":
            wanted = {normalize_text(c).strip() for c in _as_list(spec)}
            if normalize_text(facts.category).strip() not in wanted:
                return None
            why.append(f"category '{facts.category}'")
        elif key == "patient_flag":
            flags = _as_list(spec)
            if not all(f in facts.patient_flags for f in flags):
                return None
            why.append("patient " + ", ".join(flags))
        elif key == "red_flag":
            found = [f for f in _as_list(spec) if f in facts.red_flags]
            if not found:
                return None
            why.append(f"red flag {found[0]}")
        elif key == "time_of_day":
            start, end = _parse_clock(spec["from"]), _parse_clock(spec["to"])
            if not _time_in_range(facts.local_time, start, end):
                return None
            why.append(f"received {facts.local_time:%H:%M}, between {start:%H:%M}-{end:%H:%M}")
        else:  # validated on save; an unknown key never matches
            return None
    return why


def evaluate(
    rules: Sequence[Rule],
    facts: MessageFacts,
    *,
    queue_roles: Mapping[int, str] | None = None,
) -> RoutingDecision:
    """The routing decision for one message: the first enabled matching rule in order,
    else the default queue of the classifier's role. `queue_roles` maps each queue id a
    rule may name to the queue's role, for the safety checks."""
    queue_roles = queue_roles or {}
    for rule in sorted(rules, key=lambda r: (r.order, r.id or 0)):
        if not rule.enabled:
            continue
        why = explain_match(rule.conditions, facts)
        if why is None:
            continue
        return _apply(rule, why, facts, queue_roles)
    return RoutingDecision(
        role=facts.service_level,
        acuity=facts.acuity,
        queue_id=None,
        reasons=(f"no rule matched: default queue for {facts.service_level}",),
    )


def _apply(
    rule: Rule, why: list[str], facts: MessageFacts, queue_roles: Mapping[int, str]
) -> RoutingDecision:
    action = rule.action
    label = f"rule '{rule.name}'" + (f" (#{rule.id})" if rule.id else "")
    reasons = [f"{label} matched: " + ", ".join(why) if why else f"{label} matched (always)"]
    acuity = facts.acuity
    wanted = action.get("raise_acuity")
    if wanted:
        if ACUITY_RANK[Acuity(wanted)] < ACUITY_RANK[Acuity(acuity)]:
            acuity = wanted
            reasons.append(f"acuity raised to {wanted}")
        else:
            reasons.append(f"acuity kept at {acuity} (a rule never lowers it)")

    role, queue_id = facts.service_level, action.get("queue")
    if queue_id is not None:
        queue_role = queue_roles.get(queue_id)
        if queue_role is None:
            reasons.append(f"queue {queue_id} not found: default queue for {role}")
            queue_id = None
        elif acuity == Acuity.EMERGENT and ROLE_RANK[queue_role] < ROLE_RANK["nurse"]:
            reasons.append(f"emergent stays with nurse or physician: {queue_role} queue ignored")
            queue_id = None
            role = _at_least(role, LEAST_ROLE_FOR_EMERGENT)
        elif facts.needs_review and ROLE_RANK[queue_role] < ROLE_RANK[facts.service_level]:
            reasons.append(
                f"classification needs review: not moved down to {queue_role}, "
                f"default queue for {role}"
            )
            queue_id = None
        else:
            role = queue_role
    if acuity == Acuity.EMERGENT:
        role = _at_least(role, LEAST_ROLE_FOR_EMERGENT)
    return RoutingDecision(
        role=role,
        acuity=acuity,
        queue_id=queue_id,
        assignee_id=action.get("assign_to"),
        notify_user_ids=tuple(_as_list(action.get("notify", []))),
        auto_reply=action.get("auto_reply"),
        rule_id=rule.id,
        rule_name=rule.name,
        reasons=tuple(reasons),
    )


def _at_least(role: str, least: str) -> str:
    return role if ROLE_RANK[role] >= ROLE_RANK[least] else least
