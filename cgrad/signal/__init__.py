"""cgrad.signal: PyTorch's torch.signal (the window functions of cgrad.signal.windows)"""
from . import windows  # noqa: F401
