"""PyTorch's ATen-level functions behind nn's layers, as torch.<name> with its argument orders
(torch.convolution, native_dropout, native_group_norm, grid_sampler, ...): nn.functional's
computations and checks, loaded on first use."""
import numpy as np

from ._dtype import torch_name
from ._memory_format import is_contiguous_as, suggested
from ._settings import require_bool
from .autograd import no_grad
from .autograd.function import renamed
from .nn import functional as F
from .ops import elementwise as E
from .ops import special as SP
from .tensor import Tensor


def _require_int(fn, name, value, position):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be int, not "
                        f"{type(value).__name__}")


def _int_list(fn, name, value, position):
    """value (a list or tuple of ints) as a tuple, or the TypeError of PyTorch's parser"""
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"{fn}(): argument '{name}' (position {position}) must be tuple of "
                        f"ints, not {type(value).__name__}")
    return F._ints(value, fn, name, position)


def convolution(input, weight, bias, stride, padding, dilation, transposed, output_padding,
                groups):
    """F.conv{1,2,3}d, or F.conv_transpose{1,2,3}d if transposed, of batched input with the
    weight's number of dims; stride, padding, dilation and output_padding are lists (one
    value stands for every dim; output_padding is checked, and used only if transposed)"""
    stride, padding, dilation = (_int_list("convolution", name, v, pos) for name, v, pos in
                                 (("stride", stride, 4), ("padding", padding, 5),
                                  ("dilation", dilation, 6)))
    require_bool("convolution", "transposed", transposed, " (position 7)")
    output_padding = _int_list("convolution", "output_padding", output_padding, 8)
    _require_int("convolution", "groups", groups, 9)
    if weight.ndim >= 3 and input.ndim != weight.ndim:
        F._check_conv_shapes(input, weight, bias, groups, transposed)    # (its message)
    dims = weight.ndim - 2 if weight.ndim >= 3 else input.ndim - 2
    if dims > 3:
        raise RuntimeError("unsupported ConvNd parameters")
    return F._convolution(f"conv{min(max(dims, 1), 3)}d", input, weight, bias, stride,
                          padding, dilation, groups, output_padding, transposed)


def native_dropout(input, p, train):
    """(output, mask): input times the bool mask of the elements kept (each with probability
    1 - p), scaled by 1 / (1 - p) (0 if p is 1), as F.dropout; when not training (train None
    is training) a copy of input and a mask of ones"""
    dt = input._data.dtype
    if train is None or train:
        if not 0 <= 1 - p <= 1:               # (PyTorch draws the mask with bernoulli_(1 - p))
            raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={1 - p}")
        if dt.kind != "f":
            raise RuntimeError(f"result type Float can't be cast to the desired output type "
                               f"{torch_name(dt)}")
        scaled = F._contiguous_dropout_mask(input.shape, p, dt)
        mask = scaled != 0 if p < 1 else np.zeros(input.shape, bool)
    else:
        scaled, mask = np.ones(input.shape, dt), np.ones(input.shape, bool)
    return _NativeDropout.apply(input, Tensor._make(scaled)), Tensor._make(mask)


_NativeDropout = renamed("NativeDropout", E.Mul, "NativeDropoutBackward0", E.Mul.__doc__)


def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """(F.group_norm's output of input seen as (N, C, HxW), the mean and 1 / std of each
    sample's groups (N, group)); the statistics outside the graph, as native_layer_norm's"""
    F._check_group_norm(input, C, group, weight, bias)
    for ok, what in ((is_contiguous_as(input._data, suggested(input._data)),
                      "X.is_contiguous(memory_format)"), (input.numel() == N * C * HxW,
                                                          "X.numel() == N * C * HxW")):
        if not ok:
            raise RuntimeError(f"Expected {what} to be true, but got false.  (Could this error "
                               f"message be improved?  If so, please report an enhancement "
                               f"request to PyTorch.)")
    out = F._group_norm(input, N, C, group, weight, bias, eps, HxW)
    with no_grad():
        groups = input.detach().reshape(N, group, -1)
        mean = groups.mean(2)
        rstd = (groups.var(2, unbiased=False) + eps).rsqrt()
    return out, mean, rstd


def native_norm(input, p=2, dim=None, keepdim=False, dtype=None):
    """PyTorch's norm of sparse tensors; its CPU build has no kernel for dense ones (cgrad's
    only kind), so it raises its NotImplementedError"""
    overload = "" if dim is None else ".ScalarOpt_dim_dtype"
    raise NotImplementedError(f"Could not run 'aten::native_norm{overload}' with arguments from "
                              f"the 'CPU' backend. cgrad has no sparse tensors, and PyTorch's "
                              f"native_norm takes sparse ones only.")


def embedding_renorm_(input, indices, max_norm, norm_type):
    """input's rows at indices scaled down in place to norm max_norm where larger (F.embedding's
    max_norm); returns input. PyTorch gives the op no derivative: a backward through the
    renormed tensor raises."""
    if input._records_inplace(()):           # (the leaf error, or a node whose backward raises)
        renormed = input.detach().clone()
        embedding_renorm_(renormed, indices, max_norm, norm_type)
        return input._inplace(SP.Undifferentiable["EmbeddingRenormBackward0"],
                              "embedding_renorm", renormed._data)
    if input.ndim != 2:
        raise RuntimeError(f"Expected 2-dimensional tensor, but got {input.ndim}-dimensional "
                           f"tensor for argument #1 'self' (while checking arguments for "
                           f"embedding_renorm_)")
    idx = indices._data.reshape(-1)
    F._require_indices(idx.dtype, "embedding_renorm_", 2)
    rows = input.shape[0]
    outside = idx[(idx >= rows) | (idx < -rows)]
    if outside.size:
        raise IndexError(f"select(): index {np.sort(outside)[0]} out of range for tensor of size "
                         f"{list(input.shape)} at dimension 0")
    F._embedding_renorm_(input, idx % max(rows, 1), max_norm, norm_type)
    return input


_INTERPOLATION_MODES, _PADDING_MODES = ("bilinear", "nearest", "bicubic"), \
    ("zeros", "border", "reflection")


def _grid_sampler_function(name, dims):
    def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
        _require_int(name, "interpolation_mode", interpolation_mode, 3)
        _require_int(name, "padding_mode", padding_mode, 4)
        require_bool(name, "align_corners", align_corners, " (position 5)")
        # (PyTorch reads a code past these as its enum's, whatever that gives)
        if not 0 <= interpolation_mode < 3 or not 0 <= padding_mode < 3:
            raise RuntimeError(f"{name}(): expected interpolation_mode in 0 (bilinear), 1 "
                               f"(nearest), 2 (bicubic) and padding_mode in 0 (zeros), 1 "
                               f"(border), 2 (reflection), but got {interpolation_mode} and "
                               f"{padding_mode}")
        return F._grid_sampler(input, grid, _INTERPOLATION_MODES[interpolation_mode],
                               _PADDING_MODES[padding_mode], align_corners, dims)
    grid_sampler.__name__ = grid_sampler.__qualname__ = name
    grid_sampler.__doc__ = (f"F.grid_sample with its modes as ints: interpolation_mode 0 "
                            f"bilinear, 1 nearest, 2 bicubic; padding_mode 0 zeros, 1 border, 2 "
                            f"reflection{f'; {dims}-D input and grid only' if dims else ''}")
    return grid_sampler


grid_sampler = _grid_sampler_function("grid_sampler", None)
grid_sampler_2d = _grid_sampler_function("grid_sampler_2d", 4)
grid_sampler_3d = _grid_sampler_function("grid_sampler_3d", 5)


def affine_grid_generator(theta, size, align_corners):
    """F.affine_grid's grid without its checks of theta's dtype and of the size's values"""
    size = _int_list("affine_grid_generator", "size", size, 2)
    require_bool("affine_grid_generator", "align_corners", align_corners, " (position 3)")
    if len(size) not in (4, 5):
        raise RuntimeError("AffineGridGenerator needs 4d (spatial) or 5d (volumetric) inputs.")
    return F._affine_grid_generator(theta, size, align_corners)
