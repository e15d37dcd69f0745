"""A candidate's training rows from the corpus plus staff corrections, the corrections it
keeps back for its own evaluation, and its recall per language. Pure: no ORM.

A corrected message becomes one training row: the corrected labels from the corrections,
its other labels from the corpus row with the same text (the demo's messages come from the
corpus) or else from what the active model said of it, which nobody corrected.
"""

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from triage.ml.classifier import TriageModel
from triage.ml.corpus import LabeledMessage
from triage.ml.decision import classify_items
from triage.ml.training import as_input

CORRECTED_LABELS = ("acuity", "service_level", "evisit_candidate")
# One corrected message in five is kept back: the candidate is scored on corrections it
# never saw. By a hash of the message id, so a message's corrections all fall on one side
# and the same corrections give the same split at every training.
HELD_OUT_ONE_IN = 5
HELD_OUT_SALT = "corrections-v1"


@dataclass(frozen=True)
class Correction:
    """A reviewed correction, with what the trainer needs of its message."""

    id: int
    message_id: int
    subject: str
    body: str
    label: str
    to_value: str
    # What the active model said of the message (its stored classification), or None
    # when it was not classified by a model (the no-model fallback).
    classified_as: dict | None
    on_chemotherapy: bool = False
    language: str = ""


@dataclass(frozen=True)
class CorrectedRow:
    message_id: int
    row: LabeledMessage
    corrected: dict  # label -> corrected value
    replaces_corpus_id: str | None


def corrected_value(label: str, value: str):
    if label == "evisit_candidate":
        return str(value).strip().lower() in {"true", "1", "yes"}
    return value


def _text_key(subject: str, body: str) -> tuple[str, str]:
    return (" ".join(subject.split()).lower(), " ".join(body.split()).lower())


def corrected_rows(
    corrections: Sequence[Correction], corpus: Sequence[LabeledMessage]
) -> tuple[list[CorrectedRow], int]:
    """One row per corrected message (the latest correction of each label wins), and the
    number of messages left out: neither a corpus row nor a model's classification gives
    their uncorrected labels, and a row needs all three."""
    by_text = {_text_key(r.subject, r.body): r for r in corpus}
    by_message: dict[int, list[Correction]] = defaultdict(list)
    for correction in sorted(corrections, key=lambda c: c.id):
        by_message[correction.message_id].append(correction)
    rows, skipped = [], 0
    for message_id, message_corrections in sorted(by_message.items()):
        first = message_corrections[0]
        corrected = {
            c.label: corrected_value(c.label, c.to_value)
            for c in message_corrections
            if c.label in CORRECTED_LABELS
        }
        if not corrected:
            continue
        in_corpus = by_text.get(_text_key(first.subject, first.body))
        if in_corpus is not None:
            base = {label: getattr(in_corpus, label) for label in CORRECTED_LABELS}
        elif first.classified_as is not None:
            base = {label: first.classified_as[label] for label in CORRECTED_LABELS}
        elif set(corrected) == set(CORRECTED_LABELS):
            base = {}
        else:
            skipped += 1
            continue
        labels = {**base, **corrected}
        row = LabeledMessage(
            id=f"correction-message-{message_id}",
            subject=first.subject,
            body=first.body,
            acuity=labels["acuity"],
            service_level=labels["service_level"],
            evisit_candidate=bool(labels["evisit_candidate"]),
            language=(in_corpus.language if in_corpus else first.language) or "en",
            on_chemotherapy=first.on_chemotherapy,
            source="staff correction",
        )
        rows.append(CorrectedRow(message_id, row, corrected, in_corpus.id if in_corpus else None))
    return rows, skipped


def is_held_out(message_id: int) -> bool:
    digest = hashlib.sha256(f"{HELD_OUT_SALT}:{message_id}".encode()).hexdigest()
    return int(digest, 16) % HELD_OUT_ONE_IN == 0


def split_corrected(rows: Sequence[CorrectedRow]) -> tuple[list[CorrectedRow], list[CorrectedRow]]:
    """(trained on, held out)."""
    trained = [r for r in rows if not is_held_out(r.message_id)]
    held_out = [r for r in rows if is_held_out(r.message_id)]
    return trained, held_out


def without_replaced(
    corpus: Sequence[LabeledMessage], rows: Sequence[CorrectedRow]
) -> list[LabeledMessage]:
    """The corpus less the rows a corrected message stands for: a corrected corpus row
    is trained on with its corrected labels, and a held-out one not at all."""
    replaced = {r.replaces_corpus_id for r in rows if r.replaces_corpus_id}
    return [r for r in corpus if r.id not in replaced]


def corrections_report(model: TriageModel, rows: Sequence[CorrectedRow]) -> dict:
    """How the model labels corrected messages it was not trained on: per corrected
    label, how many it now gets right (the staff's value)."""
    report: dict = {"messages": len(rows), "labels": {}}
    if not rows:
        return report
    predictions = [p for p, _ in classify_items(model, [as_input(r.row) for r in rows])]
    for label in CORRECTED_LABELS:
        pairs = [
            (getattr(p, label), r.corrected[label])
            for r, p in zip(rows, predictions, strict=True)
            if label in r.corrected
        ]
        if pairs:
            right = sum(predicted == wanted for predicted, wanted in pairs)
            report["labels"][label] = {
                "corrected": len(pairs),
                "right": right,
                "accuracy": right / len(pairs),
            }
    return report


def recall_by_language(model: TriageModel, rows: Sequence[LabeledMessage]) -> dict:
    """Emergent and urgent-or-above recall per language on these rows (the corpus
    hold-out), red flags included as in production: the model must not miss more
    emergencies written in one language than in another."""
    predictions = [p.acuity for p, _ in classify_items(model, [as_input(r) for r in rows])]
    by_language: dict[str, dict] = {}
    for language in sorted({r.language or "en" for r in rows}):
        indices = [i for i, r in enumerate(rows) if (r.language or "en") == language]
        gold = np.array([rows[i].acuity for i in indices])
        predicted = np.array([predictions[i] for i in indices])
        emergent = gold == "emergent"
        urgent_or_above = gold != "routine"
        by_language[language] = {
            "rows": len(indices),
            "emergent": int(emergent.sum()),
            "emergent_recall": float(np.mean(predicted[emergent] == "emergent"))
            if emergent.any()
            else None,
            "urgent_or_above": int(urgent_or_above.sum()),
            "urgent_or_above_recall": float(np.mean(predicted[urgent_or_above] != "routine"))
            if urgent_or_above.any()
            else None,
        }
    return by_language


def with_corrections(
    rows: Sequence[LabeledMessage], corrected: Sequence[CorrectedRow]
) -> list[LabeledMessage]:
    return [*rows, *(r.row for r in corrected)]
