"""Loading a clinic's message history from a file (manage.py import_messages).

The file is read as a stream (one batch in memory at a time), every row is checked by the
REST intake's own serializer, and batches are stored by inbox.services.
receive_messages_batch: the same idempotency (external_id), patient and conversation
rules as a portal's POST. A re-run skips what is stored, so an interrupted import resumes.
"""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rest_framework import serializers

from accounts.models import Clinic, Integration
from accounts.services import create_integration
from inbox.api.views import ReceiveMessageApi
from inbox.services import IncomingMessage, PatientDetails, receive_messages_batch

BULK_IMPORT_INTEGRATION = "Bulk import"
# The flat columns of a CSV (or a flat JSONL row) that are the API's "patient" object.
PATIENT_COLUMNS = {
    "patient_mrn": "mrn",
    "mrn": "mrn",
    "patient_name": "name",
    "name": "name",
    "birth_date": "birth_date",
    "preferred_language": "preferred_language",
    "on_chemotherapy": "on_chemotherapy",
    "phone": "phone",
}


@dataclass
class ImportSummary:
    read: int = 0
    stored: int = 0
    already_present: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)


def bulk_import_integration(*, clinic: Clinic) -> Integration:
    """The import acts as an integration of the clinic, its own: patient detail changes it
    brings are recorded under "Bulk import", and it is never the clinic's source of truth
    for demographics, so history cannot overwrite a chart."""
    found = Integration.objects.filter(clinic=clinic, name=BULK_IMPORT_INTEGRATION).first()
    return found or create_integration(clinic=clinic, name=BULK_IMPORT_INTEGRATION)


def import_messages(
    *,
    path: Path,
    clinic: Clinic,
    announce: bool,
    batch_size: int,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> ImportSummary:
    """Import a .jsonl or .csv file (by its suffix). `on_bytes` is told how many bytes of
    the file each line took (the progress bar)."""
    source = bulk_import_integration(clinic=clinic)
    # One serializer for every row: DRF deep-copies a serializer's fields for each new
    # instance, which was half of the import's time.
    check = ReceiveMessageApi.InputSerializer()
    summary = ImportSummary()
    batch: list[tuple[int, IncomingMessage]] = []

    def store(batch: list[tuple[int, IncomingMessage]]) -> None:
        outcome = receive_messages_batch(
            clinic=clinic, incoming=[one for _, one in batch], source=source, announce=announce
        )
        summary.stored += outcome.stored
        summary.already_present += outcome.already_present
        summary.rejected.extend((batch[at][0], reason) for at, reason in outcome.rejected)

    with path.open("rb") as raw:
        for line_number, row in _rows(
            raw, csv_file=path.suffix.lower() == ".csv", on_bytes=on_bytes
        ):
            summary.read += 1
            incoming = _incoming(row, clinic=clinic, check=check)
            if isinstance(incoming, str):
                summary.rejected.append((line_number, incoming))
                continue
            batch.append((line_number, incoming))
            if len(batch) >= batch_size:
                store(batch)
                batch = []
        if batch:
            store(batch)
    summary.rejected.sort()
    return summary


def _lines(raw: IO[bytes], on_bytes: Callable[[int], None], undecodable: set[int]) -> Iterator[str]:
    for number, line in enumerate(raw, start=1):
        on_bytes(len(line))
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            # That row is rejected by its line number, not the whole file.
            undecodable.add(number)
            text = line.decode("utf-8", errors="replace")
        yield text.removeprefix("\ufeff") if number == 1 else text


def _rows(
    raw: IO[bytes], *, csv_file: bool, on_bytes: Callable[[int], None]
) -> Iterator[tuple[int, dict | str]]:
    """(line number, row as a dict, or why it is not one)."""
    undecodable: set[int] = set()
    lines = _lines(raw, on_bytes, undecodable)
    if not csv_file:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            if number in undecodable:
                yield number, "not UTF-8 text"
                continue
            try:
                row = json.loads(line)
            except ValueError:
                yield number, "not a JSON object"
                continue
            yield number, row if isinstance(row, dict) else "not a JSON object"
        return
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        return
    header = [name.strip() for name in header]
    while True:
        first_line = reader.line_num + 1  # a quoted field may span several lines
        values = next(reader, None)
        if values is None:
            return
        if not any(v.strip() for v in values):
            continue
        if undecodable.intersection(range(first_line, reader.line_num + 1)):
            yield first_line, "not UTF-8 text"
        elif len(values) != len(header):
            yield first_line, f"{len(values)} columns where the header has {len(header)}"
        else:
            # CSV has no null: an empty cell is a field not sent, as in the API.
            yield (
                first_line,
                dict(
                    (name, value) for name, value in zip(header, values, strict=True) if value != ""
                ),
            )


def _incoming(
    row: dict | str, *, clinic: Clinic, check: serializers.Serializer
) -> IncomingMessage | str:
    """The row as the intake service takes it, or why it is rejected (the API's reasons)."""
    if isinstance(row, str):
        return row
    data = dict(row)
    if "patient" not in data:
        data["patient"] = {
            PATIENT_COLUMNS[name]: data.pop(name) for name in list(data) if name in PATIENT_COLUMNS
        }
    if data.setdefault("clinic", clinic.slug) != clinic.slug:
        return f"clinic: this file is imported into {clinic.slug}, the row names another"
    try:
        valid = check.run_validation(data)  # what is_valid() runs
    except serializers.ValidationError as refusal:
        return "; ".join(_flat_errors(refusal.detail))
    return IncomingMessage(
        external_id=valid["external_id"],
        patient=PatientDetails(**valid["patient"]),
        subject=valid.get("subject", ""),
        body=valid["body"],
        category=valid.get("category", ""),
        sent_at=valid.get("sent_at"),
        conversation_external_id=valid.get("conversation_id", ""),
    )


def _flat_errors(errors, prefix: str = "") -> Iterator[str]:
    if isinstance(errors, dict):
        for name, inner in errors.items():
            yield from _flat_errors(
                inner, f"{prefix}{name}." if name != "non_field_errors" else prefix
            )
    else:
        yield f"{prefix.rstrip('.') or 'row'}: {' '.join(str(e) for e in errors)}"
