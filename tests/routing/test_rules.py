"""Table-driven cases of routing/rules.py: matching, order, safety, validation."""

import datetime

import pytest

from routing import rules
from routing.rules import InvalidRule, MessageFacts, Rule

NAVIGATORS, PHARMACY, CLERICAL_POOL, PHYSICIANS = 11, 12, 13, 14
QUEUE_ROLES = {
    NAVIGATORS: "nurse",
    PHARMACY: "ma",
    CLERICAL_POOL: "clerical",
    PHYSICIANS: "physician",
}


def rule(rule_id, conditions, action, *, order=None, enabled=True, name=None) -> Rule:
    return Rule(
        id=rule_id,
        name=name or f"rule {rule_id}",
        order=rule_id * 10 if order is None else order,
        enabled=enabled,
        conditions=conditions,
        action=action,
    )


def facts(**overrides) -> MessageFacts:
    base = {"acuity": "routine", "service_level": "nurse", "text": "my port site is sore"}
    base.update(overrides)
    base["text"] = rules.normalize_text(base["text"])
    return MessageFacts(**base)


CHEMO_FEVER = rule(
    1,
    {"patient_flag": "on_chemotherapy", "keyword": ["fever", "fiebre"]},
    {"queue": NAVIGATORS, "raise_acuity": "emergent"},
)
REFILLS = rule(2, {"category": ["Medication refill"], "acuity": "routine"}, {"queue": PHARMACY})
UNSURE = rule(
    3, {"confidence_below": {"label": "service_level", "value": 0.6}}, {"queue": PHYSICIANS}
)
AFTER_HOURS = rule(
    4,
    {"time_of_day": {"from": "17:00", "to": "08:00"}, "acuity": ["urgent"]},
    {"notify": [7], "auto_reply": "after_hours"},
)
SPANISH = rule(5, {"language": "es"}, {"assign_to": 42})
BILLING = rule(6, {"keyword": "bill"}, {"queue": CLERICAL_POOL})

CASES = [
    # (case, rules, facts, expected queue_id, role, acuity, rule id)
    ("no rules: default queue of the predicted role", [], facts(), None, "nurse", "routine", None),
    (
        "chemo patient with fever: navigators, raised to emergent",
        [CHEMO_FEVER],
        facts(text="fever 38.5 tonight", patient_flags=frozenset({"on_chemotherapy"})),
        NAVIGATORS,
        "nurse",
        "emergent",
        1,
    ),
    (
        "fever without the chemo flag: no match",
        [CHEMO_FEVER],
        facts(text="fever 38.5 tonight"),
        None,
        "nurse",
        "routine",
        None,
    ),
    (
        "Spanish fiebre with accent matches the keyword",
        [CHEMO_FEVER],
        facts(text="tengo fiébre", patient_flags=frozenset({"on_chemotherapy"})),
        NAVIGATORS,
        "nurse",
        "emergent",
        1,
    ),
    (
        "keyword is a whole word: 'portal' is not 'port'",
        [rule(9, {"keyword": "port"}, {"queue": NAVIGATORS})],
        facts(text="portal login", service_level="clerical"),
        None,
        "clerical",
        "routine",
        None,
    ),
    (
        "keyword 'port' matches",
        [rule(9, {"keyword": "port"}, {"queue": NAVIGATORS})],
        facts(text="my port is red", service_level="clerical"),
        NAVIGATORS,
        "nurse",
        "routine",
        9,
    ),
    (
        "category matches regardless of case",
        [REFILLS],
        facts(category="medication REFILL", service_level="ma"),
        PHARMACY,
        "ma",
        "routine",
        2,
    ),
    (
        "refill rule skips an urgent refill",
        [REFILLS],
        facts(category="Medication refill", acuity="urgent"),
        None,
        "nurse",
        "urgent",
        None,
    ),
    (
        "order: the lower order wins although listed later",
        [
            rule(20, {}, {"queue": NAVIGATORS}, order=5),
            rule(21, {}, {"queue": PHYSICIANS}, order=1),
        ],
        facts(),
        PHYSICIANS,
        "physician",
        "routine",
        21,
    ),
    (
        "equal order: the older rule (lower id) wins",
        [
            rule(31, {}, {"queue": PHYSICIANS}, order=1),
            rule(30, {}, {"queue": NAVIGATORS}, order=1),
        ],
        facts(),
        NAVIGATORS,
        "nurse",
        "routine",
        30,
    ),
    (
        "disabled rule is skipped",
        [rule(1, {}, {"queue": PHYSICIANS}, enabled=False), rule(2, {}, {"queue": NAVIGATORS})],
        facts(),
        NAVIGATORS,
        "nurse",
        "routine",
        2,
    ),
    (
        "only rule disabled: default queue",
        [rule(1, {}, {"queue": PHYSICIANS}, enabled=False)],
        facts(),
        None,
        "nurse",
        "routine",
        None,
    ),
    (
        "confidence below threshold matches",
        [UNSURE],
        facts(service_level_confidence=0.5),
        PHYSICIANS,
        "physician",
        "routine",
        3,
    ),
    (
        "confidence at threshold does not match",
        [UNSURE],
        facts(service_level_confidence=0.6),
        None,
        "nurse",
        "routine",
        None,
    ),
    (
        "acuity confidence condition",
        [
            rule(
                8,
                {"confidence_below": {"label": "acuity", "value": 0.7}},
                {"raise_acuity": "urgent"},
            )
        ],
        facts(acuity_confidence=0.55),
        None,
        "nurse",
        "urgent",
        8,
    ),
    (
        "after hours at 22:00 (wraps midnight)",
        [AFTER_HOURS],
        facts(acuity="urgent", local_time=datetime.time(22)),
        None,
        "nurse",
        "urgent",
        4,
    ),
    (
        "after hours at 07:59",
        [AFTER_HOURS],
        facts(acuity="urgent", local_time=datetime.time(7, 59)),
        None,
        "nurse",
        "urgent",
        4,
    ),
    (
        "08:00 is not after hours",
        [AFTER_HOURS],
        facts(acuity="urgent", local_time=datetime.time(8)),
        None,
        "nurse",
        "urgent",
        None,
    ),
    (
        "midday is not after hours",
        [AFTER_HOURS],
        facts(acuity="urgent", local_time=datetime.time(12)),
        None,
        "nurse",
        "urgent",
        None,
    ),
    (
        "daytime window 09-17",
        [rule(7, {"time_of_day": {"from": "09:00", "to": "17:00"}}, {"queue": NAVIGATORS})],
        facts(local_time=datetime.time(16, 59), service_level="ma"),
        NAVIGATORS,
        "nurse",
        "routine",
        7,
    ),
    ("language condition", [SPANISH], facts(language="es"), None, "nurse", "routine", 5),
    (
        "language condition, English patient",
        [SPANISH],
        facts(language="en"),
        None,
        "nurse",
        "routine",
        None,
    ),
    (
        "red flag condition",
        [rule(8, {"red_flag": ["chest_pain"]}, {"queue": PHYSICIANS})],
        facts(acuity="emergent", red_flags=frozenset({"chest_pain"})),
        PHYSICIANS,
        "physician",
        "emergent",
        8,
    ),
    (
        "all conditions must hold",
        [rule(8, {"language": "es", "acuity": "urgent"}, {"queue": PHYSICIANS})],
        facts(language="es", acuity="routine"),
        None,
        "nurse",
        "routine",
        None,
    ),
    (
        "first matching rule decides, later ones ignored",
        [SPANISH, BILLING],
        facts(language="es", text="my bill"),
        None,
        "nurse",
        "routine",
        5,
    ),
    (
        "raise acuity never lowers",
        [rule(8, {}, {"raise_acuity": "routine"})],
        facts(acuity="urgent"),
        None,
        "nurse",
        "urgent",
        8,
    ),
    (
        "empty conditions always match",
        [rule(8, {}, {"queue": NAVIGATORS})],
        facts(service_level="clerical"),
        NAVIGATORS,
        "nurse",
        "routine",
        8,
    ),
    (
        "unknown queue: default queue",
        [rule(8, {}, {"queue": 999})],
        facts(),
        None,
        "nurse",
        "routine",
        8,
    ),
    (
        "safety: emergent never to the clerical pool",
        [BILLING],
        facts(acuity="emergent", text="chest pain and my bill"),
        None,
        "nurse",
        "emergent",
        6,
    ),
    (
        "safety: raised to emergent, clerical message goes to nurse",
        [rule(8, {"keyword": "seizure"}, {"raise_acuity": "emergent"})],
        facts(service_level="clerical", text="seizure now"),
        None,
        "nurse",
        "emergent",
        8,
    ),
    (
        "safety: needs review never moves down",
        [BILLING],
        facts(needs_review=True, text="my bill"),
        None,
        "nurse",
        "routine",
        6,
    ),
    (
        "needs review may move up",
        [rule(8, {}, {"queue": PHYSICIANS})],
        facts(needs_review=True),
        PHYSICIANS,
        "physician",
        "routine",
        8,
    ),
]


@pytest.mark.parametrize(
    ("rule_set", "message", "queue_id", "role", "acuity", "rule_id"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_evaluate(rule_set, message, queue_id, role, acuity, rule_id):
    decision = rules.evaluate(rule_set, message, queue_roles=QUEUE_ROLES)
    assert (decision.queue_id, decision.role, decision.acuity, decision.rule_id) == (
        queue_id,
        role,
        acuity,
        rule_id,
    )
    assert decision.reason  # staff can always see why


def test_decision_explains_the_match_and_carries_the_action():
    decision = rules.evaluate([AFTER_HOURS], facts(acuity="urgent", local_time=datetime.time(22)))
    assert decision.notify_user_ids == (7,)
    assert decision.auto_reply == "after_hours"
    assert "rule 'rule 4' (#4) matched" in decision.reason
    assert "received 22:00, between 17:00-08:00" in decision.reason


def test_assignment_is_carried():
    assert rules.evaluate([SPANISH], facts(language="es")).assignee_id == 42


def test_safety_reason_is_stated():
    decision = rules.evaluate(
        [BILLING], facts(acuity="emergent", text="bill"), queue_roles=QUEUE_ROLES
    )
    assert "emergent stays with nurse or physician" in decision.reason


INVALID = [
    ("unknown condition", {"colour": "red"}, {"queue": 1}, "conditions.colour"),
    ("bad acuity value", {"acuity": ["critical"]}, {"queue": 1}, "conditions.acuity"),
    ("bad service level", {"service_level": "doctor"}, {"queue": 1}, "conditions.service_level"),
    ("empty action", {}, {}, "action"),
    ("unknown action", {}, {"delete": True}, "action.delete"),
    (
        "confidence over 1",
        {"confidence_below": {"label": "acuity", "value": 2}},
        {"queue": 1},
        "conditions.confidence_below",
    ),
    (
        "time of day not a time",
        {"time_of_day": {"from": "late", "to": "08:00"}},
        {"queue": 1},
        "conditions.time_of_day",
    ),
    ("unknown patient flag", {"patient_flag": "vip"}, {"queue": 1}, "conditions.patient_flag"),
    ("empty keyword list", {"keyword": []}, {"queue": 1}, "conditions.keyword"),
    ("raise to unknown acuity", {}, {"raise_acuity": "critical"}, "action.raise_acuity"),
    ("queue not an id", {}, {"queue": "nurses"}, "action.queue"),
    ("notify not ids", {}, {"notify": ["bob"]}, "action.notify"),
    ("conditions not an object", ["acuity"], {"queue": 1}, "conditions"),
]


@pytest.mark.parametrize(
    ("conditions", "action", "key"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID]
)
def test_validate_rejects(conditions, action, key):
    with pytest.raises(InvalidRule) as raised:
        rules.validate(conditions, action)
    assert key in raised.value.errors


def test_validate_accepts_every_condition_and_action():
    rules.validate(
        {
            "acuity": ["urgent", "emergent"],
            "service_level": "nurse",
            "confidence_below": {"label": "evisit", "value": 0.5},
            "keyword": ["port"],
            "category": "Medication refill",
            "patient_flag": ["on_chemotherapy"],
            "language": "es",
            "time_of_day": {"from": "17:00", "to": "08:00"},
            "red_flag": "chest_pain",
        },
        {"queue": 1, "raise_acuity": "urgent", "assign_to": 2, "notify": [3], "auto_reply": "x"},
    )
