"""Batch classification of JSONL files: parsing rows, reporting bad ones. No ORM here;
the command passes in the predict function, which is the worker's own code path."""

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from triage.classification import TriageResult
from triage.ml.classifier import TriageInput


@dataclass(frozen=True)
class BatchRow:
    line_number: int
    id: str
    item: TriageInput


@dataclass(frozen=True)
class BadRow:
    line_number: int
    problem: str


def parse_batch_line(line: str, line_number: int) -> BatchRow | BadRow | None:
    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        return BadRow(line_number, f"invalid JSON ({exc.msg})")
    if not isinstance(row, dict):
        return BadRow(line_number, "not a JSON object")
    row_id = row.get("id")
    if row_id is None or (isinstance(row_id, str) and not row_id.strip()):
        return BadRow(line_number, "no id")
    # Data sets of patient questions call the message "text"; read it when body is absent.
    body = row["body"] if "body" in row else row.get("text")
    if not isinstance(body, str) or not body.strip():
        return BadRow(line_number, "no body")
    subject = row.get("subject") or ""
    if not isinstance(subject, str):
        return BadRow(line_number, "subject is not a string")
    return BatchRow(
        line_number,
        str(row_id),
        TriageInput(
            subject=subject, body=body, on_chemotherapy=bool(row.get("on_chemotherapy", False))
        ),
    )


def output_row(row_id: str, result: TriageResult) -> dict:
    p = result.prediction
    return {
        "id": row_id,
        "acuity": p.acuity,
        "service_level": p.service_level,
        "evisit_candidate": p.evisit_candidate,
        "confidence": {
            "acuity": round(p.acuity_confidence, 4),
            "service_level": round(p.service_level_confidence, 4),
        },
    }


def classify_lines(
    lines: Iterator[str],
    predict: Callable[[Sequence[TriageInput]], list[TriageResult]],
    *,
    batch_size: int = 1000,
) -> Iterator[dict | BadRow]:
    """Yields an output row per good input row, in input order, and a BadRow per bad one."""
    pending: list[BatchRow] = []

    def flush() -> Iterator[dict]:
        results = predict([r.item for r in pending])
        for row, result in zip(pending, results, strict=True):
            yield output_row(row.id, result)
        pending.clear()

    for line_number, line in enumerate(lines, start=1):
        parsed = parse_batch_line(line, line_number)
        if parsed is None:
            continue
        if isinstance(parsed, BadRow):
            yield from flush()
            yield parsed
            continue
        pending.append(parsed)
        if len(pending) >= batch_size:
            yield from flush()
    yield from flush()
