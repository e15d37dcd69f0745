"""The operations dashboard's figures (routing.operations), each compared with the same
figure worked out by hand from twelve items with known times.

The items, hours after receipt (R = first read, A = first response, C = close, D = due):

  #   received (UTC)  acuity    queue     R     A     C     D   language  born
  1   Tue 10 Nov 09h  urgent    nurse     0.5   1     2     4   en        1980
  2   Tue 10 Nov 10h  urgent    nurse     1     2     -     4   en        2008-11-11 (17)
  3   Wed 11 Nov 10h  urgent    nurse     2     3     5     4   es        1950
  4   Mon 16 Nov 08h  urgent    nurse     3     4     -     4   es        2010
  5   Mon 16 Nov 09h  urgent    nurse     5     10    12    4   es        1950  (breached)
  6   Tue 10 Nov 08h  routine   clerical  1     7     -     48  es        1980
  7   Tue 10 Nov 09h  routine   clerical  2     4     -     48  en        2008-11-10 (18 today)
  8   Mon 16 Nov 10h  routine   MA        3     6     -     48  en        1980 (was clerical)
  9   Tue 17 Nov 10h  routine   clerical  4     8     -     48  es        1950
  10  Tue 17 Nov 12h  emergent  nurse     0.25  0.5   1     1   en        1980
  11  Wed 18 Nov 06h  urgent    nurse     -     -     -     4   en        1980 (open, breached)
  12  Wed 18 Nov 11h  routine   clerical  -     -     -     48  en        unknown (open)

Now is Wed 18 Nov 2026 12:00 UTC; the clinic's zone is UTC. Answered by: 1-5 a nurse,
6, 7, 9 a clerk, 8 an MA, 10 a physician.
"""

import datetime
import sqlite3
import statistics

import pytest
from django.utils import timezone

from accounts.models import Role
from routing import operations
from routing.models import WorkEvent, WorkItem
from routing.services import ensure_default_queues
from tests.accounts.factories import ClinicFactory, StaffFactory
from tests.inbox.factories import ConversationFactory, MessageFactory, PatientFactory
from tests.triage.factories import ClassificationFactory
from triage.ml.labels import ACUITY_RANK, Acuity
from triage.models import LabelCorrection

pytestmark = pytest.mark.django_db

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 18, 12, tzinfo=UTC)
B1980, B1950, B2010 = (
    datetime.date(1980, 5, 1),
    datetime.date(1950, 5, 1),
    datetime.date(2010, 1, 1),
)
ITEMS = [
    # (received, acuity, queue, read, answer, close, due, language, born, answered by)
    ((11, 10, 9), "urgent", "nurse", 0.5, 1, 2, 4, "en", B1980, "nurse"),
    ((11, 10, 10), "urgent", "nurse", 1, 2, None, 4, "en", datetime.date(2008, 11, 11), "nurse"),
    ((11, 11, 10), "urgent", "nurse", 2, 3, 5, 4, "es", B1950, "nurse"),
    ((11, 16, 8), "urgent", "nurse", 3, 4, None, 4, "es", B2010, "nurse"),
    ((11, 16, 9), "urgent", "nurse", 5, 10, 12, 4, "es", B1950, "nurse"),
    ((11, 10, 8), "routine", "clerical", 1, 7, None, 48, "es", B1980, "clerical"),
    (
        (11, 10, 9),
        "routine",
        "clerical",
        2,
        4,
        None,
        48,
        "en",
        datetime.date(2008, 11, 10),
        "clerical",
    ),
    ((11, 16, 10), "routine", "ma", 3, 6, None, 48, "en", B1980, "ma"),
    ((11, 17, 10), "routine", "clerical", 4, 8, None, 48, "es", B1950, "clerical"),
    ((11, 17, 12), "emergent", "nurse", 0.25, 0.5, 1, 1, "en", B1980, "physician"),
    ((11, 18, 6), "urgent", "nurse", None, None, None, 4, "en", B1980, None),
    ((11, 18, 11), "routine", "clerical", None, None, None, 48, "en", None, None),
]


def hours(n):
    return datetime.timedelta(hours=n)


def _make(clinic, queues, staff, row) -> WorkItem:
    (month, day, hour), acuity, level, read, answer, close, due, language, born, by = row
    received = datetime.datetime(2026, month, day, hour, tzinfo=UTC)
    patient = PatientFactory(clinic=clinic, preferred_language=language, birth_date=born)
    message = MessageFactory(conversation=ConversationFactory(patient=patient))
    item = WorkItem.objects.create(
        clinic=clinic,
        conversation=message.conversation,
        message=message,
        queue=queues[level],
        acuity=acuity,
        acuity_rank=ACUITY_RANK[Acuity(acuity)],
        service_level=level,
        due_at=received + hours(due),
        status="closed" if close else "responded" if answer else "open",
    )
    at = lambda h: received + hours(h) if h is not None else None  # noqa: E731
    # created_at is set on insert whatever is passed: dated afterwards.
    WorkItem.objects.filter(pk=item.pk).update(
        created_at=received,
        first_read_at=at(read),
        first_read_by=staff[by] if read is not None else None,
        first_response_at=at(answer),
        first_response_by=staff[by] if by else None,
        first_response_role=by or "",
        closed_at=at(close),
    )
    type(message).objects.filter(pk=message.pk).update(created_at=received)
    item.refresh_from_db()
    return item


@pytest.fixture
def day():
    clinic = ClinicFactory(time_zone="UTC")
    queues = ensure_default_queues(clinic=clinic)
    staff = {role: StaffFactory(clinic=clinic, role=role) for role in Role}
    items = [_make(clinic, queues, staff, row) for row in ITEMS]
    # Breaches: item 5 at its due time, item 11 at its due time.
    for n in (5, 11):
        WorkItem.objects.filter(pk=items[n - 1].pk).update(breached_at=items[n - 1].due_at)
    WorkItem.objects.filter(pk=items[10].pk).update(status="open")
    # Item 8 moved from the clerical pool to the MA pool (another role); item 1 was
    # escalated within nurse work (same role: not a move between roles).
    WorkEvent.objects.create(
        work_item=items[7],
        kind=WorkEvent.Kind.REASSIGNED,
        from_queue=queues["clerical"],
        to_queue=queues["ma"],
    )
    WorkEvent.objects.create(
        work_item=items[0],
        kind=WorkEvent.Kind.ESCALATED,
        from_queue=queues["nurse"],
        to_queue=queues["nurse"],
    )
    # Classified: items 1, 2, 7, 8, 10 (en) and 3, 4, 5, 6, 9 (es); corrected: 1 of the
    # English ones (item 1, twice: one message), 3 of the Spanish ones (3, 4, 5).
    for n in (1, 2, 7, 8, 10, 3, 4, 5, 6, 9):
        ClassificationFactory(message=items[n - 1].message)
    for n in (1, 1, 3, 4, 5):
        LabelCorrection.objects.create(
            message=items[n - 1].message, label="acuity", from_value="routine", to_value="urgent"
        )

    # Outside the figures: another clinic's items, and one received 13 weeks ago.
    elsewhere = ClinicFactory(time_zone="UTC")
    other = _make(elsewhere, ensure_default_queues(clinic=elsewhere), staff, ITEMS[10])
    old = _make(clinic, queues, staff, ITEMS[0])
    WorkItem.objects.filter(pk=old.pk).update(created_at=NOW - datetime.timedelta(weeks=13))
    assert other.pk
    assert old.pk
    return clinic, items


@pytest.fixture
def period(day):
    return operations.Period.last_weeks(clinics=[day[0]], now=NOW)


def approx(value):
    return pytest.approx(value, abs=1e-6)


def times(row, measure):
    t = row[measure]
    return (t["n"], t["median_hours"], t["p90_hours"])


def test_the_period_is_this_week_and_the_eleven_before(period):
    assert period.start == datetime.datetime(2026, 8, 31, tzinfo=UTC)  # a Monday
    assert len(period.weeks()) == 12
    assert period.weeks()[-2:] == [datetime.date(2026, 11, 9), datetime.date(2026, 11, 16)]


def test_times_per_acuity(period):
    rows = {r["group"]: r for r in operations.response_times(period=period, by="acuity")}

    assert list(rows) == ["Emergent", "Urgent", "Routine"]
    urgent = rows["Urgent"]
    assert urgent["items"] == 6
    # Answers 1, 2, 3, 4, 10: median 3; p90 at position 3.6 = 4 + 0.6 x (10 - 4).
    assert times(urgent, "first_response") == (5, approx(3), approx(7.6))
    # Reads 0.5, 1, 2, 3, 5: median 2; p90 = 3 + 0.6 x 2.
    assert times(urgent, "first_read") == (5, approx(2), approx(4.2))
    # Closes 2, 5, 12: median 5; p90 at position 1.8 = 5 + 0.8 x 7.
    assert times(urgent, "close") == (3, approx(5), approx(10.6))
    # Within the due time (4 h): items 1-4 (4 h exactly counts); decided: the five
    # answered and item 11, open past due.
    assert urgent["sla"] == {"within": 4, "decided": 6, "share": approx(4 / 6)}

    routine = rows["Routine"]
    # Answers 7, 4, 6, 8: median 6.5; p90 at position 2.7 = 7 + 0.7 x 1.
    assert times(routine, "first_response") == (4, approx(6.5), approx(7.7))
    assert times(routine, "first_read") == (4, approx(2.5), approx(3.7))
    assert times(routine, "close") == (0, None, None)
    # Item 12 is neither answered nor due yet: undecided.
    assert routine["sla"] == {"within": 4, "decided": 4, "share": 1.0}

    assert times(rows["Emergent"], "first_response") == (1, approx(0.5), approx(0.5))


def test_times_per_week(period):
    rows = operations.response_times(period=period, by="week")

    assert len(rows) == 12
    assert rows[0]["items"] == 0
    assert times(rows[0], "first_response") == (0, None, None)
    week_9, week_16 = rows[-2], rows[-1]
    assert week_9["group"].startswith("2026-W46")
    assert week_16["group"].startswith("2026-W47")
    # Items 1, 2, 3, 6, 7: answers 1, 2, 3, 7, 4.
    assert week_9["items"] == 5
    assert times(week_9, "first_response") == (5, approx(3), approx(5.8))
    # Items 4, 5, 8, 9, 10 answered (4, 10, 6, 8, 0.5); 11 and 12 waiting.
    assert week_16["items"] == 7
    assert times(week_16, "first_response") == (5, approx(6), approx(9.2))


def test_times_per_queue_and_role(period):
    by_queue = {r["group"]: r for r in operations.response_times(period=period, by="queue")}
    by_role = {r["group"]: r for r in operations.response_times(period=period, by="role")}

    # The nurse pool: answers 1, 2, 3, 4, 10 and 0.5 (p90 at 4.5 = 4 + 0.5 x 6).
    nurse_pool = next(r for name, r in by_queue.items() if "urse" in name)
    assert nurse_pool["items"] == 7
    assert times(nurse_pool, "first_response") == (6, approx(2.5), approx(7))
    assert times(by_role["Nurse"], "first_response") == (6, approx(2.5), approx(7))
    # Clerical: 7, 4, 8 (item 8 is in the MA pool now).
    assert times(by_role["Clerical"], "first_response") == (3, approx(7), approx(7.8))
    assert times(by_role["Medical assistant"], "first_response") == (1, approx(6), approx(6))
    assert by_role["Physician / APP"]["items"] == 0
    assert len(by_queue) == 3  # only pools that received items


def test_the_chart_has_a_median_per_acuity_per_week(period):
    chart = operations.acuity_weekly_series(period=period)

    assert chart["weeks"][-2:] == ["2026-11-09", "2026-11-16"]
    assert chart["series"]["urgent"][-2:] == [approx(2), approx(7)]  # (1, 2, 3); (4, 10)
    assert chart["series"]["routine"][-2:] == [approx(5.5), approx(7)]  # (7, 4); (6, 8)
    assert chart["series"]["emergent"][-2:] == [None, approx(0.5)]
    assert chart["series"]["urgent"][:10] == [None] * 10


def test_backlog_now(period):
    backlog = operations.backlog(period=period)

    # Item 11 (urgent, nurse, due 4 h after 06:00: overdue, 6 h old) and item 12
    # (routine, clerical, 1 h old); the other clinic's open item is not counted.
    assert (backlog["open"], backlog["overdue"]) == (2, 1)
    assert backlog["oldest_hours"] == approx(6)
    by_acuity = {r["acuity"]: r for r in backlog["rows"]}
    assert (by_acuity["urgent"]["open"], by_acuity["urgent"]["overdue"]) == (1, 1)
    assert by_acuity["urgent"]["role"] == "nurse"
    assert by_acuity["routine"]["oldest_hours"] == approx(1)
    assert by_acuity["routine"]["overdue"] == 0


def test_who_answered_and_moves(period):
    answered = operations.who_answered(period=period)
    moves = operations.moves_between_roles(period=period)

    assert answered["answered"] == 10
    shares = {r["role"]: (r["count"], r["share"]) for r in answered["by_role"]}
    assert shares == {
        "clerical": (3, approx(0.3)),
        "ma": (1, approx(0.1)),
        "nurse": (5, approx(0.5)),
        "physician": (1, approx(0.1)),
    }
    assert (answered["physician_share"], answered["others_share"]) == (approx(0.1), approx(0.9))
    assert moves["items"] == 12
    assert (moves["items_moved"], moves["moves"]) == (1, 1)
    assert moves["by_pair"] == [{"from": "clerical", "to": "ma", "moves": 1}]


def test_breaches_per_week(period):
    breaches = operations.breaches_per_week(period=period)

    # Item 5 (Mon 16 Nov 13h) and item 11 (Wed 18 Nov 10h): both urgent, both this week.
    assert breaches["series"]["urgent"] == [0] * 11 + [2]
    assert breaches["series"]["emergent"] == breaches["series"]["routine"] == [0] * 12


def test_fairness_by_language_marks_the_slower_group(period):
    fairness = operations.fairness(period=period)

    overall = fairness["overall"]
    # All ten answers: 0.5, 1, 2, 3, 4, 4, 6, 7, 8, 10: median 4.
    assert overall["first_response"]["median_hours"] == approx(4)
    assert overall["corrections"] == {"classified": 10, "corrected": 4, "rate": approx(0.4)}
    rows = {r["group"]: r for r in fairness["language"]}
    # Spanish: 3, 4, 10, 7, 8: median 7 > 4 x 1.2: marked.
    assert times(rows["es"], "first_response") == (5, approx(7), approx(9.2))
    assert rows["es"]["first_response"]["gap"] is True
    # Corrections: 3 of 5 Spanish messages (0.6 > 0.4 x 1.2), 1 of 5 English ones.
    assert rows["es"]["corrections"] == {
        "classified": 5,
        "corrected": 3,
        "rate": approx(0.6),
        "gap": True,
    }
    assert rows["es"]["flagged"] is True
    # English: 1, 2, 4, 6, 0.5: median 2; a correction rate of 0.2.
    assert times(rows["en"], "first_response") == (5, approx(2), approx(5.2))
    assert rows["en"]["corrections"]["rate"] == approx(0.2)
    assert rows["en"]["flagged"] is False
    assert rows["en"]["items"] == 7


def test_fairness_by_age_band_at_receipt(period):
    rows = {r["group"]: r for r in operations.fairness(period=period)["age_band"]}

    assert list(rows) == ["under 18", "18-64", "65+", "unknown"]
    # Item 2's patient turns 18 the day after receipt; item 7's on the day: an adult.
    assert rows["under 18"]["items"] == 2  # items 2 and 4: answers 2 and 4
    assert times(rows["under 18"], "first_response") == (2, approx(3), approx(3.8))
    assert rows["18-64"]["items"] == 6  # items 1, 6, 7, 8, 10, 11
    assert times(rows["18-64"], "first_response") == (5, approx(4), approx(6.6))
    # Items 3, 5, 9: answers 3, 10, 8, median 8 (twice the overall), but three answers
    # are too few to mark.
    assert times(rows["65+"], "first_response")[:2] == (3, approx(8))
    assert rows["65+"]["first_response"]["gap"] is False
    assert rows["unknown"]["items"] == 1


def test_another_clinic_sees_none_of_it(day):
    elsewhere_period = operations.Period.last_weeks(clinics=[ClinicFactory()], now=NOW)

    figures = operations.dashboard(period=elsewhere_period)

    assert figures["backlog"]["open"] == 0
    assert figures["who_answered"]["answered"] == 0
    assert all(r["items"] == 0 for r in figures["response_times"]["acuity"])


@pytest.mark.parametrize(
    "values",
    [[5.0], [1.0, 2.0], [3.0, 1.0, 2.0], [0.5, 1, 2, 3, 4, 4, 6, 7, 8, 10], list(range(37))],
)
def test_the_sqlite_percentiles_match_linear_interpolation(values):
    """The SQLite branch's SQL, run by SQLite itself (the demo's database): per group,
    the same median and p90 as percentile_cont (statistics' inclusive method)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (g TEXT, v REAL)")
    db.executemany("INSERT INTO t VALUES (?, ?)", [("a", v) for v in values])
    db.executemany("INSERT INTO t VALUES (?, ?)", [("b", v * 3 + 1) for v in values])
    sql = operations.percentile_sql(
        "SELECT g AS group_x, v FROM t", groups=["group_x"], fractions=(0.5, 0.9)
    )

    got = {g: (n, p50, p90) for g, n, p50, p90 in db.execute(sql)}

    for group, data in (("a", values), ("b", [v * 3 + 1 for v in values])):
        p90 = statistics.quantiles(data, n=10, method="inclusive")[8] if len(data) > 1 else data[0]
        assert got[group] == (len(data), approx(statistics.median(data)), approx(p90))


def test_the_sqlite_percentiles_without_groups():
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE t (v REAL)")
    db.executemany("INSERT INTO t VALUES (?)", [(v,) for v in (4, 1, 3, 2)])

    sql = operations.percentile_sql("SELECT v FROM t", groups=[], fractions=(0.5, 0.9))

    assert db.execute(sql).fetchall() == [(4, approx(2.5), approx(3.7))]


def test_who_may_see_the_dashboard(day):
    clinic, _ = day
    admin = StaffFactory(clinic=clinic, role=Role.ADMIN)
    manager = StaffFactory(clinic=clinic, role=Role.NURSE)
    manager.memberships.update(is_manager=True)
    nurse = StaffFactory(clinic=clinic, role=Role.NURSE)

    assert list(operations.clinics_for_dashboard(user=admin)) == [clinic]
    assert list(operations.clinics_for_dashboard(user=manager)) == [clinic]
    assert list(operations.clinics_for_dashboard(user=nurse)) == []
    assert timezone.is_aware(NOW)
