"""Due times for work items over a clinic's business calendar. Pure: no ORM, no clock.

Emergent runs on the wall clock (24/7). Urgent and routine targets count only the
clinic's open hours, in the clinic's time zone, skipping holidays and closures
(docs/domain.md). Deadlines are computed once, stored on the work item and found by a
sweep: they are never timers.
"""

import datetime
from collections.abc import Container, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from zoneinfo import ZoneInfo

from triage.ml.labels import Acuity, ServiceLevel

UTC = datetime.UTC
# How far ahead a due time is searched for; a calendar open less than one day a year is
# treated as having no business hours at all.
SEARCH_DAYS = 400


class Clock(StrEnum):
    WALL = "wall"  # minutes on the wall clock, day and night
    BUSINESS_MINUTES = "business_minutes"  # minutes while the clinic is open
    BUSINESS_DAYS = "business_days"  # by closing time of the Nth open day after receipt


@dataclass(frozen=True)
class SlaTarget:
    clock: Clock
    amount: int  # minutes, or days for BUSINESS_DAYS

    def describe(self) -> str:
        if self.clock == Clock.WALL:
            return f"{self.amount} min, wall clock"
        if self.clock == Clock.BUSINESS_MINUTES:
            return f"{self.amount} business min"
        return f"{self.amount} business days"


@dataclass(frozen=True)
class SlaRule:
    """One SLA policy row: per acuity, optionally narrowed to one role."""

    acuity: str
    target: SlaTarget
    role: str | None = None


# docs/domain.md: emergent 15 min 24/7; urgent 4 business hours; routine 3 business days,
# clerical 2.
DEFAULT_SLA_RULES: tuple[SlaRule, ...] = (
    SlaRule(Acuity.EMERGENT, SlaTarget(Clock.WALL, 15)),
    SlaRule(Acuity.URGENT, SlaTarget(Clock.BUSINESS_MINUTES, 4 * 60)),
    SlaRule(Acuity.ROUTINE, SlaTarget(Clock.BUSINESS_DAYS, 3)),
    SlaRule(Acuity.ROUTINE, SlaTarget(Clock.BUSINESS_DAYS, 2), role=ServiceLevel.CLERICAL),
)


@dataclass(frozen=True)
class BusinessCalendar:
    """Open hours of one clinic: windows per weekday (0 = Monday; several windows make a
    split shift), in the clinic's time zone, minus holidays and closures (local dates)."""

    time_zone: str
    windows: Mapping[int, Sequence[tuple[datetime.time, datetime.time]]]
    holidays: Container[datetime.date] = frozenset()
    closures: frozenset[datetime.date] = field(default_factory=frozenset)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def is_closed_on(self, day: datetime.date) -> bool:
        return day in self.closures or day in self.holidays

    def open_windows_on(self, day: datetime.date) -> list[tuple[datetime.datetime, ...]]:
        """The open windows of one local date as (start, end) in UTC, in order."""
        if self.is_closed_on(day):
            return []
        zone = self.zone
        windows = []
        for opens, closes in sorted(self.windows.get(day.weekday(), ())):
            start = datetime.datetime.combine(day, opens, tzinfo=zone).astimezone(UTC)
            end = datetime.datetime.combine(day, closes, tzinfo=zone).astimezone(UTC)
            if end > start:
                windows.append((start, end))
        return windows


def pick_target(
    *, acuity: str, role: str | None, rules: Sequence[SlaRule] = DEFAULT_SLA_RULES
) -> SlaTarget:
    """The clinic's target for this acuity and role: a role-specific rule wins over the
    acuity-wide one; with neither, the default of domain.md."""
    for candidates in (rules, DEFAULT_SLA_RULES):
        for rule in candidates:
            if rule.acuity == acuity and rule.role is not None and rule.role == role:
                return rule.target
        for rule in candidates:
            if rule.acuity == acuity and rule.role is None:
                return rule.target
    raise ValueError(f"no SLA target for acuity {acuity!r}")


def due_at(
    *,
    received_at: datetime.datetime,
    target: SlaTarget,
    calendar: BusinessCalendar | None,
) -> datetime.datetime:
    """When the work must be answered. With no business hours configured, business
    targets fall back to the wall clock: a deadline is never missing."""
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    received_at = received_at.astimezone(UTC)
    if target.clock == Clock.WALL or not has_business_hours(calendar):
        minutes = target.amount * 24 * 60 if target.clock == Clock.BUSINESS_DAYS else target.amount
        return received_at + datetime.timedelta(minutes=minutes)
    if target.clock == Clock.BUSINESS_MINUTES:
        return add_business_minutes(calendar, received_at, target.amount)
    return close_of_nth_business_day(calendar, received_at, target.amount)


def has_business_hours(calendar: BusinessCalendar | None) -> bool:
    return calendar is not None and any(calendar.windows.get(d) for d in range(7))


def open_intervals(
    calendar: BusinessCalendar, start: datetime.datetime
) -> Iterator[tuple[datetime.datetime, datetime.datetime]]:
    """Open time from `start` on, as UTC intervals in order."""
    local_day = start.astimezone(calendar.zone).date()
    # The day before too: a window of the previous local day may still be open.
    for offset in range(-1, SEARCH_DAYS):
        day = local_day + datetime.timedelta(days=offset)
        for window_start, window_end in calendar.open_windows_on(day):
            if window_end <= start:
                continue
            yield max(window_start, start), window_end


def add_business_minutes(
    calendar: BusinessCalendar, start: datetime.datetime, minutes: int
) -> datetime.datetime:
    remaining = datetime.timedelta(minutes=minutes)
    for interval_start, interval_end in open_intervals(calendar, start):
        available = interval_end - interval_start  # both UTC: real elapsed time
        if remaining <= available:
            return interval_start + remaining
        remaining -= available
    raise ValueError("the clinic's calendar has no open hours in the coming year")


def close_of_nth_business_day(
    calendar: BusinessCalendar, start: datetime.datetime, days: int
) -> datetime.datetime:
    """Closing time of the Nth open day after the local day of receipt (the day of
    receipt itself does not count: a message of Friday 9:00 with 3 days is due Wednesday
    at closing)."""
    day = start.astimezone(calendar.zone).date()
    counted = 0
    for _ in range(SEARCH_DAYS):
        day += datetime.timedelta(days=1)
        windows = calendar.open_windows_on(day)
        if windows:
            counted += 1
            if counted >= days:
                return windows[-1][1]
    raise ValueError("the clinic's calendar has no open hours in the coming year")


def is_open_at(calendar: BusinessCalendar, moment: datetime.datetime) -> bool:
    local_day = moment.astimezone(calendar.zone).date()
    for offset in (-1, 0):
        for start, end in calendar.open_windows_on(local_day + datetime.timedelta(days=offset)):
            if start <= moment < end:
                return True
    return False


def is_after_hours(calendar: BusinessCalendar | None, moment: datetime.datetime) -> bool:
    """Whether `moment` falls while the clinic is closed: a night, a weekend, a holiday or
    a closure. A clinic with no business hours set has no "after hours" (its business
    targets run on the wall clock, see due_at), so nothing there is after hours."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    return has_business_hours(calendar) and not is_open_at(calendar, moment)
