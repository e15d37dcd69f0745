"""Label values, exactly the strings of docs/labels.md, shared by models, API and classifier."""

from django.db import models


class Acuity(models.TextChoices):
    EMERGENT = "emergent", "Emergent"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


class ServiceLevel(models.TextChoices):
    CLERICAL = "clerical", "Clerical"
    MA = "ma", "Medical assistant"
    NURSE = "nurse", "Nurse"
    PHYSICIAN = "physician", "Physician / APP"


# 0 sorts first: the queue page orders by this rank, then by due time.
ACUITY_RANK = {Acuity.EMERGENT: 0, Acuity.URGENT: 1, Acuity.ROUTINE: 2}
SERVICE_LEVEL_RANK = {
    ServiceLevel.CLERICAL: 0,
    ServiceLevel.MA: 1,
    ServiceLevel.NURSE: 2,
    ServiceLevel.PHYSICIAN: 3,
}


def more_acute(a: str, b: str) -> str:
    return a if ACUITY_RANK[Acuity(a)] <= ACUITY_RANK[Acuity(b)] else b
