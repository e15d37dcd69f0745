import json
import sys
from functools import partial
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from triage.batch import BadRow, classify_lines
from triage.classification import predict_triage
from triage.cli import ensure_active_model

PROGRESS_BAR_FROM_ROWS = 2000


class Command(BaseCommand):
    help = (
        "Classify a JSONL file of messages ({id, subject?, body or text}) into acuity, "
        "service level and e-visit candidate, one output row per input row. Bad rows are "
        "reported on stderr with their line numbers and make the exit status 1."
    )

    def add_arguments(self, parser):
        parser.add_argument("input", type=Path)
        parser.add_argument("--output", type=Path, required=True)
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument(
            "--fast",
            action="store_true",
            help="the active version's TF-IDF model only (an ensemble's own): several "
            "times faster, less accurate on free text",
        )

    def handle(self, *args, input: Path, output: Path, batch_size: int, fast: bool, **options):
        if not input.is_file():
            raise CommandError(f"input file not found: {input}")
        with input.open(encoding="utf-8", errors="replace") as handle:
            total = sum(1 for _ in handle)
        ensure_active_model(stream=sys.stderr)
        bad_rows: list[BadRow] = []
        written = 0
        with (
            input.open(encoding="utf-8", errors="replace") as lines,
            output.open("w", encoding="utf-8") as out,
            tqdm(
                total=total,
                unit="msg",
                file=sys.stderr,
                disable=total < PROGRESS_BAR_FROM_ROWS,
                desc="classifying",
            ) as progress,
        ):
            predict = partial(predict_triage, fast=fast)
            for row in classify_lines(lines, predict, batch_size=batch_size):
                if isinstance(row, BadRow):
                    bad_rows.append(row)
                    self.stderr.write(f"line {row.line_number}: {row.problem}")
                    progress.update(1)
                    continue
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                written += 1
                progress.update(1)
        self.stderr.write(f"classified {written} messages into {output}")
        if bad_rows:
            self.stderr.write(f"{len(bad_rows)} bad rows were skipped (see above)")
            sys.exit(1)
