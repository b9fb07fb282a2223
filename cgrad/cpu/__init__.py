"""cgrad.cpu: PyTorch's torch.cpu, as far as training scripts use it (its amp names)."""
from . import amp  # noqa: F401


def is_available():
    return True
