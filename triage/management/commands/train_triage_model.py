import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from triage.ml.classifier import DEFAULT_VARIANT, VARIANTS
from triage.ml.corpus import CorpusError, corpus_hash, load_corpus
from triage.ml.ensemble import (
    ENSEMBLE_VARIANT,
    TrainingUnavailable,
    read_imitation_out_of_fold,
    read_transformer_out_of_fold,
    require_pytorch,
)
from triage.ml.evaluation import evaluate_model, holdout_split
from triage.ml.neighbours import DEFAULT_NEIGHBOUR_WEIGHT
from triage.ml.reporting import summary_line
from triage.ml.training import fit_model
from triage.model_registry import register_model_version, train_ensemble_model_version


class Command(BaseCommand):
    help = (
        "Train the triage model from triage/corpus/ and register it. TF-IDF variants: "
        "measured on the held-out 20% (a model fit on the other 80%), then fit on the whole "
        f"corpus. {ENSEMBLE_VARIANT}: MiniLM fine-tuned once per fold for out-of-fold "
        "thresholds over the whole corpus, then on every row (needs the train extra; "
        "tens of minutes on two cores)."
    )

    def add_arguments(self, parser):
        # The frozen-embedding variants are for comparison only (evaluate_triage_model).
        parser.add_argument(
            "--variant",
            default=DEFAULT_VARIANT,
            choices=sorted(
                [n for n, v in VARIANTS.items() if not v.embeddings] + [ENSEMBLE_VARIANT]
            ),
        )
        parser.add_argument("--no-activate", action="store_true", help="register, do not promote")
        parser.add_argument("--skip-holdout", action="store_true", help="no held-out measurement")
        parser.add_argument("--folds", type=int, default=4, help="ensemble: k of the k-fold")
        parser.add_argument("--seed", type=int, default=0, help="ensemble: folds and weights")
        parser.add_argument(
            "--neighbour-weight",
            type=float,
            default=DEFAULT_NEIGHBOUR_WEIGHT,
            help="ensemble: the neighbours' vote's share of each head (0: no vote; "
            f"default {DEFAULT_NEIGHBOUR_WEIGHT}, docs/triage.md)",
        )
        parser.add_argument(
            "--float", action="store_true", help="ensemble: keep the ONNX graph in float32"
        )
        parser.add_argument(
            "--reuse-out-of-fold",
            type=Path,
            help="ensemble: a directory of bench/transformer_oof.py results for this seed "
            "and k, instead of fine-tuning once per fold again",
        )

    def handle(self, *args, variant: str, no_activate: bool, skip_holdout: bool, **options):
        if variant == ENSEMBLE_VARIANT:
            self._ensemble(activate=not no_activate, **options)
            return
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

    def _ensemble(self, *, activate: bool, folds: int, seed: int, reuse_out_of_fold, **options):
        try:
            require_pytorch()
        except TrainingUnavailable as exc:
            raise CommandError(str(exc)) from exc
        reused = imitations = None
        if reuse_out_of_fold is not None:
            rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
            where = {
                "seed": seed,
                "folds": folds,
                "rows": len(rows),
                "kind": "float" if options["float"] else "int8",
            }
            reused = read_transformer_out_of_fold(reuse_out_of_fold, **where)
            if reused is None:
                raise CommandError(f"{reuse_out_of_fold} lacks a fold of seed {seed}, k={folds}")
            imitations = read_imitation_out_of_fold(reuse_out_of_fold, **where)
            if imitations is None and options["neighbour_weight"]:
                raise CommandError(
                    f"{reuse_out_of_fold} holds no imitated embeddings (saved before the "
                    "transformer learnt them), and the neighbours' vote needs them: run "
                    "bench/transformer_oof.py again, or train with --neighbour-weight 0"
                )
        started = time.monotonic()
        with tqdm(total=1, desc="training", unit="step") as bar:

            def progress(step: int, total: int, what: str) -> None:
                bar.total = total
                bar.set_postfix_str(what)
                bar.n = step
                bar.refresh()

            version = train_ensemble_model_version(
                folds=folds,
                seed=seed,
                quantize=not options["float"],
                activate=activate,
                transformer_out_of_fold=reused,
                imitation_out_of_fold=imitations,
                neighbour_weight=options["neighbour_weight"],
                progress=progress,
            )
        self.stdout.write(
            f"fit on {version.metrics['training_rows']} corpus messages; the TF-IDF half also "
            f"on {version.metrics['training_only_rows']} training-only written questions; "
            + (
                f"{version.metrics['neighbour_pool']} messages vote in the neighbours' vote "
                f"(weight {version.metrics['neighbour_weight']:g})"
                if version.metrics["neighbour_pool"]
                else "no neighbours' vote"
            )
        )
        figures = version.metrics["out_of_fold"]
        for part in ("real_questions", "pooled"):
            if part not in figures:
                continue
            f = figures[part]
            self.stdout.write(
                f"{part} out of fold: urgency AUC {f['urgency_auc']:.3f}, urgent-or-emergent "
                f"recall {f['urgent_or_above_recall']:.3f}, routine flagged "
                f"{f['routine_flagged']:.3f}, service {f['service_accuracy']:.3f}, "
                f"e-visit F1 {f['evisit_f1']:.3f}"
            )
        state = "registered and activated" if activate else "registered"
        self.stdout.write(
            self.style.SUCCESS(
                f"model version {version.pk} {state}: {version.name} "
                f"({time.monotonic() - started:.0f}s)"
            )
        )
