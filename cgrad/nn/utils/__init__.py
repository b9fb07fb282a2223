"""cgrad.nn.utils: gradient clipping, packed sequences (rnn), parameters as one vector,
parametrizations and the hook-based weight_norm / spectral_norm, pruning, functional_call's
older name (stateless)."""
from . import parametrizations, parametrize, prune, rnn, stateless
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm

clip_grad_norm = clip_grad_norm_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "rnn", "parameters_to_vector",
           "vector_to_parameters", "parametrizations", "parametrize", "weight_norm",
           "remove_weight_norm", "spectral_norm", "remove_spectral_norm", "prune", "stateless"]
