"""cgrad.nn.utils: gradient clipping, packed sequences (rnn), parameters as one vector,
parametrizations and the hook-based weight_norm / spectral_norm, pruning, functional_call's
older name (stateless), conv/linear + batch norm fusion, skip_init, convolution weights
memory formats."""
from . import parametrizations, parametrize, prune, rnn, stateless
from .clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                        get_total_norm)
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .spectral_norm import remove_spectral_norm, spectral_norm
from .weight_norm import remove_weight_norm, weight_norm
from .fusion import (fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval,
                     fuse_linear_bn_weights)
from .init import skip_init
from .memory_format import (convert_conv2d_weight_memory_format,
                            convert_conv3d_weight_memory_format)

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "rnn", "parameters_to_vector",
           "vector_to_parameters", "parametrizations", "parametrize", "weight_norm",
           "remove_weight_norm", "spectral_norm", "remove_spectral_norm", "prune", "stateless",
           "clip_grads_with_norm_", "get_total_norm", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "skip_init",
           "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]
