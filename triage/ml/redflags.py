"""The deterministic red-flag layer: present, current danger signs in the message text.

Pure: no ORM. The phrases, negation and history cues live in redflags.toml (data, not
code branches). A red flag can only raise acuity; it never lowers anything.
"""

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from triage.ml.labels import ACUITY_RANK, Acuity, ServiceLevel
from triage.ml.prefilter import LiteralIndex, build_literal_index, possible_patterns
from triage.ml.types import TriagePrediction

PHRASES_FILE = Path(__file__).with_name("redflags.toml")
NEGATION_WINDOW_WORDS = 5
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+|;")
_CLAUSE_SPLIT = re.compile(r"\b(?:but|however|although|though|except|pero|aunque|sino)\b")


@dataclass(frozen=True)
class RedFlag:
    name: str
    acuity: str
    groups: tuple[re.Pattern, ...]
    context: str | None


@dataclass(frozen=True)
class RedFlagHit:
    name: str
    acuity: str
    evidence: str


@dataclass(frozen=True)
class RedFlagRules:
    flags: tuple[RedFlag, ...]
    negation: re.Pattern
    history: re.Pattern
    on_chemotherapy: re.Pattern
    # Which flag groups may match a text, from one literal scan (triage/prefilter.py);
    # None: search every group (the reference path, same results).
    prefilter: LiteralIndex | None = None
    # pattern -> positions in `flags` of the flags that use it
    flags_using: dict[re.Pattern, tuple[int, ...]] = field(default_factory=dict)


def _alternation(patterns: list[str]) -> re.Pattern:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


@cache
def load_rules(path: Path = PHRASES_FILE) -> RedFlagRules:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    flags = tuple(
        RedFlag(
            name=entry["name"],
            acuity=Acuity(entry["acuity"]).value,
            groups=tuple(_alternation(group) for group in entry["all_of"]),
            context=entry.get("context"),
        )
        for entry in data["flag"]
    )
    cues = data["cues"]
    return RedFlagRules(
        flags=flags,
        negation=_alternation(cues["negation"]),
        history=_alternation(cues["history"]),
        on_chemotherapy=_alternation(cues["on_chemotherapy"]),
        prefilter=build_literal_index(g for f in flags for g in f.groups),
        flags_using={
            group: tuple(i for i, f in enumerate(flags) if group in f.groups)
            for flag in flags
            for group in flag.groups
        },
    )


def normalize(text: str) -> str:
    text = text.replace("\u2019", "'").replace("\u2018", "'").lower()
    if text.isascii():
        return text  # nothing to decompose
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _current_matches(pattern: re.Pattern, sentences: list[str], rules: RedFlagRules) -> list[str]:
    """Matches that are neither negated nor past history."""
    found = []
    for sentence in sentences:
        # The phrase first: the history and negation cues are long alternations, and
        # most sentences of a flagged message do not hold the phrase at all.
        if not pattern.search(sentence) or rules.history.search(sentence):
            continue
        for clause in _CLAUSE_SPLIT.split(sentence):
            for match in pattern.finditer(clause):
                before = clause[: match.start()].split()[-NEGATION_WINDOW_WORDS:]
                if rules.negation.search(" ".join(before)):
                    continue
                found.append(match.group(0))
    return found


def find_red_flags(
    *, subject: str, body: str, on_chemotherapy: bool = False, rules: RedFlagRules | None = None
) -> list[RedFlagHit]:
    rules = rules or load_rules()
    text = normalize(f"{subject}\n{body}" if subject else body)
    # Cheap necessary condition first: every group must match somewhere in the text.
    # Most messages match no flag and leave here after one literal scan.
    if rules.prefilter is None:
        flags = rules.flags
    else:
        possible = possible_patterns(rules.prefilter, text)
        if not possible:
            return []
        positions = sorted({i for p in possible for i in rules.flags_using[p]})
        flags = [
            f for f in map(rules.flags.__getitem__, positions) if possible.issuperset(f.groups)
        ]
    candidates = [f for f in flags if all(g.search(text) for g in f.groups)]
    if not candidates:
        return []
    sentences = [s for s in _SENTENCE_SPLIT.split(text) if s.strip()]
    hits = []
    for flag in candidates:
        if flag.context == "on_chemotherapy" and not (
            on_chemotherapy or _current_matches(rules.on_chemotherapy, sentences, rules)
        ):
            continue
        evidence = []
        for group in flag.groups:
            matches = _current_matches(group, sentences, rules)
            if not matches:
                break
            evidence.append(matches[0])
        else:
            hits.append(RedFlagHit(flag.name, flag.acuity, " / ".join(evidence)))
    return hits


def red_flag_acuity(hits: list[RedFlagHit]) -> str | None:
    """The acuity the red flags demand: the most acute one found, or None."""
    return min((h.acuity for h in hits), key=lambda a: ACUITY_RANK[Acuity(a)], default=None)


def apply_red_flags(prediction: TriagePrediction, hits: list[RedFlagHit]) -> TriagePrediction:
    """Raise acuity to the most acute red flag found; never lower it."""
    acuity = red_flag_acuity(hits)
    if acuity is None or ACUITY_RANK[Acuity(acuity)] >= ACUITY_RANK[Acuity(prediction.acuity)]:
        return prediction
    raised = replace(prediction, acuity=acuity, acuity_confidence=1.0)
    if acuity == Acuity.EMERGENT:
        # labels.md: every emergent message goes to a triage nurse who calls the patient,
        # and it is not an e-visit (the patient is sent to emergency care).
        raised = replace(
            raised,
            service_level=ServiceLevel.NURSE.value,
            routing_service_level=ServiceLevel.NURSE.value,
            evisit_candidate=False,
        )
    return raised
