"""Label values, exactly the strings of docs/labels.md, shared by models, API and classifier.

Pure (no Django): the model code and the rule engine use them without the ORM. Each enum
gives Django what it needs as `Acuity.choices`; members are plain strings.
"""

from enum import EnumMeta, StrEnum


class _LabelMeta(EnumMeta):
    @property
    def values(cls) -> list[str]:
        return [member.value for member in cls]

    @property
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.value, member.label) for member in cls]


class Label(StrEnum, metaclass=_LabelMeta):
    """A StrEnum whose members also carry a human label (like Django's TextChoices)."""

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class Acuity(Label):
    EMERGENT = "emergent", "Emergent"
    URGENT = "urgent", "Urgent"
    ROUTINE = "routine", "Routine"


class ServiceLevel(Label):
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
