"""Versioned triage models: register, activate, and load the active one once per process."""

import hashlib
import io
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import joblib
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Least
from django.utils import timezone

from accounts.configuration import AcrossClinicsCache, configuration_changed
from accounts.models import Clinic
from triage.ml.classifier import DEFAULT_VARIANT, TriageModel
from triage.ml.corpus import corpus_hash, load_corpus, load_training_only_rows
from triage.ml.ensemble import ENSEMBLE_VARIANT, EnsembleModel
from triage.ml.neighbours import DEFAULT_NEIGHBOUR_WEIGHT
from triage.ml.training import fit_model
from triage.models import ModelVersion, ShadowPeriod

logger = logging.getLogger(__name__)


class ModelArtifactCorrupted(RuntimeError):
    pass


class NoActiveModel(LookupError):
    """No model version is active yet (a new installation): the caller routes the message
    as unclassified and asks for the default model to be trained (triage.services)."""


@dataclass(frozen=True)
class LoadedModel:
    version: ModelVersion
    # The TF-IDF model, or the transformer ensemble (same interface): either serves
    # without PyTorch.
    model: TriageModel | EnsembleModel


# Keyed by a version's id and its artifact's sha256, not the id alone: SQLite gives a
# deleted row's id to the next row inserted, so a candidate deleted unused and a new one
# trained after it may share an id, and the id alone would serve the deleted model.
VersionKey = tuple[int, str]

_cache: dict[VersionKey, LoadedModel] = {}
_cache_lock = threading.Lock()
# The candidate in shadow, apart from the active one: loading either must not evict the other.
_shadow_cache: dict[VersionKey, TriageModel | EnsembleModel] = {}


def serialize_model(model: TriageModel | EnsembleModel) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def register_model_version(
    *,
    model: TriageModel | EnsembleModel,
    name: str,
    training_data_hash: str,
    metrics: dict | None = None,
    activate: bool = True,
    replace_active: bool = True,
    artifact: bytes | None = None,
) -> ModelVersion:
    """Store a model version, active unless `activate` is false. With `replace_active`
    false it becomes active only if no version is active when it is stored (the cold
    start's training must not replace a model promoted while it was fitting); otherwise
    it is stored inactive, for staff to promote."""
    artifact = artifact if artifact is not None else serialize_model(model)
    fields = {
        "name": name,
        "artifact": artifact,
        "sha256": hashlib.sha256(artifact).hexdigest(),
        "training_data_hash": training_data_hash,
        "metrics": metrics or {},
    }
    with transaction.atomic():
        if activate and not replace_active:
            # The one-active constraint is the gate: no lock can cover a row not there yet.
            try:
                with transaction.atomic():
                    return ModelVersion.objects.create(**fields, is_active=True)
            except IntegrityError:
                logger.info("a model version is already active; %s is stored inactive", name)
                return ModelVersion.objects.create(**fields, is_active=False)
        if activate:
            # Lock the active row so two promotions cannot both clear and set the flag.
            ModelVersion.objects.select_for_update().filter(is_active=True).update(is_active=False)
        return ModelVersion.objects.create(**fields, is_active=activate)


def train_default_model_version(*, progress=None, replace_active: bool = True) -> ModelVersion:
    """Fit the default variant on the repository corpus and make it the active model
    (with `replace_active` false, only if none is active by then: register_model_version).
    `progress(step, total, what)` is told of each step (the demo's progress bar)."""
    tell = progress or (lambda step, total, what: None)
    tell(0, 3, "reading the corpus")
    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    data_hash = corpus_hash(rows)
    tell(1, 3, f"fitting {DEFAULT_VARIANT} on {len(rows)} messages")
    model = fit_model(rows, DEFAULT_VARIANT)
    tell(2, 3, "storing the model version")
    version = register_model_version(
        model=model,
        name=f"triage-{DEFAULT_VARIANT}-{data_hash[:10]}",
        training_data_hash=data_hash,
        metrics={
            "variant": DEFAULT_VARIANT,
            "training_rows": len(rows),
            "thresholds": model.thresholds.__dict__,
        },
        replace_active=replace_active,
    )
    tell(3, 3, "done")
    return version


def train_ensemble_model_version(
    *,
    folds: int = 4,
    seed: int = 0,
    quantize: bool = True,
    activate: bool = False,
    transformer_out_of_fold=None,
    imitation_out_of_fold=None,
    neighbour_weight: float = DEFAULT_NEIGHBOUR_WEIGHT,
    progress=None,
) -> ModelVersion:
    """Fit the transformer ensemble (triage/ml/ensemble.py) on the repository corpus and
    store it, inactive unless `activate`: its out-of-fold figures are in its metrics for
    a superuser to read before promoting it. Needs PyTorch (the `train` extra); takes
    tens of minutes on two cores, so it runs on the slow queue or from the command line."""
    from triage.ml.ensemble import fit_ensemble

    rows = load_corpus(settings.TRIAGE_CORPUS_DIR)
    training_only = load_training_only_rows(settings.TRIAGE_CORPUS_DIR)
    # The written questions shape the model too, so they are part of what it was fit on.
    data_hash = corpus_hash([*rows, *training_only])
    fit = fit_ensemble(
        rows,
        k=folds,
        seed=seed,
        quantize=quantize,
        transformer_out_of_fold=transformer_out_of_fold,
        imitation_out_of_fold=imitation_out_of_fold,
        training_only=training_only,
        neighbour_weight=neighbour_weight,
        progress=progress,
    )
    model = fit.model
    return register_model_version(
        model=model,
        name=f"triage-{ENSEMBLE_VARIANT}-{data_hash[:10]}",
        training_data_hash=data_hash,
        metrics={
            "variant": ENSEMBLE_VARIANT,
            "training_rows": len(rows),
            "training_only_rows": len(training_only),
            "folds": folds,
            "seed": seed,
            "quantized": quantize,
            "weights": model.weights,
            "neighbour_weight": model.neighbours.weight if model.neighbours else 0.0,
            "neighbour_pool": len(model.neighbours.pool.embeddings) if model.neighbours else 0,
            "thresholds": model.thresholds.__dict__,
            "tfidf_thresholds": model.tfidf.thresholds.__dict__,
            "out_of_fold": fit.out_of_fold,
        },
        activate=activate,
    )


def _load(version: ModelVersion) -> TriageModel | EnsembleModel:
    artifact = bytes(version.artifact)
    if hashlib.sha256(artifact).hexdigest() != version.sha256:
        raise ModelArtifactCorrupted(f"model version {version.pk} does not match its sha256")
    return joblib.load(io.BytesIO(artifact))


def fast_path(model: TriageModel | EnsembleModel) -> TriageModel:
    """The TF-IDF model of a version (an ensemble's own, with its own out-of-fold
    thresholds): classify_messages --fast, and a fallback that needs no ONNX graph."""
    return model.tfidf if isinstance(model, EnsembleModel) else model


def _active_model_key() -> VersionKey | None:
    return ModelVersion.objects.filter(is_active=True).values_list("id", "sha256").first()


# Which version is active, kept between messages while their clinics' configuration
# versions say no model was registered or activated since (accounts.configuration).
_active_key = AcrossClinicsCache(_active_model_key)


def active_model(*, clinics: Iterable[Clinic] = ()) -> LoadedModel:
    """The active model, loaded once per process. Which version is active is looked up
    (one indexed query) unless the clinics of the messages at hand were all seen, at
    their current configuration version, when it was last looked up: a promotion gives
    every clinic a new version, so it is picked up by the next message. Never trains:
    that takes minutes, and this runs inside a message's row-locked transaction."""
    clinics = list(clinics)
    active_key = _active_key.get(clinics) if clinics else _active_model_key()
    if active_key is None:
        raise NoActiveModel("no active triage model")
    with _cache_lock:
        loaded = _cache.get(active_key)
        if loaded is None:
            version = ModelVersion.objects.get(pk=active_key[0])
            loaded = LoadedModel(version=version, model=_load(version))
            _cache.clear()
            _cache[(version.pk, version.sha256)] = loaded
        return loaded


def forget_active_model() -> None:
    _active_key.clear()


def shadow_model(version: ModelVersion) -> TriageModel | EnsembleModel:
    """A candidate in shadow, loaded once per process (one at a time)."""
    with _cache_lock:
        model = _shadow_cache.get((version.pk, version.sha256))
        if model is None:
            stored = ModelVersion.objects.get(pk=version.pk)
            model = _load(stored)
            _shadow_cache.clear()
            _shadow_cache[(stored.pk, stored.sha256)] = model
        return model


def activate_model_version(*, version_id: int) -> ModelVersion:
    """Make a registered version the active one (a promotion, or a roll-back to an older
    one). Its artifact is loaded and checked first, so a version that cannot classify
    never becomes active; workers pick it up at their next message. A shadow period of
    the version ends: it cannot sit beside itself."""
    version = ModelVersion.objects.get(pk=version_id)
    _load(version)  # raises ModelArtifactCorrupted, or what joblib raises
    with transaction.atomic():
        ModelVersion.objects.select_for_update().filter(is_active=True).update(is_active=False)
        ModelVersion.objects.filter(pk=version_id).update(is_active=True)
        configuration_changed(clinic_id=None)
        # An expired period keeps its own end.
        ShadowPeriod.objects.filter(model_version_id=version_id, is_open=True).update(
            is_open=False, ended_at=Least(F("ends_at"), Value(timezone.now()))
        )
    version.is_active = True
    return version
