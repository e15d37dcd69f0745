"""Table-driven tests for the pure e-visit decision (billing.cpt); no database needed."""

import ast
import inspect
from datetime import UTC, datetime, timedelta

import pytest

from billing import cpt
from billing.cpt import (
    ConversationFacts,
    GlobalPeriod,
    TimeSpent,
    Visit,
    decide,
)

T0 = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)  # first review, unless a case says otherwise
D0 = T0.date()
DAY = timedelta(days=1)

_CLINICIAN_IDS = {"MD": 1, "NP": 2, "PA": 3, "DO": 4, "PT": 5, "OT": 6, "RN": 7, "CMA": 8, "": 9}
_ROLES = {"RN": "nurse", "LPN": "nurse", "MA": "ma", "CMA": "ma"}


def e(credential, minutes=0, *, seconds=0, after=timedelta(0), who=None, role=None):
    """One time entry: `minutes` (+ `seconds`) starting `after` the base time T0."""
    return TimeSpent(
        clinician_id=who if who is not None else _CLINICIAN_IDS.get(credential, 99),
        role=role or _ROLES.get(credential, "physician"),
        credential=credential,
        started_at=T0 + after,
        seconds=minutes * 60 + seconds,
    )


_UNSET = object()


def facts(*entries, consent=_UNSET, **overrides):
    """Sane defaults: established, patient-initiated, consent 1 h before the first entry."""
    if consent is _UNSET:
        first = min((x.started_at for x in entries), default=T0)
        consent = first - timedelta(hours=1)
    values = {
        "patient_initiated": True,
        "established_patient": True,
        "consent_given_at": consent,
        "time_entries": tuple(entries),
    }
    values.update(overrides)
    return ConversationFacts(**values)


def ok(code, minutes):
    return (True, code, minutes, ())


def no(code, minutes, *reasons):
    return (False, code, minutes, reasons)


CASES = [
    # --- physician/QHP thresholds ---------------------------------------------------------
    pytest.param(facts(e("MD", 4)), no(None, 4, "under_5_minutes"), id="md-4min-under-5"),
    pytest.param(
        facts(e("MD", 4, seconds=59)), no(None, 4, "under_5_minutes"), id="md-4min59s-floors-to-4"
    ),
    pytest.param(facts(e("MD", 5)), ok("99421", 5), id="md-5min-99421"),
    pytest.param(facts(e("MD", 10)), ok("99421", 10), id="md-10min-99421"),
    pytest.param(facts(e("MD", 10, seconds=59)), ok("99421", 10), id="md-10min59s-99421"),
    pytest.param(facts(e("MD", 11)), ok("99422", 11), id="md-11min-99422"),
    pytest.param(facts(e("MD", 20)), ok("99422", 20), id="md-20min-99422"),
    pytest.param(facts(e("MD", 21)), ok("99423", 21), id="md-21min-99423"),
    pytest.param(facts(e("NP", 45)), ok("99423", 45), id="np-45min-99423"),
    pytest.param(facts(e("PA", 7)), ok("99421", 7), id="pa-is-qhp"),
    # --- non-physician QHP thresholds -------------------------------------------------------
    pytest.param(facts(e("PT", 4)), no(None, 4, "under_5_minutes"), id="pt-4min-under-5"),
    pytest.param(facts(e("PT", 5)), ok("98970", 5), id="pt-5min-98970"),
    pytest.param(facts(e("PT", 10)), ok("98970", 10), id="pt-10min-98970"),
    pytest.param(facts(e("OT", 11)), ok("98971", 11), id="ot-11min-98971"),
    pytest.param(facts(e("PT", 12)), ok("98971", 12), id="pt-12min-98971"),
    pytest.param(facts(e("PT", 20)), ok("98971", 20), id="pt-20min-98971"),
    pytest.param(facts(e("PT", 21)), ok("98972", 21), id="pt-21min-98972"),
    # --- RN / MA / staff time never counts ------------------------------------------------
    pytest.param(facts(e("RN", 30)), no(None, 0, "rn_ma_time_only"), id="rn-30min-alone"),
    pytest.param(
        facts(e("CMA", 15), e("", 15, role="ma"), e("", 15, role="clerical")),
        no(None, 0, "rn_ma_time_only"),
        id="ma-and-clerical-only",
    ),
    pytest.param(
        facts(e("", 20, role="nurse")), no(None, 0, "rn_ma_time_only"), id="nurse-role-no-cred"
    ),
    pytest.param(
        facts(e("RN", 30), e("MD", 4, after=timedelta(minutes=40))),
        no(None, 4, "under_5_minutes"),
        id="rn-30-plus-md-4",
    ),
    pytest.param(
        facts(e("MD", 6), e("RN", 30, after=timedelta(minutes=10))),
        ok("99421", 6),
        id="md-6-plus-rn-30",
    ),
    pytest.param(
        facts(e("", 6, role="physician")), ok("99421", 6), id="physician-role-empty-credential"
    ),
    pytest.param(facts(), no(None, 0, "no_clinician_time"), id="no-time-at-all"),
    # --- several clinicians and entries add up ----------------------------------------------
    pytest.param(
        facts(e("MD", 6), e("NP", 6, after=timedelta(hours=2))),
        ok("99422", 12),
        id="md-6-plus-np-6",
    ),
    pytest.param(
        facts(e("MD", 3), e("MD", 3, after=DAY)), ok("99421", 6), id="same-md-two-days-adds-up"
    ),
    # --- families are never added together ------------------------------------------------
    pytest.param(
        facts(e("PT", 8), e("MD", 4, after=timedelta(hours=1))),
        ok("98970", 8),
        id="pt-8-plus-md-4-non-physician-family",
    ),
    pytest.param(
        facts(e("PT", 30), e("MD", 5, after=timedelta(hours=1))),
        ok("99421", 5),
        id="md-5-plus-pt-30-physician-family",
    ),
    pytest.param(
        facts(e("PT", 3), e("MD", 3)),
        no(None, 3, "under_5_minutes"),
        id="pt-3-plus-md-3-not-added",
    ),
    # --- the 7-day window -----------------------------------------------------------------
    pytest.param(
        facts(e("MD", 4), e("MD", 10, after=timedelta(days=7, seconds=1))),
        no(None, 4, "under_5_minutes"),
        id="entry-7d-1s-after-start-not-counted",
    ),
    pytest.param(
        facts(e("MD", 4), e("MD", 10, after=timedelta(days=7))),
        no(None, 4, "under_5_minutes"),
        id="entry-exactly-7d-after-start-not-counted",
    ),
    pytest.param(
        facts(e("MD", 4), e("MD", 10, after=timedelta(days=6, hours=23))),
        ok("99422", 14),
        id="entry-6d23h-after-start-counted",
    ),
    # --- related E/M visits ----------------------------------------------------------------
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 - 6 * DAY),)),
        no("99421", 10, "em_visit_prior_7_days"),
        id="em-visit-6-days-before",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 - 7 * DAY),)),
        no("99421", 10, "em_visit_prior_7_days"),
        id="em-visit-exactly-7-days-before",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 - 8 * DAY),)),
        ok("99421", 10),
        id="em-visit-8-days-before",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0),)),
        no("99421", 10, "em_visit_prior_7_days"),
        id="em-visit-same-day",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 + 3 * DAY),)),
        no("99421", 10, "visit_within_next_7_days"),
        id="visit-3-days-after",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 + 7 * DAY),)),
        no("99421", 10, "visit_within_next_7_days"),
        id="visit-7-days-after",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 + 8 * DAY),)),
        ok("99421", 10),
        id="visit-8-days-after",
    ),
    pytest.param(
        facts(e("MD", 10), visits=(Visit(D0 + 3 * DAY, kind="procedure"),)),
        ok("99421", 10),
        id="non-em-visit-ignored",
    ),
    # --- surgical global period --------------------------------------------------------------
    pytest.param(
        facts(e("MD", 10), global_periods=(GlobalPeriod(D0 - 30 * DAY, D0 + 60 * DAY),)),
        no("99421", 10, "global_period"),
        id="global-period-same-problem",
    ),
    pytest.param(
        facts(
            e("MD", 10),
            global_periods=(GlobalPeriod(D0 - 30 * DAY, D0 + 60 * DAY, same_problem=False),),
        ),
        ok("99421", 10),
        id="global-period-different-problem",
    ),
    pytest.param(
        facts(e("MD", 10), global_periods=(GlobalPeriod(D0 - 90 * DAY, D0 - DAY),)),
        ok("99421", 10),
        id="global-period-ended-day-before",
    ),
    # --- consent ---------------------------------------------------------------------------
    pytest.param(facts(e("MD", 10), consent=None), no("99421", 10, "no_consent"), id="no-consent"),
    pytest.param(
        facts(e("MD", 10), consent=T0 + timedelta(minutes=1)),
        no("99421", 10, "no_consent"),
        id="consent-after-first-review",
    ),
    pytest.param(facts(e("MD", 10), consent=T0), ok("99421", 10), id="consent-at-first-review-ok"),
    # --- patient and conversation ----------------------------------------------------------
    pytest.param(
        facts(e("MD", 10), established_patient=False),
        no("99421", 10, "new_patient"),
        id="new-patient",
    ),
    pytest.param(
        facts(e("MD", 10), patient_initiated=False),
        no("99421", 10, "not_patient_initiated"),
        id="not-patient-initiated",
    ),
    # --- at most once per 7 days -------------------------------------------------------------
    pytest.param(
        facts(e("MD", 10), billed_evisit_dates=(D0 - 3 * DAY,)),
        no("99421", 10, "already_billed_in_window"),
        id="already-billed-3-days-before",
    ),
    pytest.param(
        facts(e("MD", 10), billed_evisit_dates=(D0 - 7 * DAY,)),
        ok("99421", 10),
        id="billed-exactly-7-days-before",
    ),
    pytest.param(
        facts(e("MD", 10), billed_evisit_dates=(D0 - 8 * DAY,)),
        ok("99421", 10),
        id="billed-8-days-before",
    ),
    # --- several reasons collected at once ------------------------------------------------------
    pytest.param(
        facts(
            e("MD", 3),
            consent=None,
            patient_initiated=False,
            established_patient=False,
            visits=(Visit(D0 - 2 * DAY), Visit(D0 + 2 * DAY)),
            global_periods=(GlobalPeriod(D0 - DAY, D0 + DAY),),
            billed_evisit_dates=(D0 - DAY,),
        ),
        no(
            None,
            3,
            "under_5_minutes",
            "not_patient_initiated",
            "new_patient",
            "no_consent",
            "em_visit_prior_7_days",
            "visit_within_next_7_days",
            "global_period",
            "already_billed_in_window",
        ),
        id="every-reason-at-once",
    ),
    pytest.param(
        facts(e("RN", 30), consent=None, established_patient=False),
        no(None, 0, "rn_ma_time_only", "new_patient", "no_consent"),
        id="rn-only-new-patient-no-consent",
    ),
]


@pytest.mark.parametrize(("conversation", "expected"), CASES)
def test_decide(conversation, expected):
    decision = decide(conversation)
    billable, code, minutes, reasons = expected
    assert (decision.billable, decision.code, decision.minutes, decision.reasons) == (
        billable,
        code,
        minutes,
        reasons,
    )
    assert decision.explanation


@pytest.mark.parametrize(
    ("conversation", "needs_consent"),
    [
        pytest.param(facts(e("MD", 10), consent=None), True, id="only-consent-missing"),
        pytest.param(facts(e("MD", 10), consent=T0 + DAY), True, id="only-consent-late"),
        pytest.param(
            facts(e("MD", 10), consent=None, established_patient=False),
            False,
            id="consent-and-other-reason",
        ),
        pytest.param(facts(e("MD", 4), consent=None), False, id="consent-and-under-5"),
        pytest.param(facts(e("MD", 10)), False, id="billable"),
    ],
)
def test_needs_consent(conversation, needs_consent):
    assert decide(conversation).needs_consent is needs_consent


@pytest.mark.parametrize(
    ("as_of", "closed"),
    [
        pytest.param(None, False, id="no-as-of"),
        pytest.param(T0 + timedelta(days=3), False, id="day-3-open"),
        pytest.param(T0 + timedelta(days=7, seconds=-1), False, id="1s-before-end-open"),
        pytest.param(T0 + timedelta(days=7), True, id="exactly-end-closed"),
        pytest.param(T0 + timedelta(days=30), True, id="later-closed"),
    ],
)
def test_window_closed(as_of, closed):
    decision = decide(facts(e("MD", 10), as_of=as_of))
    assert decision.window_start == T0
    assert decision.window_end == T0 + timedelta(days=7)
    assert decision.window_closed is closed


def test_window_closed_false_without_qualifying_time():
    decision = decide(facts(e("RN", 30), as_of=T0 + timedelta(days=30)))
    assert (decision.window_start, decision.window_end, decision.window_closed) == (
        None,
        None,
        False,
    )


@pytest.mark.parametrize(
    ("entries", "rendering"),
    [
        pytest.param((e("MD", 6, who=1), e("NP", 8, who=2)), 2, id="np-most-time"),
        pytest.param(
            (e("MD", 4, who=1), e("MD", 4, who=1, after=DAY), e("NP", 6, who=2)),
            1,
            id="md-most-time-over-two-entries",
        ),
        pytest.param((e("MD", 6, who=1, after=DAY), e("NP", 6, who=2)), 2, id="tie-first-reviewer"),
        pytest.param((e("RN", 60, who=7), e("MD", 6, who=1)), 1, id="rn-never-renders"),
        pytest.param((e("PT", 8, who=5), e("MD", 4, who=1)), 5, id="pt-family-chosen"),
    ],
)
def test_rendering_clinician(entries, rendering):
    assert decide(facts(*entries)).rendering_clinician_id == rendering


def test_clock_starts_at_first_qualifying_entry_not_rn():
    decision = decide(facts(e("RN", 10), e("MD", 6, after=timedelta(hours=3))))
    assert decision.window_start == T0 + timedelta(hours=3)
    assert decision.window_end == T0 + timedelta(days=7, hours=3)


def test_naive_datetime_rejected():
    naive = TimeSpent(1, "physician", "MD", datetime(2025, 3, 10, 9, 0), 600)  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        decide(facts(naive, consent=None))


def test_every_reason_has_text():
    source = inspect.getsource(cpt)
    produced = {
        node.args[0].value
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "fail"
        and isinstance(node.args[0], ast.Constant)
    }
    assert produced == set(cpt.REASON_TEXT)


def test_module_has_no_django_imports():
    tree = ast.parse(inspect.getsource(cpt))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not any(m.split(".")[0] == "django" for m in modules)
