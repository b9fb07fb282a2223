"""cgrad.nn.utils: gradient clipping, packed sequences (rnn)."""
from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_

clip_grad_norm = clip_grad_norm_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "rnn"]
