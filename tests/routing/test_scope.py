"""The scope of practice table (routing/scope.py), pure: every role, service level,
acuity and action against the defaults of domain.md, and a clinic's grant widening exactly
its own case."""

import itertools

import pytest

from routing import scope

ROLES = ["clerical", "ma", "nurse", "physician", "billing", "admin"]
LEVELS = ["clerical", "ma", "nurse", "physician"]
ACUITIES = ["emergent", "urgent", "routine"]
ACTIONS = ["claim", "reply", "close"]
EVERY_CASE = list(itertools.product(ROLES, ACTIONS, LEVELS, ACUITIES))


def expected(role: str, action: str, level: str, acuity: str, *, physician_replied: bool) -> bool:
    """domain.md, written out again on its own: a clerk acts only on clerical-level routine
    messages, an MA on clerical- and MA-level ones; urgent and emergent messages are
    answered and closed by a nurse or physician; a nurse does everything but close a
    physician-level message no physician has replied to; billing and admin roles take no
    clinical action."""
    if role in ("billing", "admin"):
        return False
    if role == "physician":
        return True
    if role == "nurse":
        return not (action == "close" and level == "physician" and not physician_replied)
    if acuity != "routine":
        return False
    return level in {"clerical": ["clerical"], "ma": ["clerical", "ma"]}[role]


@pytest.mark.parametrize("physician_replied", [False, True], ids=["no-md-reply", "md-replied"])
@pytest.mark.parametrize(("role", "action", "level", "acuity"), EVERY_CASE)
def test_the_default_table(role, action, level, acuity, physician_replied):
    decision = scope.decide(
        role=role,
        action=action,
        service_level=level,
        acuity=acuity,
        physician_replied=physician_replied,
    )

    assert decision.allowed is expected(
        role, action, level, acuity, physician_replied=physician_replied
    )
    if decision.allowed:
        assert decision.reason == ""
    else:
        assert decision.reason.startswith(scope.ROLE_SUBJECT[role])
        # Below nurse level the way out is nurse triage, a move up anyone may make.
        assert decision.send_to_nurse is (level in ("clerical", "ma"))
        assert ("Send it to nurse triage." in decision.reason) is decision.send_to_nurse


REFUSED = [case for case in EVERY_CASE if not expected(*case, physician_replied=False)]


@pytest.mark.parametrize(("role", "action", "level", "acuity"), REFUSED)
def test_a_grant_widens_exactly_its_own_case(role, action, level, acuity):
    grant = scope.Grant(role=role, action=action, service_level=level, acuity=acuity)

    for case in EVERY_CASE:
        r, a, lvl, acu = case
        with_grant = scope.decide(role=r, action=a, service_level=lvl, acuity=acu, grants=[grant])
        without = scope.decide(role=r, action=a, service_level=lvl, acuity=acu)
        if case == (role, action, level, acuity):
            assert with_grant.allowed
        else:
            assert with_grant == without, case


def test_a_grant_of_another_role_or_action_changes_nothing():
    grant = scope.Grant(role="ma", action="close", service_level="ma", acuity="urgent")

    assert not scope.decide(
        role="clerical", action="close", service_level="ma", acuity="urgent", grants=[grant]
    ).allowed
    assert not scope.decide(
        role="ma", action="reply", service_level="ma", acuity="urgent", grants=[grant]
    ).allowed
    assert scope.decide(
        role="ma", action="close", service_level="ma", acuity="urgent", grants=[grant]
    ).allowed


def test_a_refusal_says_why_in_plain_words():
    decision = scope.decide(
        role="clerical", action="close", service_level="clerical", acuity="urgent"
    )

    assert decision.reason == (
        "A clerical role may not close an urgent clerical-level message: a nurse or "
        "physician must. Send it to nurse triage."
    )


@pytest.mark.parametrize(
    ("role", "action", "level", "acuity", "reason"),
    [
        (
            "ma",
            "claim",
            "nurse",
            "routine",
            "A medical assistant may not claim a routine nurse-level message: a nurse or "
            "physician must.",
        ),
        (
            "clerical",
            "reply",
            "ma",
            "routine",
            "A clerical role may not reply to a routine MA-level message: a medical "
            "assistant, nurse or physician must. Send it to nurse triage.",
        ),
        (
            "clerical",
            "close",
            "physician",
            "routine",
            "A clerical role may not close a routine physician-level message: a physician must.",
        ),
        (
            "nurse",
            "close",
            "physician",
            "urgent",
            "A nurse may not close a physician-level message until a physician has replied on "
            "it: a physician must reply or close it.",
        ),
        (
            "billing",
            "claim",
            "clerical",
            "routine",
            "A billing role takes no clinical action: it may not claim a routine "
            "clerical-level message. Send it to nurse triage.",
        ),
    ],
)
def test_reasons_name_who_must(role, action, level, acuity, reason):
    assert scope.decide(role=role, action=action, service_level=level, acuity=acuity).reason == (
        reason
    )


def test_a_nurse_waiting_for_a_physician_is_told_so():
    decision = scope.decide(
        role="nurse", action="close", service_level="physician", acuity="routine"
    )
    assert decision.awaits_physician_reply
    assert not decision.send_to_nurse


def test_several_refused_actions_in_one_sentence():
    assert scope.refusal(
        role="ma", actions=["claim", "reply", "close"], service_level="ma", acuity="urgent"
    ) == (
        "A medical assistant may not claim, reply to or close an urgent MA-level message: a "
        "nurse or physician must. Send it to nurse triage."
    )


@pytest.mark.parametrize("role", [*ROLES, None])
def test_claimable_cases_are_the_claim_column_of_the_table(role):
    grant = scope.Grant(role="clerical", action="claim", service_level="ma", acuity="routine")
    cases = scope.claimable_cases(role=role, grants=[grant])

    assert cases == {
        (level, acuity)
        for level, acuity in itertools.product(LEVELS, ACUITIES)
        if scope.decide(
            role=role, action="claim", service_level=level, acuity=acuity, grants=[grant]
        ).allowed
    }


@pytest.mark.parametrize("role", [*ROLES, None])
def test_only_a_nurse_or_physician_reopens(role):
    decision = scope.decide_reopen(role=role)
    assert decision.allowed is (role in ("nurse", "physician"))
    if not decision.allowed:
        assert decision.reason.endswith(
            "may not reopen a closed message: a nurse or physician must."
        )


@pytest.mark.parametrize(("from_level", "to_level"), list(itertools.product(LEVELS, LEVELS)))
def test_anyone_reassigns_up_and_only_who_may_take_it_moves_it_sideways_or_down(
    from_level, to_level
):
    up = LEVELS.index(to_level) > LEVELS.index(from_level)

    outsider = scope.decide_reassign(
        role="clerical", may_claim=False, from_level=from_level, to_level=to_level
    )
    insider = scope.decide_reassign(
        role="nurse", may_claim=True, from_level=from_level, to_level=to_level
    )

    assert outsider.allowed is up
    assert insider.allowed


def test_an_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="unknown action"):
        scope.decide(role="nurse", action="delete", service_level="nurse", acuity="routine")


# --- who works messages at all, who logs time, who returns an item ---------------------------


@pytest.mark.parametrize("role", [*ROLES, None])
def test_only_the_clinical_roles_read_and_work_messages(role):
    decision = scope.decide_work(role=role)

    assert decision.allowed is (role in ("clerical", "ma", "nurse", "physician"))
    if role == "billing":
        assert decision.reason == (
            "A billing role may not read or work patients' messages: billing staff see "
            "e-visits and the time behind them on the billing screens."
        )
    if role == "admin":
        assert decision.reason == (
            "An administrator role may not read or work patients' messages: administrators "
            "configure queues, rules and staff in the admin."
        )


@pytest.mark.parametrize(
    ("role", "level", "acuity"), list(itertools.product(ROLES, LEVELS, ACUITIES))
)
def test_time_is_logged_by_whoever_may_reply(role, level, acuity):
    decision = scope.decide_log_time(role=role, service_level=level, acuity=acuity)

    # A nurse logs time on a physician-level message too: replying is not closing.
    assert decision.allowed is expected(role, "reply", level, acuity, physician_replied=False)
    if not decision.allowed:
        assert f"may not log time on {'an' if acuity[0] in 'aeiou' else 'a'} {acuity}" in (
            decision.reason
        )


def test_a_reply_grant_lets_the_role_log_time_on_its_case():
    grant = scope.Grant(role="ma", action="reply", service_level="ma", acuity="urgent")

    assert scope.decide_log_time(
        role="ma", service_level="ma", acuity="urgent", grants=[grant]
    ).allowed
    assert not scope.decide_log_time(role="ma", service_level="ma", acuity="urgent").allowed


@pytest.mark.parametrize(
    ("role", "holds_it", "may_claim", "allowed"),
    [
        ("clerical", True, False, True),  # raised past the clerk's scope while held
        ("clerical", False, False, False),
        ("nurse", False, True, True),
        ("billing", False, True, False),
        ("admin", True, False, False),
    ],
)
def test_an_item_is_returned_by_its_holder_or_by_who_may_take_it(
    role, holds_it, may_claim, allowed
):
    decision = scope.decide_return(role=role, holds_it=holds_it, may_claim=may_claim)

    assert decision.allowed is allowed
    assert bool(decision.reason) is not allowed
