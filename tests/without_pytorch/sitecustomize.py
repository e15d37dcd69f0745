"""Put on PYTHONPATH, makes a Python process behave as if PyTorch were not installed:
`import torch` raises ModuleNotFoundError, as on a web or worker machine installed
without the train extra. (A None in sys.modules would not do: libraries that look for
an already-imported torch, such as scipy's array API support, would find it.)"""

import importlib.abc
import sys


class _NoPyTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(
                f"No module named {name!r} (PyTorch is not installed)", name=name
            )
        return None


sys.meta_path.insert(0, _NoPyTorch())
