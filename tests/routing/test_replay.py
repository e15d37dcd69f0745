"""What a rule edit would change, computed over past messages' facts (pure, no ORM)."""

import pytest

from routing import replay
from routing.rules import MessageFacts, Rule

PORT_POOL, NURSE_DEFAULT, CLERICAL_DEFAULT, PHARMACY = 10, 11, 12, 13
QUEUE_ROLES = {PORT_POOL: "nurse", NURSE_DEFAULT: "nurse", CLERICAL_DEFAULT: "clerical"}
QUEUE_ROLES[PHARMACY] = "ma"
DEFAULTS = {"nurse": NURSE_DEFAULT, "clerical": CLERICAL_DEFAULT, "ma": 14, "physician": 15}


def rule(id, *, order=1, enabled=True, name=None, **spec) -> Rule:
    conditions = {k: v for k, v in spec.items() if k != "action"}
    return Rule(
        id=id,
        name=name or f"rule {id}",
        order=order,
        enabled=enabled,
        conditions=conditions,
        action=spec["action"],
    )


def message(id, text, *, acuity="routine", level="nurse", **facts) -> replay.PastMessage:
    return replay.PastMessage(
        message_id=id,
        work_item_id=100 + id,
        facts=MessageFacts(acuity=acuity, service_level=level, text=text, **facts),
    )


MESSAGES = [
    message(1, "my port site is red"),
    message(2, "can i get a refill", level="ma"),
    message(3, "the picc line dressing came off"),
    message(4, "parking validation", level="clerical"),
]
PORT_RULE = rule(1, keyword=["port"], action={"queue": PORT_POOL})


def run(current, edited, messages=MESSAGES):
    return replay.replay(
        messages,
        current=current,
        edited=edited,
        queue_roles=QUEUE_ROLES,
        default_queues=DEFAULTS,
    )


def test_widening_a_rule_moves_only_the_newly_matched_messages():
    widened = rule(1, keyword=["port", "picc"], action={"queue": PORT_POOL})

    report = run([PORT_RULE], widened)

    assert report.messages == 4
    assert report.moved == 1
    assert [m.message_id for m in report.examples] == [3]
    assert report.examples[0].work_item_id == 103
    assert report.queue_moves == {(NURSE_DEFAULT, PORT_POOL): 1}
    assert report.by_change == {"queue": 1}
    assert (report.matched_before, report.matched_after) == (1, 2)
    assert "keyword 'picc'" in report.examples[0].why


def test_an_unchanged_rule_moves_nothing():
    report = run([PORT_RULE], PORT_RULE)

    assert (report.messages, report.moved, report.examples) == (4, 0, [])
    assert (report.matched_before, report.matched_after) == (1, 1)


def test_disabling_a_rule_sends_its_messages_back_to_the_default_queue():
    disabled = rule(1, enabled=False, keyword=["port"], action={"queue": PORT_POOL})

    report = run([PORT_RULE], disabled)

    assert report.queue_moves == {(PORT_POOL, NURSE_DEFAULT): 1}
    assert (report.matched_before, report.matched_after) == (1, 0)


def test_a_new_rule_is_added_after_the_current_ones_by_its_order():
    new = rule(
        None, order=0, name="Refills to pharmacy", keyword=["refill"], action={"queue": PHARMACY}
    )

    report = run([PORT_RULE], new)

    assert report.moved == 1
    assert report.queue_moves == {(14, PHARMACY): 1}
    assert report.matched_after == 1
    assert report.matched_before == 0


def test_a_new_rule_ordered_first_can_take_messages_from_an_existing_rule():
    new = rule(None, order=0, name="Everything to nurse", action={"raise_acuity": "urgent"})

    report = run([PORT_RULE], new)

    # Raising acuity of every routine message; the port message loses its custom pool.
    assert report.moved == 4
    assert report.acuity_moves == {("routine", "urgent"): 4}
    assert report.queue_moves == {(PORT_POOL, NURSE_DEFAULT): 1}
    assert report.matched_after == 4


def test_safety_holds_in_the_replay_an_emergent_message_never_goes_to_clerical():
    emergent = [message(1, "chest pain, parking question", acuity="emergent", level="nurse")]
    to_clerical = rule(1, keyword=["parking"], action={"queue": CLERICAL_DEFAULT})

    report = run([], to_clerical, emergent)

    assert report.moved == 0  # the rule matches but cannot send it below a nurse
    assert report.matched_after == 1


@pytest.mark.parametrize(
    ("action", "change"),
    [
        ({"assign_to": 7}, "assignee"),
        ({"notify": [7, 8]}, "notify"),
        ({"auto_reply": "after_hours"}, "auto_reply"),
    ],
)
def test_changes_other_than_the_queue_are_counted(action, change):
    edited = rule(1, keyword=["port"], action={"queue": PORT_POOL, **action})

    report = run([PORT_RULE], edited)

    assert report.by_change == {change: 1}
    assert report.queue_moves == {}


def test_the_report_lists_at_most_the_example_limit_but_counts_every_move():
    many = [message(i, "port question") for i in range(replay.EXAMPLE_LIMIT + 7)]

    report = run([], PORT_RULE, many)

    assert report.moved == replay.EXAMPLE_LIMIT + 7
    assert len(report.examples) == replay.EXAMPLE_LIMIT


def test_reports_add_up_over_chunks():
    widened = rule(1, keyword=["port", "picc"], action={"queue": PORT_POOL})
    report = replay.ReplayReport()
    for chunk in (MESSAGES[:2], MESSAGES[2:]):
        replay.replay(
            chunk,
            current=[PORT_RULE],
            edited=widened,
            queue_roles=QUEUE_ROLES,
            default_queues=DEFAULTS,
            report=report,
        )

    assert (report.messages, report.moved, report.matched_after) == (4, 1, 2)
