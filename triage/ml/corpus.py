"""The labeled corpus kept in the repository (triage/corpus/*.jsonl). Pure: no ORM."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from triage.ml.labels import Acuity, ServiceLevel


@dataclass(frozen=True)
class LabeledMessage:
    id: str
    subject: str
    body: str
    acuity: str
    service_level: str
    evisit_candidate: bool
    category: str = ""
    language: str = "en"
    on_chemotherapy: bool = False
    clinic_type: str = ""
    source: str = ""


def is_real_question(row: LabeledMessage) -> bool:
    """Written by a real patient (shared/data/real_questions.jsonl), not for the corpus."""
    return bool(row.source) and "synthetic" not in row.source


class CorpusError(ValueError):
    pass


def parse_labeled_row(row: dict, *, where: str) -> LabeledMessage:
    try:
        acuity = Acuity(row["acuity"]).value
        service_level = ServiceLevel(row["service_level"]).value
        evisit = row["evisit_candidate"]
        body = row.get("body") or row.get("text") or ""
    except (KeyError, ValueError) as exc:
        raise CorpusError(f"{where}: bad or missing label ({exc})") from exc
    if not isinstance(evisit, bool):
        raise CorpusError(f"{where}: evisit_candidate must be true or false")
    if not body.strip():
        raise CorpusError(f"{where}: empty body")
    return LabeledMessage(
        id=str(row.get("id", where)),
        subject=row.get("subject") or "",
        body=body,
        acuity=acuity,
        service_level=service_level,
        evisit_candidate=evisit,
        category=row.get("category") or "",
        language=row.get("language") or "en",
        on_chemotherapy=bool(row.get("on_chemotherapy")),
        clinic_type=row.get("clinic_type") or "",
        source=row.get("source") or "",
    )


def read_labeled_file(path: Path) -> list[LabeledMessage]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{line_number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{where}: invalid JSON ({exc.msg})") from exc
            rows.append(parse_labeled_row(row, where=where))
    return rows


def corpus_files(corpus_dir: Path) -> list[Path]:
    return sorted(p for p in corpus_dir.glob("*.jsonl") if not p.name.startswith("_"))


def read_labeled_files(paths: Iterable[Path]) -> list[LabeledMessage]:
    return [row for path in paths for row in read_labeled_file(path)]


def load_corpus(corpus_dir: Path) -> list[LabeledMessage]:
    files = corpus_files(corpus_dir)
    if not files:
        raise CorpusError(f"no labeled corpus files in {corpus_dir}")
    return read_labeled_files(files)


# Beside the corpus, rows that only the ensemble's TF-IDF half learns from.
TRAINING_ONLY_DIR = "training_only"


def load_training_only_rows(corpus_dir: Path) -> list[LabeledMessage]:
    """The written questions of triage/corpus/training_only/ (its README): never scored
    and never used to choose a threshold, so they are kept apart from `load_corpus`;
    none when the folder is absent."""
    return read_labeled_files(corpus_files(corpus_dir / TRAINING_ONLY_DIR))


def corpus_hash(rows: Iterable[LabeledMessage]) -> str:
    digest = hashlib.sha256()
    for row in rows:
        digest.update(
            json.dumps(
                [
                    row.id,
                    row.subject,
                    row.body,
                    row.acuity,
                    row.service_level,
                    row.evisit_candidate,
                ],
                ensure_ascii=False,
            ).encode()
        )
    return digest.hexdigest()
