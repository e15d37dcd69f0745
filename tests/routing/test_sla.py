"""Table-driven cases of routing/sla.py: business hours, split shifts, weekends,
holidays, closures, daylight-saving changes, and the wall clock for emergent."""

import datetime
from zoneinfo import ZoneInfo

import holidays
import pytest

from routing import sla
from routing.sla import BusinessCalendar, Clock, SlaRule, SlaTarget

NY = "America/New_York"
SPLIT_SHIFT = ((datetime.time(8), datetime.time(12)), (datetime.time(13), datetime.time(17)))
WEEKDAYS = {day: SPLIT_SHIFT for day in range(5)}
US_HOLIDAYS = holidays.country_holidays("US")
CLOSED_TUESDAY = datetime.date(2026, 11, 24)

CLINIC = BusinessCalendar(time_zone=NY, windows=WEEKDAYS, holidays=US_HOLIDAYS)
CLINIC_WITH_CLOSURE = BusinessCalendar(
    time_zone=NY, windows=WEEKDAYS, holidays=US_HOLIDAYS, closures=frozenset({CLOSED_TUESDAY})
)
URGENT = SlaTarget(Clock.BUSINESS_MINUTES, 240)
ROUTINE = SlaTarget(Clock.BUSINESS_DAYS, 3)
CLERICAL_ROUTINE = SlaTarget(Clock.BUSINESS_DAYS, 2)
EMERGENT = SlaTarget(Clock.WALL, 15)


def ny(*args, fold: int = 0) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=ZoneInfo(NY), fold=fold)


def utc(*args) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=datetime.UTC)


CASES = [
    # (case, calendar, target, received, expected due)
    (
        "urgent in the morning, across lunch",
        CLINIC,
        URGENT,
        ny(2026, 11, 23, 9),
        ny(2026, 11, 23, 14),
    ),
    (
        "urgent late afternoon rolls to next morning",
        CLINIC,
        URGENT,
        ny(2026, 11, 23, 16),
        ny(2026, 11, 24, 11),
    ),
    (
        "urgent Friday 16:30 runs over the weekend",
        CLINIC,
        URGENT,
        ny(2026, 11, 20, 16, 30),
        ny(2026, 11, 23, 11, 30),
    ),
    (
        "urgent Friday evening, after closing",
        CLINIC,
        URGENT,
        ny(2026, 11, 20, 18),
        ny(2026, 11, 23, 12),
    ),
    (
        "urgent on Saturday starts Monday",
        CLINIC,
        URGENT,
        ny(2026, 11, 21, 10),
        ny(2026, 11, 23, 12),
    ),
    (
        "urgent received during lunch",
        CLINIC,
        URGENT,
        ny(2026, 11, 23, 12, 30),
        ny(2026, 11, 23, 17),
    ),
    (
        "urgent before opening ends exactly at lunch",
        CLINIC,
        URGENT,
        ny(2026, 11, 23, 6),
        ny(2026, 11, 23, 12),
    ),
    ("urgent exactly at closing", CLINIC, URGENT, ny(2026, 11, 23, 17), ny(2026, 11, 24, 12)),
    ("urgent skips Thanksgiving", CLINIC, URGENT, ny(2026, 11, 25, 15), ny(2026, 11, 27, 10)),
    (
        "urgent skips Christmas Friday and the weekend",
        CLINIC,
        URGENT,
        ny(2026, 12, 24, 16),
        ny(2026, 12, 28, 11),
    ),
    (
        "urgent skips observed Independence Day (Fri 3 July)",
        CLINIC,
        URGENT,
        ny(2026, 7, 2, 15),
        ny(2026, 7, 6, 10),
    ),
    (
        "urgent skips a clinic closure",
        CLINIC_WITH_CLOSURE,
        URGENT,
        ny(2026, 11, 23, 16),
        ny(2026, 11, 25, 11),
    ),
    (
        "urgent across the autumn DST change",
        CLINIC,
        URGENT,
        ny(2026, 10, 30, 16),
        utc(2026, 11, 2, 16),
    ),
    (
        "urgent across the spring DST change",
        CLINIC,
        URGENT,
        ny(2026, 3, 6, 15),
        utc(2026, 3, 9, 14),
    ),
    (
        "routine: 3 business days, holiday not counted",
        CLINIC,
        ROUTINE,
        ny(2026, 11, 23, 9),
        ny(2026, 11, 27, 17),
    ),
    ("routine Friday evening", CLINIC, ROUTINE, ny(2026, 11, 20, 19), ny(2026, 11, 25, 17)),
    (
        "clerical routine: 2 business days",
        CLINIC,
        CLERICAL_ROUTINE,
        ny(2026, 11, 23, 9),
        ny(2026, 11, 25, 17),
    ),
    (
        "routine with a closure",
        CLINIC_WITH_CLOSURE,
        ROUTINE,
        ny(2026, 11, 20, 19),
        ny(2026, 11, 27, 17),
    ),
    (
        "emergent on Saturday night: wall clock",
        CLINIC,
        EMERGENT,
        ny(2026, 11, 21, 3),
        ny(2026, 11, 21, 3, 15),
    ),
    (
        "emergent on Thanksgiving: wall clock",
        CLINIC,
        EMERGENT,
        ny(2026, 11, 26, 10),
        ny(2026, 11, 26, 10, 15),
    ),
    (
        "emergent across the DST fall-back hour",
        CLINIC,
        EMERGENT,
        ny(2026, 11, 1, 1, 50),
        utc(2026, 11, 1, 6, 5),
    ),
    (
        "urgent, no business hours set: wall clock",
        None,
        URGENT,
        ny(2026, 11, 21, 3),
        ny(2026, 11, 21, 7),
    ),
    (
        "routine, empty calendar: wall clock days",
        BusinessCalendar(NY, {}),
        ROUTINE,
        ny(2026, 11, 21, 3),
        ny(2026, 11, 24, 3),
    ),
]


@pytest.mark.parametrize(
    ("calendar", "target", "received", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_due_at(calendar, target, received, expected):
    assert sla.due_at(received_at=received, target=target, calendar=calendar) == expected


def test_due_at_refuses_naive_times():
    naive = datetime.datetime(2026, 11, 23, 9)  # noqa: DTZ001 - the case under test
    with pytest.raises(ValueError, match="timezone-aware"):
        sla.due_at(received_at=naive, target=URGENT, calendar=CLINIC)


CLINIC_RULES = (
    SlaRule("urgent", SlaTarget(Clock.BUSINESS_MINUTES, 120)),
    SlaRule("urgent", SlaTarget(Clock.BUSINESS_MINUTES, 60), role="physician"),
)
TARGET_CASES = [
    ("domain default for emergent", "emergent", "nurse", (), EMERGENT),
    ("domain default for urgent", "urgent", "nurse", (), URGENT),
    ("domain default routine", "routine", "nurse", (), ROUTINE),
    ("domain default clerical routine", "routine", "clerical", (), CLERICAL_ROUTINE),
    (
        "clinic override for the acuity",
        "urgent",
        "nurse",
        CLINIC_RULES,
        SlaTarget(Clock.BUSINESS_MINUTES, 120),
    ),
    (
        "clinic role override beats acuity-wide",
        "urgent",
        "physician",
        CLINIC_RULES,
        SlaTarget(Clock.BUSINESS_MINUTES, 60),
    ),
    ("clinic rules silent: domain default", "routine", "ma", CLINIC_RULES, ROUTINE),
]


@pytest.mark.parametrize(
    ("acuity", "role", "rules", "expected"),
    [c[1:] for c in TARGET_CASES],
    ids=[c[0] for c in TARGET_CASES],
)
def test_pick_target(acuity, role, rules, expected):
    assert sla.pick_target(acuity=acuity, role=role, rules=rules) == expected


OPEN_CASES = [
    ("Monday 08:00 opens", ny(2026, 11, 23, 8), True),
    ("Monday 12:30 lunch", ny(2026, 11, 23, 12, 30), False),
    ("Monday 16:59", ny(2026, 11, 23, 16, 59), True),
    ("Monday 17:00 closed", ny(2026, 11, 23, 17), False),
    ("Thanksgiving", ny(2026, 11, 26, 10), False),
    ("Sunday", ny(2026, 11, 22, 10), False),
]


@pytest.mark.parametrize(
    ("moment", "expected"), [c[1:] for c in OPEN_CASES], ids=[c[0] for c in OPEN_CASES]
)
def test_is_open_at(moment, expected):
    assert sla.is_open_at(CLINIC, moment) is expected


NO_HOURS = BusinessCalendar(time_zone=NY, windows={})
AFTER_HOURS_CASES = [
    ("Friday 19:00", CLINIC, ny(2026, 11, 20, 19), True),
    ("Friday 10:00", CLINIC, ny(2026, 11, 20, 10), False),
    ("Monday 07:59", CLINIC, ny(2026, 11, 23, 7, 59), True),
    ("Monday 08:00 opens", CLINIC, ny(2026, 11, 23, 8), False),
    ("lunch of a split shift", CLINIC, ny(2026, 11, 23, 12, 30), True),
    ("Thanksgiving midday", CLINIC, ny(2026, 11, 26, 10), True),
    ("a closure day midday", CLINIC_WITH_CLOSURE, ny(2026, 11, 24, 10), True),
    ("Friday 19:00 NY given in UTC", CLINIC, utc(2026, 11, 21, 0), True),
    ("no business hours set: never after hours", NO_HOURS, ny(2026, 11, 22, 3), False),
    ("no calendar at all", None, ny(2026, 11, 22, 3), False),
]


@pytest.mark.parametrize(
    ("calendar", "moment", "expected"),
    [c[1:] for c in AFTER_HOURS_CASES],
    ids=[c[0] for c in AFTER_HOURS_CASES],
)
def test_is_after_hours(calendar, moment, expected):
    assert sla.is_after_hours(calendar, moment) is expected


def test_is_after_hours_refuses_a_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        sla.is_after_hours(CLINIC, datetime.datetime(2026, 11, 20, 19))  # noqa: DTZ001
