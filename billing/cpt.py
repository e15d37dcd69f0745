"""Pure decision: is one patient-portal conversation a billable e-visit, and which CPT code.

Online digital E/M services (e-visits), see docs/domain.md "E-visits":

* 99421 / 99422 / 99423: physician or QHP (MD, DO, NP, PA, CNS), 5-10 / 11-20 / 21+ minutes.
* 98970 / 98971 / 98972: non-physician QHP (PT, OT, SLP, PSY, LCSW, RD), same bands.

The clock starts at the first qualifying review and time adds up over 7 days. RN / MA / staff
time never counts. Not billable when not patient-initiated, for a new patient, without prior
consent, when related to an E/M visit in the previous 7 days or leading to one in the next
7 days, during a surgical global period for the same problem, or when an e-visit was already
billed in the 7-day period.

No Django imports on purpose: the caller gathers the facts, this module only decides.
All datetimes must be timezone-aware; calendar dates (visits, global periods, billed
e-visits) are compared with ``window_start.date()`` in the time zone of the first entry,
so the caller should pass ``started_at`` in the clinic's local time zone.

``EVisitDecision.code`` is the code the counted time supports (None under 5 minutes), also
when another rule makes the conversation not billable, so the billing team can see the
proposed code next to the reasons and total missed revenue; ``billable`` is the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

PHYSICIAN_QHP_CREDENTIALS = frozenset({"MD", "DO", "NP", "PA", "CNS"})
NON_PHYSICIAN_QHP_CREDENTIALS = frozenset({"PT", "OT", "SLP", "PSY", "LCSW", "RD"})

WINDOW = timedelta(days=7)
RELATED_VISIT_DAYS = timedelta(days=7)
MIN_BILLABLE_MINUTES = 5

PHYSICIAN_FAMILY = "physician_qhp"
NON_PHYSICIAN_FAMILY = "non_physician_qhp"

# (minimum minutes, code), highest first.
_CODE_BANDS: dict[str, tuple[tuple[int, str], ...]] = {
    PHYSICIAN_FAMILY: ((21, "99423"), (11, "99422"), (5, "99421")),
    NON_PHYSICIAN_FAMILY: ((21, "98972"), (11, "98971"), (5, "98970")),
}

ALL_CODES: tuple[str, ...] = tuple(
    sorted(code for bands in _CODE_BANDS.values() for _, code in bands)
)

_FAMILY_LABEL = {
    PHYSICIAN_FAMILY: "physician/QHP (99421-99423)",
    NON_PHYSICIAN_FAMILY: "non-physician QHP (98970-98972)",
}

REASON_TEXT: dict[str, str] = {
    "no_clinician_time": "No clinician time was logged on this conversation.",
    "rn_ma_time_only": (
        "Only nurse, medical assistant or staff time was logged; it does not count toward "
        "an e-visit."
    ),
    "under_5_minutes": (
        "Less than 5 minutes of qualifying clinician time in the 7-day period; "
        "an e-visit needs at least 5 minutes."
    ),
    "not_patient_initiated": "The conversation was not started by the patient.",
    "new_patient": "The patient is not an established patient of the practice.",
    "no_consent": (
        "The patient was not told the message may be billed (consent / cost-share notice) "
        "before the clinician started working on it."
    ),
    "em_visit_prior_7_days": (
        "It relates to an E/M visit in the previous 7 days, so it is part of that visit."
    ),
    "visit_within_next_7_days": (
        "It led to an E/M visit within the next 7 days, so it is part of that visit."
    ),
    "global_period": "It falls in a surgical global period for the same problem.",
    "already_billed_in_window": (
        "An e-visit was already billed for this patient in the same 7-day period."
    ),
}


@dataclass(frozen=True)
class TimeSpent:
    clinician_id: int
    role: str  # "physician", "nurse", "ma", "clerical", "billing", "admin" (clinic role)
    credential: str  # e.g. "MD", "NP", "RN", "CMA", "PT", "" (unknown)
    started_at: datetime  # aware
    seconds: int


@dataclass(frozen=True)
class Visit:
    on: date
    kind: str = "em"  # "em" = an E/M office/telehealth visit


@dataclass(frozen=True)
class GlobalPeriod:
    starts_on: date
    ends_on: date  # inclusive
    same_problem: bool = True


@dataclass(frozen=True)
class ConversationFacts:
    patient_initiated: bool
    established_patient: bool
    consent_given_at: datetime | None
    time_entries: tuple[TimeSpent, ...]
    visits: tuple[Visit, ...] = ()  # the patient's E/M visits (any date)
    global_periods: tuple[GlobalPeriod, ...] = ()
    # service dates of e-visits already billed for this patient (other conversations)
    billed_evisit_dates: tuple[date, ...] = ()
    as_of: datetime | None = None  # now; to know if the 7-day window has closed


@dataclass(frozen=True)
class EVisitDecision:
    billable: bool
    code: str | None  # "99421".."99423" or "98970".."98972"
    minutes: int  # counted qualifying minutes in the window (whole minutes, floor)
    window_start: datetime | None  # the clock start (first qualifying review)
    window_end: datetime | None  # window_start + 7 days (exclusive)
    rendering_clinician_id: int | None  # the qualifying clinician with the most time
    reasons: tuple[str, ...]  # reason codes why NOT billable (empty when billable)
    explanation: tuple[str, ...]  # human-readable lines, one per rule applied
    window_closed: bool  # as_of >= window_end (no later visit can still change it)
    needs_consent: bool  # all else fine but consent missing/late


@dataclass(frozen=True)
class _FamilyTally:
    family: str
    window_start: datetime
    window_end: datetime
    seconds: int
    rendering_clinician_id: int

    @property
    def minutes(self) -> int:
        return self.seconds // 60


def family_of(entry: TimeSpent) -> str | None:
    """The code family an entry's time counts toward, or None when it never counts."""
    credential = (entry.credential or "").strip().upper()
    if credential in PHYSICIAN_QHP_CREDENTIALS:
        return PHYSICIAN_FAMILY
    if credential in NON_PHYSICIAN_QHP_CREDENTIALS:
        return NON_PHYSICIAN_FAMILY
    if not credential and (entry.role or "").strip().lower() == "physician":
        return PHYSICIAN_FAMILY
    return None


def code_for(family: str, minutes: int) -> str | None:
    for minimum, code in _CODE_BANDS[family]:
        if minutes >= minimum:
            return code
    return None


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")


def _tally(family: str, entries: list[TimeSpent]) -> _FamilyTally:
    start = min(e.started_at for e in entries)
    end = start + WINDOW
    per_clinician: dict[int, int] = {}
    first_seen: dict[int, datetime] = {}
    for e in entries:
        if start <= e.started_at < end:
            per_clinician[e.clinician_id] = per_clinician.get(e.clinician_id, 0) + e.seconds
            if e.clinician_id not in first_seen or e.started_at < first_seen[e.clinician_id]:
                first_seen[e.clinician_id] = e.started_at
    # Most time wins; ties go to whoever reviewed first, then the lowest id (deterministic).
    rendering = min(per_clinician, key=lambda c: (-per_clinician[c], first_seen[c], c))
    return _FamilyTally(family, start, end, sum(per_clinician.values()), rendering)


def _choose_family(qualifying: dict[str, list[TimeSpent]]) -> _FamilyTally | None:
    tallies = {family: _tally(family, entries) for family, entries in qualifying.items()}
    physician = tallies.get(PHYSICIAN_FAMILY)
    non_physician = tallies.get(NON_PHYSICIAN_FAMILY)
    if physician is not None and physician.minutes >= MIN_BILLABLE_MINUTES:
        return physician
    # Families are never added together: fall back to the non-physician family on its own.
    return non_physician or physician


def decide(facts: ConversationFacts) -> EVisitDecision:
    """Decide whether one conversation is a billable e-visit; collect every failing reason."""
    for i, entry in enumerate(facts.time_entries):
        _require_aware(entry.started_at, f"time_entries[{i}].started_at")
    if facts.consent_given_at is not None:
        _require_aware(facts.consent_given_at, "consent_given_at")
    if facts.as_of is not None:
        _require_aware(facts.as_of, "as_of")

    reasons: list[str] = []
    explanation: list[str] = []

    def fail(reason: str, line: str) -> None:
        reasons.append(reason)
        explanation.append(f"NOT OK ({reason}): {line}")

    def ok(line: str) -> None:
        explanation.append(f"OK: {line}")

    # --- clinician time -------------------------------------------------------------------
    logged = [e for e in facts.time_entries if e.seconds > 0]
    qualifying: dict[str, list[TimeSpent]] = {}
    excluded_seconds = 0
    for entry in logged:
        family = family_of(entry)
        if family is None:
            excluded_seconds += entry.seconds
        else:
            qualifying.setdefault(family, []).append(entry)

    tally = _choose_family(qualifying)
    code: str | None = None
    minutes = 0
    if not logged:
        fail("no_clinician_time", "no clinician time logged.")
    elif tally is None:
        fail(
            "rn_ma_time_only",
            f"{excluded_seconds // 60} min logged, all by RN/MA/staff; none qualifies.",
        )
    else:
        minutes = tally.minutes
        code = code_for(tally.family, minutes)
        if excluded_seconds:
            explanation.append(
                f"Excluded {excluded_seconds // 60} min of RN/MA/staff time (never counts)."
            )
        line = (
            f"{minutes} min of {_FAMILY_LABEL[tally.family]} time from "
            f"{tally.window_start.isoformat()} to {tally.window_end.isoformat()} (exclusive)"
        )
        if code is None:
            fail("under_5_minutes", f"{line}; at least {MIN_BILLABLE_MINUTES} min needed.")
        else:
            ok(f"{line} -> {code}.")

    # --- conversation and patient ------------------------------------------------------------
    if facts.patient_initiated:
        ok("patient-initiated.")
    else:
        fail("not_patient_initiated", "the conversation was not started by the patient.")
    if facts.established_patient:
        ok("established patient.")
    else:
        fail("new_patient", "the patient is not an established patient.")

    # --- consent ---------------------------------------------------------------------------
    consent = facts.consent_given_at
    if consent is None:
        fail("no_consent", "no billing consent / cost-share notice on record.")
    elif tally is not None and consent > tally.window_start:
        fail(
            "no_consent",
            f"consent given at {consent.isoformat()}, after the clinician's first review "
            f"at {tally.window_start.isoformat()}.",
        )
    elif tally is not None:
        ok(f"consent given at {consent.isoformat()}, before the clinician's work.")

    # --- date rules relative to the clock start -------------------------------------------------
    if tally is not None:
        day = tally.window_start.date()
        em_dates = sorted(v.on for v in facts.visits if v.kind == "em")
        prior = [d for d in em_dates if day - RELATED_VISIT_DAYS <= d <= day]
        after = [d for d in em_dates if day < d <= day + RELATED_VISIT_DAYS]
        if prior:
            fail("em_visit_prior_7_days", f"E/M visit on {prior[-1].isoformat()}.")
        else:
            ok("no E/M visit in the previous 7 days.")
        if after:
            fail("visit_within_next_7_days", f"E/M visit on {after[0].isoformat()}.")
        else:
            ok("no E/M visit in the next 7 days (so far).")

        periods = [
            p for p in facts.global_periods if p.same_problem and p.starts_on <= day <= p.ends_on
        ]
        if periods:
            p = periods[0]
            fail(
                "global_period",
                f"global period {p.starts_on.isoformat()}..{p.ends_on.isoformat()} "
                "for the same problem.",
            )
        else:
            ok("not in a surgical global period for the same problem.")

        billed = sorted(d for d in facts.billed_evisit_dates if day - WINDOW < d <= day)
        if billed:
            fail("already_billed_in_window", f"e-visit already billed on {billed[-1].isoformat()}.")
        else:
            ok("no other e-visit billed in the previous 7 days.")

    window_start = tally.window_start if tally else None
    window_end = tally.window_end if tally else None
    window_closed = facts.as_of is not None and window_end is not None and facts.as_of >= window_end
    billable = not reasons
    explanation.append(f"Billable: {code}." if billable else "Not billable.")
    return EVisitDecision(
        billable=billable,
        code=code,
        minutes=minutes,
        window_start=window_start,
        window_end=window_end,
        rendering_clinician_id=tally.rendering_clinician_id if tally else None,
        reasons=tuple(reasons),
        explanation=tuple(explanation),
        window_closed=window_closed,
        needs_consent=reasons == ["no_consent"],
    )
