"""Inter-annotator agreement between the corpus labels and an independent second pass."""

import json
from pathlib import Path

from sklearn.metrics import cohen_kappa_score

from triage.corpus import LabeledMessage

LABELS = ("acuity", "service_level", "evisit_candidate")


def read_second_pass(directory: Path) -> dict[str, dict]:
    labels = {}
    for path in sorted(directory.glob("second_pass_*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[row["id"]] = row
    return labels


def agreement(rows: list[LabeledMessage], second: dict[str, dict]) -> dict:
    paired = [(r, second[r.id]) for r in rows if r.id in second]
    report = {"rows": len(paired)}
    for label in LABELS:
        first = [str(getattr(r, label)) for r, _ in paired]
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
            "id": r.id,
            "first": [r.acuity, r.service_level, r.evisit_candidate],
            "second": [s["acuity"], s["service_level"], s["evisit_candidate"]],
        }
        for r, s in paired
        if (r.acuity, r.service_level, r.evisit_candidate)
        != (s["acuity"], s["service_level"], s["evisit_candidate"])
    ]
    return report
