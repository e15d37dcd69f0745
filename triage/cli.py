"""Command-line helpers shared by the management commands that need a model."""

import sys

from tqdm import tqdm

from triage.model_registry import train_default_model_version
from triage.models import ModelVersion


def ensure_active_model(*, stream=None) -> ModelVersion:
    """The active model version; with none, train the default one from the repository
    corpus first, with a progress bar (a command may take minutes, a worker may not)."""
    active = ModelVersion.objects.filter(is_active=True).first()
    if active is not None:
        return active
    stream = stream or sys.stderr
    stream.write("No active triage model: training the default one from the repository corpus...\n")
    with tqdm(total=3, file=stream, desc="training", unit="step") as bar:

        def progress(step: int, total: int, what: str) -> None:
            bar.set_postfix_str(what)
            bar.n = step
            bar.refresh()

        return train_default_model_version(progress=progress)
