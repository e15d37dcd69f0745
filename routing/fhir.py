"""A work item as a FHIR R4 Task, and the Task search's parameters as our filters. Pure:
values in, dicts out (the view reads the rows and validates what it sends).

  status    open -> ready; claimed, responded -> in-progress (businessStatus says which);
            closed -> completed
  priority  acuity routine -> routine, urgent -> urgent, emergent -> stat (asap unused:
            our three acuities need three of FHIR's four codes, and emergent is "now")
  owner     the person holding it, Practitioner/<user id>; else its queue, CareTeam/<queue
            id> (a role's pool of the clinic; R4's Task.owner takes no Group)
  focus     Communication/<message id>: the patient's message (GET /fhir/Communication/ID)
  for       left out: a Task names no patient, so a Task search shows no one and the
            patient is read (and access-logged) through its focus
"""

import datetime
from dataclasses import dataclass

TASK_STATUS = {
    "open": "ready",
    "claimed": "in-progress",
    "responded": "in-progress",
    "closed": "completed",
}
# The search's status codes back to ours.
WORK_ITEM_STATUSES = {
    "ready": ("open",),
    "in-progress": ("claimed", "responded"),
    "completed": ("closed",),
}
TASK_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergent": "stat"}


@dataclass(frozen=True)
class TaskSearch:
    statuses: tuple[str, ...] = ()
    held_by: int | None = None
    unheld_in_queue: int | None = None


class TaskSearchInvalid(ValueError):
    def __init__(self, parameter: str, detail: str):
        super().__init__(detail)
        self.parameter = parameter


def task_search(*, status: str | None, owner: str | None) -> TaskSearch:
    """`status` a comma list of Task codes; `owner` Practitioner/ID or CareTeam/ID."""
    statuses: list[str] = []
    if status is not None:
        for code in status.split(","):
            if code.strip() not in WORK_ITEM_STATUSES:
                raise TaskSearchInvalid(
                    "status", f"status is one or more of {', '.join(WORK_ITEM_STATUSES)}."
                )
            statuses.extend(WORK_ITEM_STATUSES[code.strip()])
    held_by = unheld_in_queue = None
    if owner is not None:
        kind, _, number = owner.partition("/")
        if kind not in ("Practitioner", "CareTeam") or not _is_id(number):
            raise TaskSearchInvalid("owner", "owner is Practitioner/<id> or CareTeam/<id>.")
        if kind == "Practitioner":
            held_by = int(number)
        else:
            unheld_in_queue = int(number)
    return TaskSearch(tuple(statuses), held_by, unheld_in_queue)


def _is_id(text: str) -> bool:
    # ASCII digits only, and a size PostgreSQL's bigint holds.
    return text.isascii() and text.isdigit() and len(text) <= 18


def task_from_work_item(
    *,
    item_id: int,
    status: str,
    acuity: str,
    message_id: int,
    holder: tuple[int, str] | None,
    queue: tuple[int, str],
    created_at: datetime.datetime,
    updated_at: datetime.datetime,
    due_at: datetime.datetime,
    claimed_at: datetime.datetime | None,
    closed_at: datetime.datetime | None,
) -> dict:
    if holder is not None:
        owner = {"reference": f"Practitioner/{holder[0]}", "display": holder[1]}
    else:
        owner = {"reference": f"CareTeam/{queue[0]}", "display": queue[1]}
    task = {
        "resourceType": "Task",
        "id": str(item_id),
        "meta": {"lastUpdated": updated_at.isoformat()},
        "status": TASK_STATUS[status],
        "businessStatus": {"text": status},
        "intent": "order",
        "priority": TASK_PRIORITY[acuity],
        "code": {"text": "Answer the patient's portal message"},
        "focus": {"reference": f"Communication/{message_id}"},
        "authoredOn": created_at.isoformat(),
        "lastModified": updated_at.isoformat(),
        "owner": owner,
        # When the answer is due (the service level's deadline).
        "restriction": {"period": {"end": due_at.isoformat()}},
    }
    if claimed_at is not None or closed_at is not None:
        period = {}
        if claimed_at is not None:
            period["start"] = claimed_at.isoformat()
        if closed_at is not None:
            period["end"] = closed_at.isoformat()
        task["executionPeriod"] = period
    return task
