"""The fine-tuned transformer variant of the triage model (all-MiniLM-L6-v2, one encoder
and three heads). Pure: no ORM.

`serving` needs only onnxruntime and tokenizers, so web and worker processes never import
PyTorch; `network` and `fine_tuning` need PyTorch, installed only with the `train` extra.
"""
