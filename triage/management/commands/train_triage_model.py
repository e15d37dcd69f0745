import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from triage.ml.classifier import DEFAULT_VARIANT, VARIANTS
from triage.ml.corpus import CorpusError, corpus_hash, load_corpus
from triage.ml.evaluation import evaluate_model, holdout_split
from triage.ml.reporting import summary_line
from triage.ml.training import fit_model
from triage.model_registry import register_model_version


class Command(BaseCommand):
    help = (
        "Train the triage model from triage/corpus/, measure it on the held-out 20% "
        "(a model fit on the other 80%), then fit on the whole corpus and register it."
    )

    def add_arguments(self, parser):
        # The embedding variants are for comparison only (evaluate_triage_model): they
        # need PyTorch, which workers do not install, and miss the latency budget.
        parser.add_argument(
            "--variant",
            default=DEFAULT_VARIANT,
            choices=sorted(n for n, v in VARIANTS.items() if not v.embeddings),
        )
        parser.add_argument("--no-activate", action="store_true", help="register, do not promote")
        parser.add_argument("--skip-holdout", action="store_true", help="no held-out measurement")

    def handle(self, *args, variant: str, no_activate: bool, skip_holdout: bool, **options):
        try:
            rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
        except CorpusError as exc:
            raise CommandError(str(exc)) from exc
        data_hash = corpus_hash(rows)
        self.stdout.write(f"corpus: {len(rows)} labeled messages ({data_hash[:12]})")
        metrics = {"variant": variant, "training_rows": len(rows)}
        if not skip_holdout:
            train, test = holdout_split(rows)
            self.stdout.write(
                f"[1/2] held-out check: fitting on {len(train)}, testing on {len(test)}..."
            )
            started = time.monotonic()
            report = evaluate_model(fit_model(train, variant), test)
            report.pop("errors")
            metrics["holdout"] = report
            self.stdout.write(f"      {summary_line(report)} ({time.monotonic() - started:.0f}s)")
        self.stdout.write(f"[2/2] fitting {variant} on all {len(rows)} messages...")
        model = fit_model(rows, variant)
        metrics["thresholds"] = model.thresholds.__dict__
        version = register_model_version(
            model=model,
            name=f"triage-{variant}-{data_hash[:10]}",
            training_data_hash=data_hash,
            metrics=metrics,
            activate=not no_activate,
        )
        state = "registered" if no_activate else "registered and activated"
        self.stdout.write(self.style.SUCCESS(f"model version {version.pk} {state}: {version.name}"))
