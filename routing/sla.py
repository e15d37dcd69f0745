"""Due times for work items. Pure: pass `now` in, no ORM.

First cut: wall-clock targets per acuity (domain.md defaults). Business hours, holidays
and per-clinic policies refine this in the routing issue.
"""

import datetime

from triage.labels import Acuity

DEFAULT_TARGETS = {
    Acuity.EMERGENT: datetime.timedelta(minutes=15),
    Acuity.URGENT: datetime.timedelta(hours=4),
    Acuity.ROUTINE: datetime.timedelta(days=3),
}


def due_at(*, acuity: str, received_at: datetime.datetime) -> datetime.datetime:
    if received_at.tzinfo is None:
        raise ValueError("received_at must be timezone-aware")
    return received_at + DEFAULT_TARGETS[Acuity(acuity)]
