"""cgrad: a small, fast CPU autograd library with PyTorch's API.

    import cgrad as torch
    w = torch.tensor(4., requires_grad=True)
    y = w * 3 + 5
    y.backward()            # w.grad == tensor(3.)
"""
import warnings as _warnings

from . import _dtype
from ._dtype import dtype
from ._device import device
from ._dtype import float16, float32, float64, int8, int16, int32, int64, uint8
from ._dtype import bool_ as bool  # noqa: A001  (PyTorch's name)
from .backends import get_backend, set_backend
from .tensor import Tensor, Size
from . import autograd
from .autograd import (enable_grad, inference_mode, is_grad_enabled,
                       is_inference_mode_enabled, no_grad, set_grad_enabled)
from ._format import get_printoptions, set_printoptions
from .random import Generator, manual_seed, seed, initial_seed, default_generator
from .creation import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like,
                       linspace, normal, ones, ones_like, rand, rand_like, randint, randn,
                       randn_like, randperm, tensor, zeros, zeros_like, poisson, binomial,
                       empty_permuted)
from ._functions import *  # noqa: F401,F403
from ._functions import (addmm, allclose, bmm, cat, matmul, maximum, minimum, mm,  # noqa: F401
                         mv, outer, stack, where, _weight_norm)
from ._threads import (get_num_interop_threads, get_num_threads, set_num_interop_threads,
                       set_num_threads)
from . import linalg
from ._matfuncs import (cdist, cholesky, cholesky_inverse, cholesky_solve, cross, det,  # noqa: F401
                        geqrf, inner, inverse, kron, logdet, matrix_exp, matrix_power, orgqr,
                        ormqr,
                        pdist, pinverse, slogdet, svd, tensordot, vdot)
from ._matfuncs import (eig, lstsq, lu, lu_solve, lu_unpack, matrix_rank, qr,  # noqa: F401
                        solve, symeig, triangular_solve)
# dtypes' limits and rules, the random state, the default device, more creation functions
from ._dtype import finfo, iinfo
from ._device import get_default_device, set_default_device
from .random import get_rng_state, set_rng_state
from .creation import asarray, empty_strided, frombuffer, scalar_tensor
from .creation import torch_range as range  # noqa: A001  (PyTorch's name)
from ._settings import (are_deterministic_algorithms_enabled, compile,  # noqa: A004
                        get_deterministic_debug_mode, get_float32_matmul_precision,
                        is_deterministic_algorithms_warn_only_enabled,
                        set_deterministic_debug_mode, set_float32_matmul_precision,
                        use_deterministic_algorithms)
from ._legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor,  # noqa: F401,E402
                      FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor, layout, strided,
                      bartlett_window, blackman_window, hamming_window, hann_window,
                      kaiser_window)
from .storage import (BoolStorage, ByteStorage, CharStorage, DoubleStorage,  # noqa: E402
                      FloatStorage, HalfStorage, IntStorage, LongStorage, ShortStorage,
                      Storage, TypedStorage, UntypedStorage, from_file, is_storage)
from ._misc import (adaptive_max_pool1d, batch_norm, chain_matmul, embedding,  # noqa: E402
                    get_device, get_device_module, instance_norm, is_anomaly_enabled,
                    is_anomaly_check_nan_enabled, is_complex,
                    is_warn_always_enabled, randint_like, set_anomaly_enabled,
                    set_warn_always, typename)
from ._misc import (binary_cross_entropy_with_logits, constant_pad_nd,  # noqa: E402
                    cosine_embedding_loss, ctc_loss, frobenius_norm, hinge_embedding_loss,
                    kl_div, margin_ranking_loss, max_pool1d_with_indices, native_layer_norm,
                    nuclear_norm, poisson_nll_loss, triplet_margin_loss)
from ._misc import (complex, imag, is_conj, is_neg, polar, real, view_as_complex,  # noqa: E402,A004
                    view_as_real)
from ._misc import init_num_threads, set_default_tensor_type, set_flush_denormal  # noqa: E402
from ._misc import embedding_bag, native_batch_norm  # noqa: E402
from ._misc import cond, while_loop  # noqa: E402
from ._misc import (alpha_dropout_, dropout_, feature_alpha_dropout_, feature_dropout,  # noqa: E402
                    feature_dropout_, sym_float, sym_int, sym_ite, sym_max, sym_min, sym_not,
                    sym_sqrt, sym_sum)
from ._memory_format import (channels_last, channels_last_3d,  # noqa: E402
                             contiguous_format, legacy_contiguous_format, memory_format,
                             preserve_format)
from ._absent_device import OutOfMemoryError  # noqa: E402,F401


class AcceleratorError(RuntimeError):
    """torch.AcceleratorError: an accelerator's runtime failed (never raised by cgrad, which
    runs on the CPU)"""


# what this build has, as torch.has_*: LAPACK (SciPy's) and OpenMP (the kernels'), no MKL,
# no FFT (cgrad has no complex dtypes)
has_lapack, has_openmp, has_mkl, has_spectral = True, True, False, False
from . import _memory

_memory.install()

# PyTorch gives inf and nan silently (1 / 0, log(0), overflow); NumPy warns. Its warnings are
# ignored where cgrad's own modules run the ufunc: free when nothing warns, where an errstate
# around each small op would cost ~1.5 us. The user's own NumPy calls still warn.
_warnings.filterwarnings("ignore", r"(divide by zero|invalid value|overflow|underflow) "
                         r"encountered", RuntimeWarning, r"cgrad\.")

float = float32   # noqa: A001
double = float64
half = float16
long = int64
int = int32       # noqa: A001
short = int16
uint8 = uint8

from .version import __version__  # noqa: E402

import math as _math  # noqa: E402

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan
newaxis = None


def get_default_dtype():
    return _dtype.DEFAULT


def set_default_dtype(d):
    """The dtype of tensors made from Python floats and of integers made floats (float32
    unless set; float64 or float16)"""
    if not isinstance(d, _dtype.dtype):
        raise TypeError("invalid dtype object: only floating-point types are supported as the "
                        "default type")
    if d not in (float32, float64, float16):
        raise TypeError("only floating-point types are supported as the default type")
    _dtype.DEFAULT = d


def _lazy(name):
    import importlib
    return importlib.import_module(f"cgrad.{name}")


# PyTorch's top-level forms of these nn.functional functions (cgrad.selu(x) is F.selu(x))
_FROM_NN_FUNCTIONAL = ("selu", "selu_", "celu", "celu_", "rrelu", "rrelu_", "threshold",
                       "threshold_", "bilinear", "pixel_shuffle", "pixel_unshuffle",
                       "channel_shuffle", "pdist", "pairwise_distance", "cosine_similarity",
                       "alpha_dropout", "feature_alpha_dropout", "conv1d", "conv2d", "conv3d",
                       "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "max_pool1d",
                       "max_pool2d", "max_pool3d", "avg_pool1d", "adaptive_avg_pool1d",
                       "dropout", "layer_norm", "group_norm", "rms_norm", "conv_tbc",
                       "native_channel_shuffle")
# (and in _misc, where torch.<name> orders its arguments unlike F.<name>: embedding,
# batch_norm, instance_norm, adaptive_max_pool1d)


# the ATen-level functions behind nn's layers, from cgrad._nn_aten
_NN_ATEN = ("convolution", "native_dropout", "native_group_norm", "native_norm",
            "embedding_renorm_", "grid_sampler", "grid_sampler_2d", "grid_sampler_3d",
            "affine_grid_generator")


# torch.autocast and the autocast state, from cgrad.amp
_FROM_AMP = ("autocast", "is_autocast_enabled", "set_autocast_enabled", "get_autocast_dtype",
             "set_autocast_dtype", "is_autocast_cache_enabled", "set_autocast_cache_enabled",
             "autocast_increment_nesting", "autocast_decrement_nesting", "clear_autocast_cache",
             "is_autocast_cpu_enabled", "get_autocast_cpu_dtype", "get_autocast_gpu_dtype")


def __getattr__(name):
    # nn, optim, utils, special, distributions, testing, func, amp, profiler, jit, serialization,
    # compiler and save/load load on first use, so `import cgrad` stays light
    if name in ("nn", "optim", "utils", "cuda", "cpu", "special", "distributions", "testing",
                "func", "amp", "multiprocessing", "profiler", "jit", "serialization",
                "compiler", "accelerator", "xpu", "mps", "mtia", "distributed", "quasirandom",
                "signal", "library", "return_types", "types"):
        return _lazy(name)
    if name == "vmap":                        # torch.vmap, torch.func.vmap's older name
        return _lazy("func").vmap
    if name in _FROM_AMP:
        return getattr(_lazy("amp.autocast_mode"), name)
    if name in ("svd_lowrank", "pca_lowrank"):
        return getattr(_lazy("_lowrank"), name)
    if name == "lobpcg":
        return _lazy("_lobpcg").lobpcg
    if name in ("lstm_cell", "gru_cell", "rnn_tanh_cell", "rnn_relu_cell", "lstm", "gru",
                "rnn_tanh", "rnn_relu"):
        return getattr(_lazy("nn.rnn"), name)
    if name == "Tag":                         # (torch.Tag, for custom operators' tags)
        return _lazy("library").Tag
    if name == "GradScaler":
        return _lazy("amp").GradScaler
    if name in ("from_dlpack", "to_dlpack"):
        return getattr(_lazy("utils.dlpack"), name)
    if name in ("save", "load"):
        return getattr(_lazy("serialization"), name)
    if name in _NN_ATEN:
        return getattr(_lazy("_nn_aten"), name)
    if name in _FROM_NN_FUNCTIONAL:
        return getattr(_lazy("nn.functional"), name)
    raise AttributeError(f"module 'cgrad' has no attribute {name!r}")
