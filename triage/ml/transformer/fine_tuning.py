"""Fine-tuning all-MiniLM-L6-v2 end to end as one multi-task triage model, and exporting
it to ONNX for serving. Needs PyTorch (the `train` extra). Pure: no ORM.

Word embeddings stay frozen (the corpus is too small to move 30k word vectors well); the
six layers and the three heads are trained together, acuity, service level and e-visit
losses summed. Messages are batched by length, so a batch pads only to its longest.
Two such fine-tunes from different seeds are averaged weight by weight into the model
that is served.
"""

import copy
import io
import os
import random
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from triage.ml.labels import Acuity, ServiceLevel
from triage.ml.transformer.network import TriageTransformer, base_model_dir, pretrained
from triage.ml.transformer.serving import MAX_TOKENS, SentenceEncoder, TransformerHeads, pad

ACUITY_ORDER = [Acuity.EMERGENT.value, Acuity.URGENT.value, Acuity.ROUTINE.value]
SERVICE_LEVEL_ORDER = [s.value for s in ServiceLevel]


@dataclass(frozen=True)
class FineTuning:
    epochs: int = 3
    # 2e-4: on one fold, real-question urgency ROC AUC 0.733 at 5e-5, 0.770 at 1e-4, 0.788 at
    # 2e-4, 0.747 at 3e-4 (docs/triage.md).
    learning_rate: float = 2e-4
    batch_size: int = 16
    max_tokens: int = MAX_TOKENS
    # Stop after this many optimizer steps (None: every epoch): the suite's one-step check.
    max_steps: int | None = None
    threads: int = 0  # 0: torch's default
    # Rare classes weighted up in the losses (square root of inverse frequency).
    class_weights: bool = True
    # Batches of rows of similar length (less padding, faster) rather than drawn at random.
    length_grouped: bool = True
    # Fine-tunes from seeds seed, seed + 1000, ... averaged weight by weight into one model
    # (a "model soup"): served at the cost of one, trained at the cost of all.
    soup: int = 2
    # Weight of the imitation loss, 1 - cosine(imitated, pretrained embedding), beside
    # the three heads' losses (0: not trained). 10 brought held-out cosines to 0.95 on
    # one fold (docs/triage.md).
    imitation_weight: float = 10.0


@dataclass(frozen=True)
class TrainingText:
    text: str
    acuity: str
    service_level: str
    evisit_candidate: bool


def tokenizer_json(model_dir: Path | None = None) -> str:
    return ((model_dir or base_model_dir()) / "tokenizer.json").read_text(encoding="utf-8")


def _class_weights(labels: list[int], classes: int) -> torch.Tensor:
    """Inverse-frequency weights, square-rooted: rare classes (emergent is 7%) count more
    without letting a handful of rows dominate the loss."""
    counts = np.bincount(labels, minlength=classes).astype(float)
    weights = np.sqrt(counts.sum() / np.maximum(counts, 1.0) / classes)
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


def _batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Rows grouped with others of similar length, then the groups shuffled."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


SOUP_SEED_STEP = 1000


def fine_tune(
    rows: Sequence[TrainingText],
    *,
    seed: int = 0,
    settings: FineTuning | None = None,
    progress: Callable[[int, int], None] | None = None,
    model_dir: Path | None = None,
) -> TriageTransformer:
    """`settings.soup` fine-tunes averaged into one model. `progress(step, total_steps)`
    after each optimizer step, counted over all of them."""
    settings = settings or FineTuning()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    per_model = _total_steps(len(rows), settings)
    fine_tunes = max(1, settings.soup)
    models = []
    for n in range(fine_tunes):
        done = n * per_model

        def tell(step: int, _total: int, done: int = done) -> None:
            if progress:
                progress(done + step, per_model * fine_tunes)

        models.append(
            _fine_tune_one(
                rows,
                seed=seed + n * SOUP_SEED_STEP,
                settings=settings,
                progress=tell,
                model_dir=model_dir,
            )
        )
    return models[0] if len(models) == 1 else average_weights(models)


def average_weights(models: Sequence[TriageTransformer]) -> TriageTransformer:
    """The parameter-by-parameter mean of fine-tunes of the same network. On seed 0's four
    folds, two fine-tunes averaged ranked the real questions' urgency at ROC AUC 0.813,
    against 0.802 and 0.796 for each alone (docs/triage.md)."""
    states = [m.state_dict() for m in models]
    mean = {
        name: torch.stack([s[name] for s in states]).mean(0)
        if value.dtype.is_floating_point
        else value
        for name, value in states[0].items()
    }
    soup = copy.deepcopy(models[0])
    soup.load_state_dict(mean)
    return soup.eval()


def _total_steps(rows: int, settings: FineTuning) -> int:
    total = -(-rows // settings.batch_size) * settings.epochs
    return total if settings.max_steps is None else min(total, settings.max_steps)


def _fine_tune_one(
    rows: Sequence[TrainingText],
    *,
    seed: int,
    settings: FineTuning,
    progress: Callable[[int, int], None],
    model_dir: Path | None,
) -> TriageTransformer:
    rng = random.Random(seed)  # noqa: S311 - batch order, not security
    model = pretrained(model_dir, seed=seed)
    model.word.weight.requires_grad_(False)
    model.train()

    ids = token_ids([r.text for r in rows], settings.max_tokens, model_dir)
    acuity = [ACUITY_ORDER.index(r.acuity) for r in rows]
    level = [SERVICE_LEVEL_ORDER.index(r.service_level) for r in rows]
    evisit = torch.tensor([float(r.evisit_candidate) for r in rows])
    weighted = settings.class_weights
    acuity_loss = torch.nn.CrossEntropyLoss(weight=_class_weights(acuity, 3) if weighted else None)
    level_loss = torch.nn.CrossEntropyLoss(weight=_class_weights(level, 4) if weighted else None)
    positive = max(float(evisit.mean()), 1e-3)
    evisit_loss = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(np.sqrt((1 - positive) / positive)) if weighted else None
    )
    acuity_t, level_t = torch.tensor(acuity), torch.tensor(level)
    # The network is still pretrained MiniLM here: its own embeddings are the targets.
    imitated = torch.from_numpy(unit_embeddings(model, ids)) if settings.imitation_weight else None

    total = _total_steps(len(rows), settings)
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate
    )
    warmup = max(1, total // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
    )
    step = 0
    for _ in range(settings.epochs):
        lengths = [len(i) for i in ids] if settings.length_grouped else [0] * len(ids)
        for batch in _batches(lengths, settings.batch_size, rng):
            if step >= total:
                break
            input_ids, mask = (torch.from_numpy(a) for a in pad([ids[i] for i in batch]))
            pooled = model.encode(input_ids, mask)
            a, s, e = model.heads(pooled)
            loss = (
                acuity_loss(a, acuity_t[batch])
                + level_loss(s, level_t[batch])
                + evisit_loss(e, evisit[batch])
            )
            if imitated is not None:
                closeness = (model.imitated_embedding(pooled) * imitated[batch]).sum(-1)
                loss = loss + settings.imitation_weight * (1.0 - closeness).mean()
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            progress(step, total)
    return model.eval()


def predict(model: TriageTransformer, texts: Sequence[str], max_tokens: int = MAX_TOKENS):
    """The PyTorch model's probabilities, in the serving order (to check the export)."""
    ids = token_ids(texts, max_tokens)
    model.eval()
    with torch.no_grad():
        input_ids, mask = (torch.from_numpy(a) for a in pad(ids))
        a, s, e, imitated = model(input_ids, mask)
    return {
        "acuity": a.numpy(),
        "service_level": s.numpy(),
        "evisit_candidate": e.numpy(),
        "embedding": imitated.numpy(),
    }


def unit_embeddings(model: TriageTransformer, ids: Sequence[list[int]]) -> np.ndarray:
    """The network's mean-pooled embeddings scaled to unit length, in float32, batched by
    length; the model is left in the mode it was in."""
    was_training = model.training
    model.eval()
    out = np.zeros((len(ids), model.imitation.in_features), dtype=np.float32)
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.no_grad():
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            input_ids, mask = (torch.from_numpy(a) for a in pad([ids[i] for i in batch]))
            pooled = model.encode(input_ids, mask)
            out[batch] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    model.train(was_training)
    return out


def pretrained_embeddings(
    texts: Sequence[str], *, max_tokens: int = MAX_TOKENS, model_dir: Path | None = None
) -> np.ndarray:
    """Pretrained MiniLM's unit sentence embeddings of these texts: the neighbours' pool,
    and what the fine-tuned network's imitation output learns to give."""
    return unit_embeddings(pretrained(model_dir), token_ids(texts, max_tokens, model_dir))


def token_ids(
    texts: Sequence[str], max_tokens: int = MAX_TOKENS, model_dir: Path | None = None
) -> list[list[int]]:
    """MiniLM's token ids, truncated, unpadded: batches pad to their own longest."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json(model_dir))
    tokenizer.enable_truncation(max_tokens)
    tokenizer.no_padding()  # the file pads to 128; batches pad to their own longest
    return [e.ids for e in tokenizer.encode_batch(list(texts))]


HEAD_OUTPUTS = ("acuity", "service_level", "evisit_candidate", "embedding")


def export_onnx(model: torch.nn.Module, outputs: Sequence[str] = HEAD_OUTPUTS) -> bytes:
    model.eval()
    example = (torch.ones((2, 8), dtype=torch.int64), torch.ones((2, 8), dtype=torch.int64))
    buffer = io.BytesIO()
    torch.onnx.export(
        model,
        example,
        buffer,
        input_names=["input_ids", "attention_mask"],
        output_names=list(outputs),
        dynamic_axes={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            **{name: {0: "batch"} for name in outputs},
        },
        opset_version=17,
        dynamo=False,
    )
    return buffer.getvalue()


class UnitEmbedding(torch.nn.Module):
    """The encoder's mean-pooled embedding scaled to unit length, so a dot product is the
    cosine similarity."""

    def __init__(self, network: TriageTransformer):
        super().__init__()
        self.network = network

    def forward(self, input_ids, attention_mask):
        pooled = self.network.encode(input_ids, attention_mask)
        return torch.nn.functional.normalize(pooled, dim=-1)


def sentence_encoder(
    *, quantize: bool = True, max_tokens: int = MAX_TOKENS, model_dir: Path | None = None
) -> SentenceEncoder:
    """all-MiniLM-L6-v2 as pretrained (no fine-tuning) as an ONNX graph, for the
    neighbours' vote: its similarities are MiniLM's own sense of "means the same"."""
    graph = export_onnx(UnitEmbedding(pretrained(model_dir).eval()), outputs=["embedding"])
    if quantize:
        graph = quantize_int8(graph)
    return SentenceEncoder(
        onnx_model=graph,
        tokenizer_json=tokenizer_json(model_dir),
        max_tokens=max_tokens,
        quantized=quantize,
    )


def quantize_int8(onnx_model: bytes) -> bytes:
    """Dynamic int8 quantization of the weights (activations stay float)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        source, target = os.path.join(tmp, "model.onnx"), os.path.join(tmp, "int8.onnx")
        Path(source).write_bytes(onnx_model)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return Path(target).read_bytes()


def to_serving(
    model: TriageTransformer, *, quantize: bool = True, max_tokens: int = MAX_TOKENS
) -> TransformerHeads:
    graph = export_onnx(model)
    if quantize:
        graph = quantize_int8(graph)
    return TransformerHeads(
        onnx_model=graph,
        tokenizer_json=tokenizer_json(),
        max_tokens=max_tokens,
        quantized=quantize,
    )
