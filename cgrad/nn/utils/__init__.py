"""cgrad.nn.utils: gradient clipping, packed sequences (rnn), parameters as one vector."""
from . import prune, rnn, stateless
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters

clip_grad_norm = clip_grad_norm_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "prune", "rnn", "stateless",
           "parameters_to_vector",
           "vector_to_parameters"]
