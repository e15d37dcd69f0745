"""Inter-annotator agreement between the corpus labels and an independent second pass."""

import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from triage.ml.corpus import LabeledMessage

LABELS = ("acuity", "service_level", "evisit_candidate")


def read_second_pass(directory: Path) -> dict[str, dict]:
    labels = {}
    for path in sorted(directory.glob("second_pass_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    return labels


def read_first_pass_overrides(directory: Path) -> dict[str, dict]:
    """The first annotator's labels of rows later changed by adjudication, so agreement
    is measured between the two independent passes, not against the adjudicated result."""
    path = directory / "first_pass_before_adjudication.jsonl"
    if not path.exists():
        return {}
    rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
    return {row["id"]: row for row in rows}


def first_pass_labels(row: LabeledMessage, first_overrides: dict[str, dict]) -> dict:
    """The first annotator's labels of a row: the corpus labels, except where
    adjudication later changed them."""
    overridden = first_overrides.get(row.id, {})
    return {label: overridden.get(label, getattr(row, label)) for label in LABELS}


def agreement(
    rows: list[LabeledMessage], second: dict[str, dict], first_overrides: dict[str, dict]
) -> dict:
    first_pass = {r.id: first_pass_labels(r, first_overrides) for r in rows}
    paired = [(first_pass[r.id] | {"id": r.id}, second[r.id]) for r in rows if r.id in second]
    report = {"rows": len(paired)}
    for label in LABELS:
        first = [str(f[label]) for f, _ in paired]
        other = [str(s[label]) for _, s in paired]
        report[label] = {
            "kappa": float(cohen_kappa_score(first, other)) if paired else None,
            "raw_agreement": (
                sum(a == b for a, b in zip(first, other, strict=True)) / len(paired)
                if paired
                else None
            ),
        }
    report["disagreements"] = [
        {
            "id": f["id"],
            "first": [f[label] for label in LABELS],
            "second": [s[label] for label in LABELS],
        }
        for f, s in paired
        if any(f[label] != s[label] for label in LABELS)
    ]
    return report
