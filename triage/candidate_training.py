"""Training a candidate model on the corpus plus the reviewed corrections from staff (the
admin's "train a candidate", run on the slow queue). The candidate is stored inactive with
its figures, to be put in shadow and promoted by a superuser."""

from collections.abc import Callable

from django.conf import settings

from triage.ml.classifier import DEFAULT_VARIANT
from triage.ml.corpus import corpus_hash, load_corpus
from triage.ml.evaluation import evaluate_model, holdout_split
from triage.ml.retraining import (
    Correction,
    corrected_rows,
    corrections_report,
    recall_by_language,
    split_corrected,
    with_corrections,
    without_replaced,
)
from triage.ml.training import fit_model
from triage.model_registry import register_model_version
from triage.models import Classification, ModelVersion
from triage.selectors import corrections_for_training

Progress = Callable[[int, int, str], None]
STEPS = 5


def reviewed_corrections() -> list[Correction]:
    """The corrections a model may learn from (confirmed or accepted), with their
    message's text and what the model said of it."""
    rows = corrections_for_training().select_related(
        "message__classification", "message__conversation__patient"
    )
    corrections = []
    for c in rows:
        try:
            classification = c.message.classification
        except Classification.DoesNotExist:
            classification = None
        classified_as = (
            {
                "acuity": classification.acuity,
                "service_level": classification.service_level,
                "evisit_candidate": classification.evisit_candidate,
            }
            if classification is not None and not classification.unclassified
            else None
        )
        patient = c.message.conversation.patient
        corrections.append(
            Correction(
                id=c.pk,
                message_id=c.message_id,
                subject=c.message.subject,
                body=c.message.body,
                label=c.label,
                to_value=c.to_value,
                classified_as=classified_as,
                on_chemotherapy=patient.on_chemotherapy,
                language=patient.preferred_language,
            )
        )
    return corrections


def train_candidate_model_version(*, progress: Progress | None = None) -> ModelVersion:
    """Fit the default variant on the corpus plus reviewed corrections and store it
    inactive. Its figures: the corpus hold-out (a fit on the hold-out's training part
    plus the trained-on corrections, as train_triage_model measures the active one), the
    recall per language on that hold-out ("fairness"), and the corrections kept back."""
    tell = progress or (lambda step, total, what: None)
    tell(0, STEPS, "reading the corpus and the reviewed corrections")
    corpus = load_corpus(settings.TRIAGE_CORPUS_DIR)
    corrected, skipped = corrected_rows(reviewed_corrections(), corpus)
    trained_on, held_out = split_corrected(corrected)
    # The split of the whole corpus, as for every version's held-out figures; a corpus
    # row a correction stands for leaves both sides.
    corpus_train, corpus_test = holdout_split(corpus)
    corpus_train = without_replaced(corpus_train, corrected)
    corpus_test = without_replaced(corpus_test, corrected)

    holdout_rows = with_corrections(corpus_train, trained_on)
    tell(1, STEPS, f"held-out check: fitting on {len(holdout_rows)} messages")
    holdout_model = fit_model(holdout_rows, DEFAULT_VARIANT)
    tell(2, STEPS, f"scoring {len(corpus_test)} held-out corpus messages")
    holdout = evaluate_model(holdout_model, corpus_test)
    holdout.pop("errors")
    fairness = recall_by_language(holdout_model, corpus_test)

    rows = with_corrections(without_replaced(corpus, corrected), trained_on)
    tell(3, STEPS, f"fitting {DEFAULT_VARIANT} on {len(rows)} messages")
    model = fit_model(rows, DEFAULT_VARIANT)
    tell(4, STEPS, f"scoring {len(held_out)} corrected messages kept back; storing")
    data_hash = corpus_hash(rows)  # the corrected rows' ids name their messages
    version = register_model_version(
        model=model,
        name=f"triage-candidate-{data_hash[:10]}",
        training_data_hash=data_hash,
        metrics={
            "variant": DEFAULT_VARIANT,
            "candidate": True,
            "training_rows": len(rows),
            "corrections": {
                "trained_on": len(trained_on),
                "held_out": len(held_out),
                "left_out": skipped,
                "held_out_report": corrections_report(model, held_out),
            },
            "holdout": holdout,
            "fairness": {"on": "corpus hold-out", "by_language": fairness},
            "thresholds": model.thresholds.__dict__,
        },
        activate=False,
    )
    tell(STEPS, STEPS, "done")
    return version
