import json
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from triage.ml.agreement import agreement, read_first_pass_overrides, read_second_pass
from triage.ml.classifier import DEFAULT_VARIANT, VARIANTS
from triage.ml.corpus import CorpusError, is_real_question, load_corpus, read_labeled_file
from triage.ml.embeddings import EmbeddingsUnavailable, require_embeddings
from triage.ml.evaluation import (
    annotator_against_annotator,
    cross_validate,
    evaluate_model,
    fit_model,
    holdout_split,
    patient_category_baseline,
    red_flags_alone,
)
from triage.ml.reporting import full_report, summary_line
from triage.model_registry import active_model


class Command(BaseCommand):
    help = (
        "Evaluate triage classification. With --data FILE.jsonl (gold labels in the fields "
        "of labels.md): the active model on that file. Without: fit on the corpus's 80% "
        "training split and score the held-out 20%, with baselines; --cross-validate adds "
        "5-fold CV; --variants compares several model variants."
    )

    def add_arguments(self, parser):
        parser.add_argument("--data", type=Path)
        parser.add_argument(
            "--variants",
            default=DEFAULT_VARIANT,
            help=f"comma-separated, from: {', '.join(sorted(VARIANTS))}",
        )
        parser.add_argument("--cross-validate", action="store_true")
        parser.add_argument(
            "--json", dest="json_path", type=Path, help="write the full report as JSON here"
        )

    def handle(
        self,
        *args,
        data: Path | None,
        variants: str,
        cross_validate: bool,
        json_path: Path | None,
        **options,
    ):
        report = self._on_file(data) if data else self._on_corpus(variants, cross_validate)
        if json_path:
            json_path.write_text(_dumps(report), encoding="utf-8")
            self.stdout.write(f"report written to {json_path}")

    def _on_file(self, path: Path) -> dict:
        try:
            rows = read_labeled_file(path)
        except (CorpusError, OSError) as exc:
            raise CommandError(str(exc)) from exc
        loaded = active_model()
        self.stdout.write(f"active model {loaded.version.name} on {len(rows)} rows of {path}")
        report = evaluate_model(loaded.model, rows)
        self.stdout.write(full_report(report))
        return {"model": loaded.version.name, "data": str(path), "report": report}

    def _write_scores(self, title: str, report: dict) -> None:
        self.stdout.write(f"  {title}: {summary_line(report)}")
        if "real_questions" in report:
            real = report["real_questions"]
            self.stdout.write(
                f"  {title}, real questions only ({real['rows']}): {summary_line(real)}"
            )

    def _on_corpus(self, variants: str, with_cv: bool) -> dict:
        names = [v.strip() for v in variants.split(",") if v.strip()]
        unknown = [n for n in names if n not in VARIANTS]
        if unknown:
            raise CommandError(f"unknown variant(s): {', '.join(unknown)}")
        if any(VARIANTS[n].embeddings for n in names):
            try:
                require_embeddings()
            except EmbeddingsUnavailable as exc:
                raise CommandError(str(exc)) from exc
        rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
        train, test = holdout_split(rows)
        self.stdout.write(f"corpus {len(rows)}: train {len(train)}, held-out {len(test)}")
        result = {
            "corpus_rows": len(rows),
            "train_rows": len(train),
            "test_rows": len(test),
            "variants": {},
        }
        for index, name in enumerate(names, start=1):
            started = time.monotonic()
            self.stdout.write(f"[{index}/{len(names)}] {name}: fitting on the training split...")
            model = fit_model(train, name)
            holdout = evaluate_model(model, test)
            entry = {
                "description": VARIANTS[name].description,
                "thresholds": model.thresholds.__dict__,
                "holdout": holdout,
            }
            self._write_scores("held-out", holdout)
            if with_cv:
                self.stdout.write(
                    "  5-fold cross-validation (thresholds chosen inside each fold)..."
                )
                entry["cross_validation"] = cross_validate(rows, name)
                self._write_scores("5-fold CV", entry["cross_validation"])
            entry["seconds"] = round(time.monotonic() - started, 1)
            result["variants"][name] = entry
        best = names[0]
        self.stdout.write(
            f"\nHeld-out detail for {best}:\n" + full_report(result["variants"][best]["holdout"])
        )
        result["baselines"] = {
            "red_flags_alone_holdout": red_flags_alone(test),
            "patient_category_holdout": patient_category_baseline(test),
        }
        self.stdout.write(
            "\nBaseline, red flags alone (held-out): "
            + summary_line(result["baselines"]["red_flags_alone_holdout"])
        )
        category = result["baselines"]["patient_category_holdout"]
        if category:
            self.stdout.write(
                f"Baseline, patient-chosen category ({category['rows']} held-out rows "
                "with a category): " + summary_line(category)
            )
        second = read_second_pass(settings.TRIAGE_CORPUS_DIR / "agreement")
        if second:
            overrides = read_first_pass_overrides(settings.TRIAGE_CORPUS_DIR / "agreement")
            result["agreement"] = agreement(rows, second, overrides)
            real = [r for r in rows if is_real_question(r)]
            result["agreement_real_questions"] = agreement(real, second, overrides)
            for title, key in (
                ("all", "agreement"),
                ("real questions", "agreement_real_questions"),
            ):
                a = result[key]
                self.stdout.write(
                    f"Agreement with the second labeling pass ({title}, {a['rows']} rows): "
                    + ", ".join(
                        f"{k} kappa {a[k]['kappa']:.3f}"
                        for k in ("acuity", "service_level", "evisit_candidate")
                    )
                )
            reference = annotator_against_annotator(real, second, overrides)
            if reference:
                result["annotator_against_annotator_real_questions"] = reference
                for title, key in (
                    ("second pass scored against the first", "second_against_first"),
                    ("first pass scored against the second", "first_against_second"),
                ):
                    self.stdout.write(
                        f"One annotator against the other, real questions ({title}): "
                        + summary_line(reference[key])
                    )
        return result


def _dumps(report: dict) -> str:
    return json.dumps(report, indent=1, ensure_ascii=False, default=str)
