"""What a rule change would do, before it is saved. Pure: no ORM.

An administrator edits one rule; `proposed_rules` puts the edit into the clinic's rule set,
and `replay` routes past messages (their stored classification and facts) through the
rules as they are and as they would be, and reports every message whose queue, acuity,
assignee, notifications or automatic reply would change. Both sides are evaluated now,
with the same facts, so the report shows the effect of this edit alone, not of earlier
rule or model changes.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from routing import rules

# The moved messages listed by id; the counts cover all of them.
EXAMPLE_LIMIT = 50


@dataclass(frozen=True)
class PastMessage:
    message_id: int
    work_item_id: int | None
    facts: rules.MessageFacts


@dataclass(frozen=True)
class Outcome:
    """Where a routing decision sends a message, with the role's default queue resolved."""

    queue_id: int | None
    role: str
    acuity: str
    assignee_id: int | None
    notify_user_ids: tuple[int, ...]
    auto_reply: str | None
    rule_name: str

    @classmethod
    def of(cls, decision: rules.RoutingDecision, default_queues: Mapping[str, int]):
        return cls(
            queue_id=decision.queue_id or default_queues.get(decision.role),
            role=decision.role,
            acuity=decision.acuity,
            assignee_id=decision.assignee_id,
            notify_user_ids=tuple(sorted(decision.notify_user_ids)),
            auto_reply=decision.auto_reply,
            rule_name=decision.rule_name,
        )


CHANGES = ("queue", "acuity", "assignee", "notify", "auto_reply")


def changes_between(before: Outcome, after: Outcome) -> tuple[str, ...]:
    return tuple(
        name
        for name, differs in (
            ("queue", before.queue_id != after.queue_id),
            ("acuity", before.acuity != after.acuity),
            ("assignee", before.assignee_id != after.assignee_id),
            ("notify", before.notify_user_ids != after.notify_user_ids),
            ("auto_reply", before.auto_reply != after.auto_reply),
        )
        if differs
    )


@dataclass(frozen=True)
class Move:
    message_id: int
    work_item_id: int | None
    before: Outcome
    after: Outcome
    changes: tuple[str, ...]
    why: str  # the proposed decision's reasons


@dataclass
class ReplayReport:
    messages: int = 0
    moved: int = 0
    by_change: Counter = field(default_factory=Counter)
    # (queue before, queue after) -> messages; only moves that change the queue.
    queue_moves: Counter = field(default_factory=Counter)
    # (acuity before, acuity after) -> messages
    acuity_moves: Counter = field(default_factory=Counter)
    # messages the edited rule decides after the change, and before it
    matched_after: int = 0
    matched_before: int = 0
    examples: list[Move] = field(default_factory=list)

    def add(self, move: Move | None, *, rule_before: bool, rule_after: bool) -> None:
        self.messages += 1
        self.matched_before += rule_before
        self.matched_after += rule_after
        if move is None:
            return
        self.moved += 1
        self.by_change.update(move.changes)
        if "queue" in move.changes:
            self.queue_moves[(move.before.queue_id, move.after.queue_id)] += 1
        if "acuity" in move.changes:
            self.acuity_moves[(move.before.acuity, move.after.acuity)] += 1
        if len(self.examples) < EXAMPLE_LIMIT:
            self.examples.append(move)


def proposed_rules(current: Sequence[rules.Rule], edited: rules.Rule) -> list[rules.Rule]:
    """The clinic's rules with `edited` in place of the rule of the same id, or added when
    it is new (no id)."""
    kept = [rule for rule in current if edited.id is None or rule.id != edited.id]
    return [*kept, edited]


def decided_by(decision: rules.RoutingDecision, edited: rules.Rule) -> bool:
    # A rule not saved yet has no id; its name tells it from "no rule matched".
    if edited.id is not None:
        return decision.rule_id == edited.id
    return decision.rule_id is None and decision.rule_name == edited.name


@dataclass(frozen=True)
class Comparison:
    """One message routed by the rules as they are and as they would be."""

    before: rules.RoutingDecision
    after: rules.RoutingDecision
    before_outcome: Outcome
    after_outcome: Outcome
    changes: tuple[str, ...]


def compare(
    facts: rules.MessageFacts,
    *,
    current: Sequence[rules.Rule],
    after_rules: Sequence[rules.Rule],
    queue_roles: Mapping[int, str],
    default_queues: Mapping[str, int],
) -> Comparison:
    before = rules.evaluate(current, facts, queue_roles=queue_roles)
    after = rules.evaluate(after_rules, facts, queue_roles=queue_roles)
    before_outcome = Outcome.of(before, default_queues)
    after_outcome = Outcome.of(after, default_queues)
    return Comparison(
        before=before,
        after=after,
        before_outcome=before_outcome,
        after_outcome=after_outcome,
        changes=changes_between(before_outcome, after_outcome),
    )


def replay(
    messages: Iterable[PastMessage],
    *,
    current: Sequence[rules.Rule],
    edited: rules.Rule,
    queue_roles: Mapping[int, str],
    default_queues: Mapping[str, int],
    report: ReplayReport | None = None,
) -> ReplayReport:
    """Route each message through the current rules and through the rules with `edited`
    in place; returns (or adds to `report`) the counts and the first moved messages."""
    report = report or ReplayReport()
    after_rules = proposed_rules(current, edited)
    for message in messages:
        seen = compare(
            message.facts,
            current=current,
            after_rules=after_rules,
            queue_roles=queue_roles,
            default_queues=default_queues,
        )
        move = (
            Move(
                message_id=message.message_id,
                work_item_id=message.work_item_id,
                before=seen.before_outcome,
                after=seen.after_outcome,
                changes=seen.changes,
                why=seen.after.reason,
            )
            if seen.changes
            else None
        )
        report.add(
            move,
            rule_before=edited.id is not None and decided_by(seen.before, edited),
            rule_after=decided_by(seen.after, edited),
        )
    return report
