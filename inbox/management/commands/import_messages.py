import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.models import Clinic
from inbox.bulk_import import import_messages


class Command(BaseCommand):
    help = (
        "Import patient messages from a .jsonl or .csv file (the REST API's fields; CSV "
        "columns external_id, patient_mrn, patient_name, birth_date, preferred_language, "
        "phone, subject, body, category, sent_at, conversation_id) into a clinic. "
        "Idempotent on external_id: a re-run skips what is stored. Rejected rows are "
        "listed on stderr with their line numbers and make the exit status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--clinic", required=True, help="the clinic's slug")
        parser.add_argument(
            "--no-route",
            action="store_true",
            help="history: store the messages without classifying, routing or alerting "
            "anyone (status imported)",
        )
        parser.add_argument("--batch-size", type=int, default=1000)

    def handle(self, *args, file: Path, clinic: str, no_route: bool, batch_size: int, **options):
        if not file.is_file():
            raise CommandError(f"file not found: {file}")
        if file.suffix.lower() not in {".jsonl", ".csv"}:
            raise CommandError("give a .jsonl or a .csv file")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        target = Clinic.objects.filter(slug=clinic).first()
        if target is None:
            raise CommandError(f"no clinic with the slug {clinic!r}")
        with tqdm(
            total=file.stat().st_size,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            desc="importing",
            mininterval=0.5,
        ) as progress:
            summary = import_messages(
                path=file,
                clinic=target,
                announce=not no_route,
                batch_size=batch_size,
                on_bytes=progress.update,
            )
        for line_number, reason in summary.rejected:
            self.stderr.write(f"line {line_number}: {reason}")
        self.stderr.write(
            f"{summary.read} rows: {summary.stored} accepted, "
            f"{summary.already_present} already present, {len(summary.rejected)} rejected"
        )
        if summary.rejected:
            sys.exit(1)
