"""Scope of practice: which roles may claim, reply to and close a work item, by its service
level and acuity (domain.md, "The care team and what each role may do").

Pure: plain strings and the labels of triage.ml.labels, no Django. The services
(routing.work_items) gather the facts (the actor's role in the item's clinic, the
clinic's grants, whether a physician replied) and ask `decide`; the screens ask the same
function to hide what a person may not do.

Who works messages at all (`decide_work`) comes first: the clinical roles read the
threads and queues of their clinic and act on them; billing staff see e-visits and the
time behind them (the billing screens), administrators configure the clinic in the
admin, and neither reads a thread or a queue, nor acts on one. Within the clinical
roles, anyone may read every item of their clinic, reassign or escalate a message up to
a more trained role, and return an item they hold; the rest follows the table.

The defaults:

- clerical: acts only on clerical-level, routine messages;
- ma: on clerical- and MA-level routine messages (urgent and emergent messages are
  answered and closed by a nurse or physician);
- nurse: on everything, but closes a physician-level message only once a physician has
  replied on it;
- physician: everything;
- billing, admin: no clinical action.

A clinic widens them with grants, one case each (role, action, service level, acuity):
e.g. an LVN working as MA allowed to close urgent MA-level messages.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from triage.ml.labels import SERVICE_LEVEL_RANK, Acuity, ServiceLevel

CLERICAL, MA, NURSE, PHYSICIAN, BILLING, ADMIN = (
    "clerical",
    "ma",
    "nurse",
    "physician",
    "billing",
    "admin",
)
ROLES = (CLERICAL, MA, NURSE, PHYSICIAN, BILLING, ADMIN)
CLINICAL_ROLES = (CLERICAL, MA, NURSE, PHYSICIAN)

CLAIM, REPLY, CLOSE = "claim", "reply", "close"
ACTIONS = (CLAIM, REPLY, CLOSE)
# Time on a message is time spent answering it: logged by those who may reply to it (not
# an action of the table, nor of grants: a reply grant widens it too).
LOG_TIME = "log time"
_AS_IN_TABLE = {LOG_TIME: REPLY}

SERVICE_LEVELS = tuple(ServiceLevel.values)
ACUITIES = tuple(Acuity.values)

_ROUTINE = str(Acuity.ROUTINE)
_EVERY_CASE = frozenset((level, acuity) for level in SERVICE_LEVELS for acuity in ACUITIES)
_CLERICAL_ROUTINE = frozenset({(CLERICAL, _ROUTINE)})
_MA_ROUTINE = frozenset({(CLERICAL, _ROUTINE), (MA, _ROUTINE)})

# The table: (role, action) -> the (service level, acuity) cases the role may act on.
# A (role, action) pair that is not here may act on nothing (billing, admin).
DEFAULT_SCOPE: dict[tuple[str, str], frozenset[tuple[str, str]]] = {
    (CLERICAL, CLAIM): _CLERICAL_ROUTINE,
    (CLERICAL, REPLY): _CLERICAL_ROUTINE,
    (CLERICAL, CLOSE): _CLERICAL_ROUTINE,
    (MA, CLAIM): _MA_ROUTINE,
    (MA, REPLY): _MA_ROUTINE,
    (MA, CLOSE): _MA_ROUTINE,
    (NURSE, CLAIM): _EVERY_CASE,
    (NURSE, REPLY): _EVERY_CASE,
    (NURSE, CLOSE): _EVERY_CASE,  # physician level: see AFTER_PHYSICIAN_REPLY
    (PHYSICIAN, CLAIM): _EVERY_CASE,
    (PHYSICIAN, REPLY): _EVERY_CASE,
    (PHYSICIAN, CLOSE): _EVERY_CASE,
}
# Cases of the table allowed only once a physician has replied on the conversation:
# (role, action, service level).
AFTER_PHYSICIAN_REPLY = frozenset({(NURSE, CLOSE, PHYSICIAN)})

# Words for the reasons given to people.
ROLE_SUBJECT = {
    CLERICAL: "A clerical role",
    MA: "A medical assistant",
    NURSE: "A nurse",
    PHYSICIAN: "A physician",
    BILLING: "A billing role",
    ADMIN: "An administrator role",
}
ROLE_NOUN = {CLERICAL: "clerk", MA: "medical assistant", NURSE: "nurse", PHYSICIAN: "physician"}
ACTION_VERB = {
    CLAIM: "claim",
    REPLY: "reply to",
    CLOSE: "close",
    LOG_TIME: "log time on",
}
SEND_TO_NURSE = "Send it to nurse triage."


@dataclass(frozen=True)
class Grant:
    """A clinic's widening of the table: `role` may take `action` on messages of this
    service level and acuity."""

    role: str
    action: str
    service_level: str
    acuity: str


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Why not, in plain words, for the person refused.
    reason: str = ""
    # Offer "Send to nurse triage": the message sits below nurse level, so nurse triage
    # is a move up that anyone may make.
    send_to_nurse: bool = False
    # Refused only because no physician has replied yet (a nurse closing a
    # physician-level message).
    awaits_physician_reply: bool = False


ALLOWED = Decision(allowed=True)


def by_default(*, role: str, action: str, service_level: str, acuity: str) -> bool:
    """Whether the default table lets `role` take `action` on such a message (a case
    that waits for a physician's reply counts as allowed here)."""
    action = _AS_IN_TABLE.get(action, action)
    return (service_level, acuity) in DEFAULT_SCOPE.get((role, action), frozenset())


def decide(
    *,
    role: str | None,
    action: str,
    service_level: str,
    acuity: str,
    physician_replied: bool = False,
    grants: Iterable[Grant] = (),
) -> Decision:
    """May `role` (None: no membership in the item's clinic) take `action` on a message
    of this service level and acuity, given the clinic's grants?"""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    if role is not None and Grant(role, action, service_level, acuity) in set(grants):
        return ALLOWED
    if role is not None and by_default(
        role=role, action=action, service_level=service_level, acuity=acuity
    ):
        if (role, action, service_level) not in AFTER_PHYSICIAN_REPLY or physician_replied:
            return ALLOWED
        return Decision(
            allowed=False,
            reason=(
                f"{ROLE_SUBJECT[role]} may not {ACTION_VERB[action]} a "
                f"{_level_phrase(service_level)} message until a physician has replied "
                "on it: a physician must reply or close it."
            ),
            awaits_physician_reply=True,
        )
    return Decision(
        allowed=False,
        reason=refusal(role=role, actions=[action], service_level=service_level, acuity=acuity),
        send_to_nurse=offers_nurse_triage(service_level),
    )


def offers_nurse_triage(service_level: str) -> bool:
    return SERVICE_LEVEL_RANK[ServiceLevel(service_level)] < SERVICE_LEVEL_RANK[ServiceLevel.NURSE]


def refusal(*, role: str | None, actions: Iterable[str], service_level: str, acuity: str) -> str:
    """Why `role` may not take these actions on such a message, in plain words: "A
    clerical role may not close an urgent clerical-level message: a nurse or physician
    must. Send it to nurse triage." """
    actions = list(actions)
    verbs = _joined([ACTION_VERB[a] for a in actions])
    what = f"{_article(acuity)} {acuity} {_level_phrase(service_level)} message"
    if role in CLINICAL_ROLES:
        who = _who_may(actions=actions, service_level=service_level, acuity=acuity)
        reason = f"{ROLE_SUBJECT[role]} may not {verbs} {what}: {who} must."
    else:
        subject = ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
        reason = f"{subject} takes no clinical action: it may not {verbs} {what}."
    if offers_nurse_triage(service_level):
        reason += f" {SEND_TO_NURSE}"
    return reason


# Who reads message threads and work queues and acts on them: minimum necessary, so not
# billing (e-visits and their time only) nor administrators (the clinic's configuration).
WORKERS = CLINICAL_ROLES
WORK_ELSEWHERE = {
    BILLING: "billing staff see e-visits and the time behind them on the billing screens",
    ADMIN: "administrators configure queues, rules and staff in the admin",
}


def decide_work(*, role: str | None) -> Decision:
    """May someone with `role` in a clinic read its message threads and queues and act
    on its work items (each action then by the table)?"""
    if role in WORKERS:
        return ALLOWED
    subject = ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
    elsewhere = WORK_ELSEWHERE.get(role)
    reason = f"{subject} may not read or work patients' messages"
    reason += f": {elsewhere}." if elsewhere else "."
    return Decision(allowed=False, reason=reason)


def decide_log_time(
    *, role: str | None, service_level: str, acuity: str, grants: Iterable[Grant] = ()
) -> Decision:
    """May `role` log time (a timer or minutes) on such a message: whoever may reply to
    it, so time is the time of someone working it."""
    reply = decide(
        role=role, action=REPLY, service_level=service_level, acuity=acuity, grants=grants
    )
    if reply.allowed:
        return ALLOWED
    return Decision(
        allowed=False,
        reason=refusal(role=role, actions=[LOG_TIME], service_level=service_level, acuity=acuity),
        send_to_nurse=reply.send_to_nurse,
    )


def decide_return(*, role: str | None, holds_it: bool, may_claim: bool) -> Decision:
    """Anyone gives back what they hold (a message raised past their scope while they
    held it, too); someone else's item only those who may claim it."""
    if role in WORKERS and (holds_it or may_claim):
        return ALLOWED
    subject = ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
    return Decision(
        allowed=False,
        reason=(
            f"{subject} may not return a message someone else holds that it may not take "
            "itself: ask them, or someone who may take it."
        ),
    )


# Who may reopen a closed item (not widened by grants).
REOPENERS = (NURSE, PHYSICIAN)


def decide_reopen(*, role: str | None) -> Decision:
    if role in REOPENERS:
        return ALLOWED
    subject = ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
    return Decision(
        allowed=False,
        reason=f"{subject} may not reopen a closed message: a nurse or physician must.",
    )


def decide_reassign(
    *, role: str | None, may_claim: bool, from_level: str, to_level: str
) -> Decision:
    """Anyone may send a message up, to a more trained role. Moving it to the same or a
    less trained role is a judgement on it: only someone who may take it makes it."""
    if is_move_up(from_level=from_level, to_level=to_level) or may_claim:
        return ALLOWED
    subject = ROLE_SUBJECT.get(role, "Someone without a role in this clinic")
    reason = (
        f"{subject} may send a {_level_phrase(from_level)} message only up, to a more "
        f"trained role: moving it to {_level_phrase(to_level)} work is for someone who may "
        "take it."
    )
    if offers_nurse_triage(from_level):
        reason += f" {SEND_TO_NURSE}"
    return Decision(allowed=False, reason=reason, send_to_nurse=offers_nurse_triage(from_level))


def claimable_cases(*, role: str | None, grants: Iterable[Grant] = ()) -> set[tuple[str, str]]:
    """The (service level, acuity) cases `role` may claim: what "claim next" may hand out."""
    if role is None:
        return set()
    cases = set(DEFAULT_SCOPE.get((role, CLAIM), frozenset()))
    cases |= {(g.service_level, g.acuity) for g in grants if g.role == role and g.action == CLAIM}
    return cases


def is_move_up(*, from_level: str, to_level: str) -> bool:
    return SERVICE_LEVEL_RANK[ServiceLevel(to_level)] > SERVICE_LEVEL_RANK[ServiceLevel(from_level)]


def _who_may(*, actions: list[str], service_level: str, acuity: str) -> str:
    """The clinical roles the default table lets take every one of `actions` on such a
    message without waiting for anyone, in words: "a nurse or physician"."""
    roles = [
        role
        for role in CLINICAL_ROLES
        if all(
            by_default(role=role, action=a, service_level=service_level, acuity=acuity)
            and (role, a, service_level) not in AFTER_PHYSICIAN_REPLY
            for a in actions
        )
    ]
    if roles == list(CLINICAL_ROLES):
        return "clinical staff"
    return "a " + _joined([ROLE_NOUN[r] for r in roles])


def _level_phrase(service_level: str) -> str:
    return {MA: "MA-level"}.get(service_level, f"{service_level}-level")


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _joined(words: list[str]) -> str:
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " or " + words[-1]
