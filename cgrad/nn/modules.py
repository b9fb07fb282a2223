"""Layers, activations and containers, PyTorch's nn modules of the same names."""
import collections
import collections.abc
import math
import operator
import warnings

from .. import _dtype
from ..autograd.grad_mode import no_grad
from ..creation import empty, ones, tensor, zeros
from ..tensor import Tensor
from . import functional as F
from . import init
from . import module          # (torch.nn.modules.module.<name>, as PyTorch's package has it)
from .module import Module, _addindent
from .module import (register_module_backward_hook, register_module_buffer_registration_hook,  # noqa: F401
                     register_module_forward_hook, register_module_forward_pre_hook,
                     register_module_full_backward_hook, register_module_full_backward_pre_hook,
                     register_module_module_registration_hook,
                     register_module_parameter_registration_hook)
from .parameter import Parameter, UninitializedBuffer, UninitializedParameter, _UninitializedTensor


# ---- layers -----------------------------------------------------------------------------------
class Identity(Module):
    """y = x (arguments are accepted and ignored, as PyTorch)"""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


def _weight_and_bias(module, shape, bias, dtype, outputs=None):
    """module's weight of shape and bias (outputs,) (shape[0] by default) (or None),
    initialised as PyTorch's Linear and conv layers"""
    dtype = dtype or _dtype.DEFAULT
    module.weight = Parameter(empty(*shape, dtype=dtype))
    outputs = shape[0] if outputs is None else outputs
    module.register_parameter("bias", Parameter(empty(outputs, dtype=dtype)) if bias else None)
    module.reset_parameters()                  # (a lazy module's: none yet)


def _reset_weight_and_bias(module):
    """PyTorch's default init of Linear and conv weights: kaiming-uniform with a = sqrt(5),
    that is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias uniform in the same bounds"""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in, _ = init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        init.uniform_(module.bias, -bound, bound)


class Linear(Module):
    """y = x @ weight^T + bias, weight (out_features, in_features) initialised
    kaiming-uniform (bound 1/sqrt(in_features)), bias uniform in +-1/sqrt(in_features)."""

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in_features), bias, dtype)

    def reset_parameters(self):
        _reset_weight_and_bias(self)

    def forward(self, input):
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class LazyModuleMixin:
    """PyTorch's LazyModuleMixin: a module whose parameters' (and buffers') shapes come from
    its first input. Until then they are UninitializedParameters (UninitializedBuffers); the
    first call runs initialize_parameters(input), which materializes and resets them, and
    makes the module a cls_to_become; a load_state_dict materializes them too."""
    cls_to_become = None

    def has_uninitialized_params(self):
        return any(isinstance(t, _UninitializedTensor) for t in
                   (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs):
        raise NotImplementedError(f"initialize_parameters is not implemented for "
                                  f"{type(self).__name__}")

    def __call__(self, *args, **kwargs):
        if not self.__dict__.get("_lazy_initialized"):   # the first call only, as PyTorch's
            with no_grad():                               # forward pre-hook, removed after
                self.initialize_parameters(*args, **kwargs)
            if self.has_uninitialized_params():
                raise RuntimeError(f"module {self._get_name()} has not been fully initialized")
            self.__dict__["_lazy_initialized"] = True
            if self.cls_to_become is not None:
                self.__class__ = self.cls_to_become     # as PyTorch's: the plain class from now on
        return Module.__call__(self, *args, **kwargs)

    def _load_one(self, name, key, current, value, assign):
        if isinstance(current, _UninitializedTensor) and isinstance(value, Tensor) and \
                not isinstance(value, _UninitializedTensor):
            current.materialize(value.shape)
        return super()._load_one(name, key, current, value, assign)


def _materialize(module, shapes):
    """materialize module's lazy tensors (name -> shape; a name set to None is skipped), then
    reset them"""
    for name, shape in shapes.items():
        if getattr(module, name) is not None:
            getattr(module, name).materialize(shape)
    module.reset_parameters()


class LazyLinear(LazyModuleMixin, Linear):
    """A Linear whose in_features comes from its first input (the last dim)"""
    cls_to_become = Linear

    def __init__(self, out_features, bias=True, device=None, dtype=None):
        super().__init__(0, 0, False, device, dtype)
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_features = out_features
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            self.in_features = input.shape[-1]
            _materialize(self, {"weight": (self.out_features, self.in_features),
                                "bias": (self.out_features,)})


class Flatten(Module):
    """Flattens dims start_dim..end_dim into one (by default all but the batch dim)."""

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    def __init__(self, dim, unflattened_size):
        super().__init__()
        # PyTorch's check; the size is kept as given (its repr prints a list or Size as such)
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError(f"unflattened_size must be a tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        for i, n in enumerate(unflattened_size):
            if not isinstance(n, int):
                raise TypeError(f"unflattened_size must be tuple of ints, but found element "
                                f"of type {type(n).__name__} at pos {i}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input):
        return input.unflatten(self.dim, self.unflattened_size)

    def extra_repr(self):
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Dropout(Module):
    """In training mode, zeroes each element with probability p and scales the rest by
    1 / (1 - p); the identity in eval mode."""

    def __init__(self, p=0.5, inplace=False):
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, input):
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"


class Embedding(Module):
    """A lookup table: y = weight[input], weight (num_embeddings, embedding_dim) initialised
    N(0, 1) with the padding_idx row zeroed (that row gets no gradient)."""

    def __init__(self, num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
                 norm_type=2.0, scale_grad_by_freq=False, sparse=False, _weight=None,
                 _freeze=False, device=None, dtype=None):
        super().__init__()
        if sparse:
            raise NotImplementedError("Embedding(sparse=True): cgrad has no sparse gradients")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = (None if padding_idx is None
                            else F._padding_idx(padding_idx, num_embeddings))
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim,
                                          dtype=dtype or _dtype.DEFAULT),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    def reset_parameters(self):
        init.normal_(self.weight)
        self._fill_padding_idx_with_zero()

    def _fill_padding_idx_with_zero(self):
        # (PyTorch's helper: subclasses that re-initialise the weight call it)
        if self.padding_idx is not None:
            with no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None,
                        norm_type=2.0, scale_grad_by_freq=False, sparse=False):
        """An Embedding whose weight is embeddings (shared, not copied; not re-initialised,
        so the padding_idx row keeps its values), frozen unless freeze=False"""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        return cls(rows, cols, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=embeddings, _freeze=freeze)


class EmbeddingBag(Module):
    """Sums, means or maxes of bags of embeddings (F.embedding_bag): weight (num_embeddings,
    embedding_dim) initialised N(0, 1) with the padding_idx row zeroed."""

    def __init__(self, num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, mode="mean", sparse=False, _weight=None,
                 include_last_offset=False, padding_idx=None, device=None, dtype=None):
        super().__init__()
        if sparse:
            raise NotImplementedError("EmbeddingBag(sparse=True): cgrad has no sparse gradients")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq = scale_grad_by_freq
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise AssertionError("padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(empty(num_embeddings, embedding_dim,
                                          dtype=dtype or _dtype.DEFAULT))
            self.reset_parameters()
        else:
            if list(_weight.shape) != [num_embeddings, embedding_dim]:
                raise AssertionError("Shape of weight does not match num_embeddings and "
                                     "embedding_dim")
            self.weight = Parameter(_weight)
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset

    reset_parameters = Embedding.reset_parameters
    _fill_padding_idx_with_zero = Embedding._fill_padding_idx_with_zero

    def forward(self, input, offsets=None, per_sample_weights=None):
        return F.embedding_bag(input, self.weight, offsets, self.max_norm, self.norm_type,
                               self.scale_grad_by_freq, self.mode, self.sparse,
                               per_sample_weights, self.include_last_offset, self.padding_idx)

    def extra_repr(self):
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.max_norm is not None:
            s += f", max_norm={self.max_norm!r}"
        if self.norm_type != 2:
            s += f", norm_type={self.norm_type!r}"
        if self.scale_grad_by_freq is not False:
            s += f", scale_grad_by_freq={self.scale_grad_by_freq!r}"
        s += f", mode={self.mode!r}"
        if self.padding_idx is not None:
            s += f", padding_idx={self.padding_idx!r}"
        return s

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, mode="mean", sparse=False,
                        include_last_offset=False, padding_idx=None):
        """An EmbeddingBag whose weight is embeddings (shared, not copied; not
        re-initialised), frozen unless freeze=False"""
        if embeddings.dim() != 2:
            raise AssertionError("Embeddings parameter is expected to be 2-dimensional")
        rows, cols = embeddings.shape
        bag = cls(rows, cols, max_norm, norm_type, scale_grad_by_freq, mode, sparse,
                  _weight=embeddings, include_last_offset=include_last_offset,
                  padding_idx=padding_idx)
        bag.weight.requires_grad = not freeze
        return bag


def _affine_parameters(module, shape, affine, bias, dtype):
    """a norm layer's weight (ones) and bias (zeros) of shape, registered as None where not
    affine or without bias"""
    dtype = dtype or _dtype.DEFAULT
    module.register_parameter("weight", Parameter(empty(tuple(shape), dtype=dtype)) if affine
                              else None)
    module.register_parameter("bias", Parameter(empty(tuple(shape), dtype=dtype))
                              if affine and bias else None)
    _reset_affine(module)


def _reset_affine(module):
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class _LastDimsNorm(Module):
    """a norm over the last dims (normalized_shape): its shape, eps and elementwise_affine"""

    def __init__(self, normalized_shape, eps, elementwise_affine):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine


class LayerNorm(_LastDimsNorm):
    """y = (x - mean) / sqrt(var + eps) * weight + bias over the last dims (normalized_shape);
    weight ones and bias zeros of that shape (elementwise_affine, bias)."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__(normalized_shape, eps, elementwise_affine)
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(_LastDimsNorm):
    """y = x / sqrt(mean(x^2) + eps) * weight over the last dims (normalized_shape); weight
    ones of that shape (elementwise_affine); eps None: the dtype's machine epsilon"""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True, device=None,
                 dtype=None):
        super().__init__(normalized_shape, eps, elementwise_affine)
        self.register_parameter("weight", Parameter(empty(tuple(self.normalized_shape),
                                                          dtype=dtype or _dtype.DEFAULT))
                                if elementwise_affine else None)
        self.reset_parameters()

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, x):
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class _NormBase(Module):
    """A per-channel norm's num_features, eps, momentum, weight (ones) and bias (zeros) where
    affine, and where track_running_stats the running_mean, running_var and
    num_batches_tracked buffers, as PyTorch's _NormBase"""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = num_features
        self.eps, self.momentum = eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        _affine_parameters(self, (num_features,), affine, bias, dtype)
        dtype = dtype or _dtype.DEFAULT
        if track_running_stats:
            self.register_buffer("running_mean", zeros(num_features, dtype=dtype))
            self.register_buffer("running_var", ones(num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", tensor(0, dtype=_dtype.int64))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)
        self.reset_parameters()

    _version = 2          # (PyTorch's version 2 added num_batches_tracked)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, *args):
        # a state_dict without versions (a plain dict) or from before version 2 may lack
        # num_batches_tracked: this module keeps its own, as in PyTorch
        key = prefix + "num_batches_tracked"
        if (self.track_running_stats and key not in state_dict
                and local_metadata.get("version", 0) < 2):
            state_dict[key] = self.num_batches_tracked
        super()._load_from_state_dict(state_dict, prefix, local_metadata, *args)

    def reset_running_stats(self):
        if self.track_running_stats:
            with no_grad():
                self.running_mean.zero_()
                self.running_var.fill_(1)
                self.num_batches_tracked.zero_()

    def reset_parameters(self):
        self.reset_running_stats()
        _reset_affine(self)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    """Per-channel normalisation by the batch's statistics (training) or the running ones
    (eval, where tracked); BatchNorm1d, 2d and 3d differ only in the input dims."""

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            with no_grad():
                self.num_batches_tracked.add_(1)
            if self.momentum is None:         # a cumulative average over the batches seen
                factor = 1.0 / float(self.num_batches_tracked)
        use_batch = self.training or (self.running_mean is None and self.running_var is None)
        # the buffers are updated only when tracked, in training
        keep = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if keep else None,
                            self.running_var if keep else None, self.weight, self.bias,
                            use_batch, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) input."""

    def _check_input_dim(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) input."""

    def _check_input_dim(self, input):
        if input.dim() != 4:
            raise ValueError(f"expected 4D input (got {input.dim()}D input)")


class BatchNorm3d(_BatchNorm):
    """Batch norm of (N, C, D, H, W) input."""

    def _check_input_dim(self, input):
        if input.dim() != 5:
            raise ValueError(f"expected 5D input (got {input.dim()}D input)")


class SyncBatchNorm(_BatchNorm):
    """Batch norm of input with at least 2 dims, synchronised across processes in PyTorch.
    cgrad has no process groups, so it normalises as BatchNorm does, as PyTorch's does
    when torch.distributed is not initialised."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None, *,
                 bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)
        self.process_group = process_group

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2D input (got {input.dim()}D input)")
        if input.size(1) == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """Every _BatchNorm in `module` replaced by a SyncBatchNorm sharing its parameters and
        buffers; a _BatchNorm `module` itself comes back as a new SyncBatchNorm."""
        out = module
        if isinstance(module, _BatchNorm):
            out = SyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                                module.track_running_stats, process_group,
                                bias=module.bias is not None)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean, out.running_var = module.running_mean, module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
            if hasattr(module, "qconfig"):
                out.qconfig = module.qconfig
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


class _InstanceNorm(_NormBase):
    """Normalisation of each sample's channels over their spatial dims (F.instance_norm):
    by the running statistics instead in eval mode where track_running_stats; no weight,
    bias or running statistics by default. dims: the spatial dims of the subclass."""
    dims = None

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None, *, bias=True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype, bias=bias)

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        # running statistics from an unversioned state_dict (checkpoints from before
        # PyTorch 0.4 kept them by default): PyTorch's own error, and the keys dropped
        keys = [prefix + name for name in ("running_mean", "running_var")
                if prefix + name in state_dict]
        if "version" not in local_metadata and not self.track_running_stats and keys:
            klass, names = type(self).__name__, " and ".join(f'"{k}"' for k in keys)
            error_msgs.append(
                f"Unexpected running stats buffer(s) {names} "
                f"for {klass} with track_running_stats=False. If state_dict is a checkpoint "
                f"saved before 0.4.0, this may be expected because {klass} does not track "
                f"running stats by default since 0.4.0. Please remove these keys from "
                f"state_dict. If the running stats are actually needed, instead set "
                f"track_running_stats=True in {klass} to enable them. See the documentation "
                f"of {klass} for details.")
            for key in keys:
                state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)

    # PyTorch's hooks, which forward calls (a subclass may override them)
    def _get_no_batch_dim(self):
        return self.dims + 1

    def _check_input_dim(self, input):
        unbatched = self._get_no_batch_dim()
        if input.dim() not in (unbatched, unbatched + 1):
            raise ValueError(f"expected {unbatched}D or {unbatched + 1}D input (got "
                             f"{input.dim()}D input)")

    def _handle_no_batch_input(self, input):
        return self._apply_instance_norm(input.unsqueeze(0)).squeeze(0)

    def _apply_instance_norm(self, input):
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats,
                               self.momentum if self.momentum is not None else 0.0, self.eps)

    def forward(self, input):
        self._check_input_dim(input)
        unbatched = self._get_no_batch_dim()
        feature_dim = input.dim() - unbatched
        if input.size(feature_dim) != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{input.size(feature_dim)}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          "can silence this warning by not passing in num_features, which is "
                          "not used because affine=False", stacklevel=2)
        if input.dim() == unbatched:
            return self._handle_no_batch_input(input)
        return self._apply_instance_norm(input)


class InstanceNorm1d(_InstanceNorm):
    """Instance norm of (N, C, L) or (C, L) input."""
    dims = 1


class InstanceNorm2d(_InstanceNorm):
    """Instance norm of (N, C, H, W) or (C, H, W) input."""
    dims = 2


class InstanceNorm3d(_InstanceNorm):
    """Instance norm of (N, C, D, H, W) or (C, D, H, W) input."""
    dims = 3


class LocalResponseNorm(Module):
    """x / (k + alpha * mean of x^2 over size neighbouring channels)^beta
    (F.local_response_norm)"""

    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self):
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class _LazyNormBase(LazyModuleMixin):
    """_NormBase's lazy form: num_features from the first input's dim 1; affine and
    track_running_stats on by default (the instance norms' too, as PyTorch's)"""

    def __init__(self, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True,
                 device=None, dtype=None, *, bias=True):
        super().__init__(0, eps, momentum, False, False, device, dtype, bias=False)
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(dtype=dtype)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dtype)
            self.running_var = UninitializedBuffer(dtype=dtype)
            self.num_batches_tracked = tensor(0, dtype=_dtype.int64)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input):
        if self.has_uninitialized_params():
            self.num_features = input.shape[1]
            _materialize(self, dict.fromkeys(("weight", "bias", "running_mean", "running_var"),
                                             (self.num_features,)))


class LazyBatchNorm1d(_LazyNormBase, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormBase, BatchNorm2d):
    cls_to_become = BatchNorm2d


class LazyBatchNorm3d(_LazyNormBase, BatchNorm3d):
    cls_to_become = BatchNorm3d


class LazyInstanceNorm1d(_LazyNormBase, InstanceNorm1d):
    cls_to_become = InstanceNorm1d


class LazyInstanceNorm2d(_LazyNormBase, InstanceNorm2d):
    cls_to_become = InstanceNorm2d


class LazyInstanceNorm3d(_LazyNormBase, InstanceNorm3d):
    cls_to_become = InstanceNorm3d


class GroupNorm(Module):
    """y = x normalised within each sample's num_groups groups of channels (F.group_norm),
    then weight (ones) and bias (zeros) per channel where affine."""

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = num_groups, num_channels
        self.eps, self.affine = eps, affine
        _affine_parameters(self, (num_channels,), affine, bias, dtype)

    def reset_parameters(self):
        _reset_affine(self)

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class _ConvNd(Module):
    """a convolution layer's arguments, weight and bias, as PyTorch's _ConvNd: weight
    (out_channels, in_channels / groups, *kernel_size), or (in_channels, out_channels /
    groups, *kernel_size) where transposed; both initialised as Linear's (fan_in =
    weight.shape[1] * the kernel's size). padding_mode other than 'zeros' pads first."""
    dims = function = None           # (spatial dims and F's function: set by each subclass)
    transposed = False

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation, 0,
                    groups, bias, padding_mode, dtype)

    def _setup(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
               output_padding, groups, bias, padding_mode, dtype):
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        n = self.dims
        self.kernel_size, self.stride = F._ntuple(kernel_size, n), F._ntuple(stride, n)
        self.dilation = F._ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 "{'valid', 'same'}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = F._ntuple(padding, n)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError("padding_mode must be one of {'reflect', 'replicate', 'circular', "
                             f"'zeros'}}, but got padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.groups, self.padding_mode = groups, padding_mode
        self.output_padding = F._ntuple(output_padding, n)
        self._set_reversed_padding()
        channels = (in_channels, out_channels // groups) if self.transposed else \
            (out_channels, in_channels // groups)
        _weight_and_bias(self, (*channels, *self.kernel_size), bias, dtype, out_channels)

    def _set_reversed_padding(self):
        # F.pad's form of the padding (last dim's pair first), which PyTorch's _conv_forward
        # pads with for padding_mode other than 'zeros' and subclasses read: a list for a
        # string padding ('same' puts the odd one at the end), else a tuple, as PyTorch's
        if isinstance(self.padding, str):
            pad = F._conv_padding(self.padding, self.kernel_size, self.dilation)
            self._reversed_padding_repeated_twice = list(sum(reversed(pad), ()))
        else:
            self._reversed_padding_repeated_twice = tuple(p for p in reversed(self.padding)
                                                          for _ in range(2))

    def __setstate__(self, state):
        super().__setstate__(state)
        if "_reversed_padding_repeated_twice" not in state:    # pickled by an older cgrad
            self._set_reversed_padding()

    def reset_parameters(self):
        _reset_weight_and_bias(self)

    def forward(self, input):
        # through _conv_forward, as PyTorch's: subclasses (weight standardisation, LoRA) call
        # it with their own weight, or override it
        return self._conv_forward(input, self.weight, self.bias)

    def _conv_forward(self, input, weight, bias):
        if self.padding_mode == "zeros":
            return type(self).function(input, weight, bias, self.stride, self.padding,
                                       self.dilation, self.groups)
        # the other modes pad first, as PyTorch
        return type(self).function(F.pad(input, self._reversed_padding_repeated_twice,
                                         self.padding_mode),
                                   weight, bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self):
        n = self.dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.padding):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-d convolution (cross-correlation) of (N, C, L) input."""
    dims, function = 1, F.conv1d


class Conv2d(_ConvNd):
    """2-d convolution (cross-correlation) of (N, C, H, W) input."""
    dims, function = 2, F.conv2d


class Conv3d(_ConvNd):
    """3-d convolution (cross-correlation) of (N, C, D, H, W) input."""
    dims, function = 3, F.conv3d


class _ConvTransposeNd(_ConvNd):
    """a transposed convolution: the gradient of the convolution with the same arguments in
    its input; forward's output_size picks the output_padding that gives that size"""
    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        Module.__init__(self)
        self._setup(in_channels, out_channels, kernel_size, stride, padding, dilation,
                    output_padding, groups, bias, padding_mode, dtype)

    def _conv_forward(self, input, weight, bias):
        """PyTorch's _ConvNd stub, which its transposed convolutions do not override"""
        return None

    def forward(self, input, output_size=None):
        return type(self).function(input, self.weight, self.bias, self.stride, self.padding,
                                   self._output_padding(input, output_size), self.groups,
                                   self.dilation)

    def _output_padding(self, input, output_size):
        """output_padding, or the one that makes the output output_size (its spatial dims, or
        all of them), with PyTorch's ValueErrors"""
        if output_size is None:
            return self.output_padding
        n = self.dims
        batch_dims = 2 if input.ndim == n + 2 else 1
        if len(output_size) == batch_dims + n:
            output_size = output_size[batch_dims:]
        if len(output_size) != n:
            raise ValueError(f"ConvTranspose{n}D: for {input.ndim}D input, output_size must "
                             f"have {n} or {batch_dims + n} elements (got {len(output_size)})")
        smallest = [(input.shape[batch_dims + d] - 1) * self.stride[d] - 2 * self.padding[d]
                    + self.dilation[d] * (self.kernel_size[d] - 1) + 1 for d in range(n)]
        largest = [s + st - 1 for s, st in zip(smallest, self.stride)]
        if any(not lo <= s <= hi for s, lo, hi in zip(output_size, smallest, largest)):
            raise ValueError(f"requested an output size of {output_size}, but valid sizes range "
                             f"from {smallest} to {largest} (for an input of "
                             f"{input.size()[2:]})")
        return tuple(s - lo for s, lo in zip(output_size, smallest))


class ConvTranspose1d(_ConvTransposeNd):
    """1-d transposed convolution of (N, C, L) input."""
    dims, function = 1, F.conv_transpose1d


class ConvTranspose2d(_ConvTransposeNd):
    """2-d transposed convolution of (N, C, H, W) input."""
    dims, function = 2, F.conv_transpose2d


class ConvTranspose3d(_ConvTransposeNd):
    """3-d transposed convolution of (N, C, D, H, W) input."""
    dims, function = 3, F.conv_transpose3d


class _LazyConvNd(LazyModuleMixin):
    """_ConvNd's lazy form: in_channels from the first input's channel dim"""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None):
        super().__init__(0, 0, kernel_size, stride, padding, dilation, groups, False,
                         padding_mode, device, dtype)
        self._lazy_parameters(out_channels, bias, dtype)

    def _lazy_parameters(self, out_channels, bias, dtype):
        self.weight = UninitializedParameter(dtype=dtype)
        self.out_channels = out_channels
        if bias:
            self.bias = UninitializedParameter(dtype=dtype)

    def reset_parameters(self):
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs):
        if self.has_uninitialized_params():
            n = self.dims + 1
            if input.dim() not in (n, n + 1):
                raise RuntimeError(f"Expected {n}D (unbatched) or {n + 1}D (batched) input to "
                                   f"{type(self).__name__}, but got input of size: "
                                   f"{input.shape}")
            self.in_channels = input.shape[1] if input.dim() == n + 1 else input.shape[0]
            if self.in_channels % self.groups:
                raise ValueError("in_channels must be divisible by groups")
            channels = (self.in_channels, self.out_channels // self.groups) if self.transposed \
                else (self.out_channels, self.in_channels // self.groups)
            _materialize(self, {"weight": (*channels, *self.kernel_size),
                                "bias": (self.out_channels,)})


class _LazyConvTransposeNd(_LazyConvNd):
    """_ConvTransposeNd's lazy form, with its arguments"""

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, output_padding=0,
                 groups=1, bias=True, dilation=1, padding_mode="zeros", device=None,
                 dtype=None):
        _ConvTransposeNd.__init__(self, 0, 0, kernel_size, stride, padding, output_padding,
                                  groups, False, dilation, padding_mode, device, dtype)
        self._lazy_parameters(out_channels, bias, dtype)


class LazyConv1d(_LazyConvNd, Conv1d):
    cls_to_become = Conv1d


class LazyConv2d(_LazyConvNd, Conv2d):
    cls_to_become = Conv2d


class LazyConv3d(_LazyConvNd, Conv3d):
    cls_to_become = Conv3d


class LazyConvTranspose1d(_LazyConvTransposeNd, ConvTranspose1d):
    cls_to_become = ConvTranspose1d


class LazyConvTranspose2d(_LazyConvTransposeNd, ConvTranspose2d):
    cls_to_become = ConvTranspose2d


class LazyConvTranspose3d(_LazyConvTransposeNd, ConvTranspose3d):
    cls_to_become = ConvTranspose3d


class _PoolNd(Module):
    """kernel_size, stride (kernel_size by default), padding and ceil_mode, as given; the
    subclasses set F's function"""
    function = None

    def __init__(self, kernel_size, stride, padding, ceil_mode):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode


class _MaxPoolNd(_PoolNd):
    """The maximum of each kernel_size window (and its flat index, with return_indices)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.dilation, self.return_indices = dilation, return_indices

    def forward(self, input):
        return type(self).function(input, self.kernel_size, self.stride, self.padding,
                                   self.dilation, self.ceil_mode, self.return_indices)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """The maximum of each kernel_size window along the length."""
    function = F.max_pool1d


class MaxPool2d(_MaxPoolNd):
    """The maximum of each kernel_size window over H and W."""
    function = F.max_pool2d


class MaxPool3d(_MaxPoolNd):
    """The maximum of each kernel_size window over D, H and W."""
    function = F.max_pool3d


class _AvgPoolNd(_PoolNd):
    """The mean of each kernel_size window."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, input):
        return type(self).function(input, self.kernel_size, self.stride, self.padding,
                                   self.ceil_mode, self.count_include_pad,
                                   self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool2d(_AvgPoolNd):
    """The mean of each kernel_size window over H and W."""
    function = F.avg_pool2d


class AvgPool3d(_AvgPoolNd):
    """The mean of each kernel_size window over D, H and W."""
    function = F.avg_pool3d


class AvgPool1d(Module):
    """The mean of each kernel_size window along the length; the sizes kept as 1-tuples, as
    PyTorch's."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = F._ntuple(kernel_size, 1)
        self.stride = F._ntuple(stride if stride is not None else kernel_size, 1)
        self.padding = F._ntuple(padding, 1)
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad

    def forward(self, input):
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _LPPoolNd(Module):
    """The p-norm (p = norm_type) of each kernel_size window; the subclasses set F's
    function"""
    function = None

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False):
        super().__init__()
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, input):
        return type(self).function(input, float(self.norm_type), self.kernel_size, self.stride,
                                   self.ceil_mode)

    def extra_repr(self):
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    function = F.lp_pool1d


class LPPool2d(_LPPoolNd):
    function = F.lp_pool2d


class LPPool3d(_LPPoolNd):
    function = F.lp_pool3d


class _FractionalMaxPoolNd(Module):
    """The maximum of each kernel_size window at pseudo-random starts, output_size (or
    output_ratio times the input's size) of them per dim (F.fractional_max_pool2d / 3d);
    _random_samples (a buffer, None by default: drawn at each call) fixes the starts"""
    dims = function = None           # (spatial dims and F's function: set by each subclass)

    def __init__(self, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                 _random_samples=None):
        super().__init__()
        name = type(self).__name__
        if self.dims == 3 and min(F._ntuple(kernel_size, 3)) <= 0:
            raise ValueError(f"kernel_size must be greater than 0, but got {kernel_size}")
        self.kernel_size = F._ntuple(kernel_size, self.dims)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = None if output_size is None else F._ntuple(output_size, self.dims)
        self.output_ratio = None if output_ratio is None else (
            tuple(output_ratio) if hasattr(output_ratio, "__len__")
            else (output_ratio,) * self.dims)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        return type(self).function(input, self.kernel_size, self.output_size, self.output_ratio,
                                   self.return_indices, _random_samples=self._random_samples)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    dims, function = 2, F.fractional_max_pool2d


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    dims, function = 3, F.fractional_max_pool3d


class _AdaptivePoolNd(Module):
    """A pool over output_size bins of (nearly) equal size, whatever the input's size; the
    subclasses set F's function"""
    function = None

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return type(self).function(input, self.output_size)

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Means over output_size bins of (nearly) equal size along the length."""
    function = F.adaptive_avg_pool1d


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Means over output_size bins of (nearly) equal size over H and W."""
    function = F.adaptive_avg_pool2d


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """Means over output_size bins of (nearly) equal size over D, H and W."""
    function = F.adaptive_avg_pool3d


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    """The maximum of each of output_size bins (and its flat index, with return_indices)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return type(self).function(input, self.output_size, self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    function = F.adaptive_max_pool1d


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    function = F.adaptive_max_pool2d


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    function = F.adaptive_max_pool3d


class _MaxUnpoolNd(Module):
    """A max pool's partial inverse: each value put back at its index, zeros elsewhere;
    kernel_size, stride (kernel_size by default) and padding kept as tuples of dims"""
    dims = function = None           # (spatial dims and F's function: set by each subclass)

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = F._ntuple(kernel_size, self.dims)
        self.stride = F._ntuple(stride if stride is not None else kernel_size, self.dims)
        self.padding = F._ntuple(padding, self.dims)

    def forward(self, input, indices, output_size=None):
        return type(self).function(input, indices, self.kernel_size, self.stride, self.padding,
                                   output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    dims, function = 1, F.max_unpool1d


class MaxUnpool2d(_MaxUnpoolNd):
    dims, function = 2, F.max_unpool2d


class MaxUnpool3d(_MaxUnpoolNd):
    dims, function = 3, F.max_unpool3d


class Unfold(Module):
    """The sliding windows of (N, C, H, W) input as columns (N, C * kh * kw, L): F.unfold."""

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, input):
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(Module):
    """Columns (N, C * kh * kw, L) summed back into (N, C, *output_size): F.fold. (A Module,
    not an Unfold, as PyTorch's: code that dispatches on isinstance tells them apart.)"""

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1):
        super().__init__()
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, input):
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self):
        return f"output_size={self.output_size}, {Unfold.extra_repr(self)}"


class _PadNd(Module):
    """F.pad of the last dims by padding (an int for every side, or a tuple as F.pad takes
    it) in mode; the subclasses set mode and the number of dims"""
    mode, dims = "constant", 1

    def __init__(self, padding, value=0.0):
        super().__init__()
        self.padding = (tuple(padding) if isinstance(padding, (tuple, list))
                        else (padding,) * (2 * self.dims))
        if self.mode == "constant":
            self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, self.mode, getattr(self, "value", None))

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}" if self.mode == "constant" \
            else f"{self.padding}"


class ConstantPad1d(_PadNd):
    """Pads the last dim with value."""

    def __init__(self, padding, value):
        super().__init__(padding, value)


class ConstantPad2d(ConstantPad1d):
    """Pads the last 2 dims with value."""
    dims = 2


class ConstantPad3d(ConstantPad1d):
    dims = 3


class ZeroPad2d(_PadNd):
    """Pads the last 2 dims with zeros."""
    dims = 2

    def extra_repr(self):
        return f"{self.padding}"


class ZeroPad1d(ZeroPad2d):
    """Pads the last dim with zeros."""
    dims = 1


class ZeroPad3d(ZeroPad2d):
    dims = 3


class ReflectionPad1d(_PadNd):
    """Pads the last dim with its reflection at the edges (the edges not repeated)."""
    mode = "reflect"


class ReflectionPad2d(ReflectionPad1d):
    dims = 2


class ReflectionPad3d(ReflectionPad1d):
    dims = 3


class ReplicationPad1d(_PadNd):
    """Pads the last dim with copies of its edges."""
    mode = "replicate"


class ReplicationPad2d(ReplicationPad1d):
    dims = 2


class ReplicationPad3d(ReplicationPad1d):
    dims = 3


class CircularPad1d(_PadNd):
    """Pads the last dim with its other end (wrapped around)."""
    mode = "circular"


class CircularPad2d(CircularPad1d):
    dims = 2


class CircularPad3d(CircularPad1d):
    dims = 3


# ---- activations ------------------------------------------------------------------------------
class _InplaceActivation(Module):
    """An activation whose only option is inplace (printed only when True); the subclasses
    set F's function"""
    function = None

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return type(self).function(input, inplace=self.inplace)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class _AlphaActivation(Module):
    """An activation of options alpha and inplace (ELU, CELU); the subclasses set F's
    function"""
    function = None

    def __init__(self, alpha=1.0, inplace=False):
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return type(self).function(input, self.alpha, self.inplace)

    def extra_repr(self):
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class _DimActivation(Module):
    """An activation along dim (Softmax, LogSoftmax, Softmin, GLU); the subclasses set F's
    function"""
    function = None

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self).function(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class ReLU(_InplaceActivation):
    """y = max(x, 0)"""
    function = F.relu


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope * x"""

    def __init__(self, negative_slope=0.01, inplace=False):
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class Tanh(Module):
    """y = tanh(x)"""

    def forward(self, input):
        return input.tanh()


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))"""

    def forward(self, input):
        return input.sigmoid()


class GELU(Module):
    """y = x * Phi(x), or PyTorch's tanh approximation with approximate='tanh'"""

    def __init__(self, approximate="none"):
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(_InplaceActivation):
    """y = x * sigmoid(x)"""
    function = F.silu


class Softplus(Module):
    """y = log(1 + exp(beta * x)) / beta, and x where beta * x > threshold"""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class ELU(_AlphaActivation):
    """y = x if x > 0 else alpha * (exp(x) - 1)"""
    function = F.elu


class LogSigmoid(Module):
    """y = log(sigmoid(x))"""

    def forward(self, input):
        return F.logsigmoid(input)


class Softmax(_DimActivation):
    """y = exp(x) / sum(exp(x)) along dim"""
    function = F.softmax


class LogSoftmax(_DimActivation):
    """y = x - log(sum(exp(x))) along dim"""
    function = F.log_softmax


# ---- containers -------------------------------------------------------------------------------
def _index(idx, n):
    """An integer index into a container of n modules, wrapped, or PyTorch's IndexError."""
    i = operator.index(idx)
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range")
    return i % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: children numbered "0", "1", ... in order."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

    def insert(self, index, module):
        items = list(self._modules.values())
        items.insert(index, module)
        self._renumber(items)
        return self

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def _renumber(self, modules):
        """Register modules as "0".."n-1", as PyTorch does after a deletion or insertion."""
        self._modules.clear()
        for i, m in enumerate(modules):
            self.add_module(str(i), m)


class Sequential(_ModuleSequence):
    """Runs its modules in order, each on the previous one's output. Built from modules
    (named "0", "1", ...) or from an OrderedDict of names to modules."""

    def __init__(self, *args):
        super().__init__()
        if len(args) == 1 and isinstance(args[0], collections.OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(collections.OrderedDict(list(self._modules.items())[idx]))
        keys = list(self._modules)
        return self._modules[keys[_index(idx, len(keys))]]

    def __setitem__(self, idx, module):
        keys = list(self._modules)
        setattr(self, keys[_index(idx, len(keys))], module)

    def __delitem__(self, idx):
        keys = list(self._modules)
        targets = keys[idx] if isinstance(idx, slice) else [keys[_index(idx, len(keys))]]
        for k in targets:
            del self._modules[k]
        self._renumber(list(self._modules.values()))

    def __add__(self, other):
        return Sequential(*self, *_sequential(other))

    def __iadd__(self, other):
        return self.extend(list(_sequential(other)))

    def __mul__(self, other):
        if not isinstance(other, int):
            raise TypeError(f"unsupported operand type(s) for *: {type(self)} and {type(other)}")
        if other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for {type(self)}")
        return Sequential(*(list(self) * other))       # the same modules, repeated

    __rmul__ = __mul__

    def __imul__(self, other):
        result = self * other
        self._renumber(list(result))
        return self


def _sequential(other):
    """other, the operand of Sequential's + or +=, or PyTorch's ValueError"""
    if not isinstance(other, Sequential):
        raise ValueError("add operator supports only objects of Sequential class, but "
                         f"{type(other)} is given.")
    return other


class ModuleList(_ModuleSequence):
    """A list of modules, registered as children "0", "1", ... (no forward of its own)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)(list(self._modules.values())[idx])
        return self._modules[str(_index(idx, len(self)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_index(idx, len(self))), module)

    def __delitem__(self, idx):
        items = list(self._modules.values())
        del items[idx if isinstance(idx, slice) else _index(idx, len(items))]
        self._renumber(items)

    def __iadd__(self, modules):
        return self.extend(modules)

    def __add__(self, other):
        return ModuleList([*self, *other])

    def insert(self, index, module):
        super().insert(index, module)       # PyTorch's ModuleList.insert returns None

    def __repr__(self):
        # PyTorch's compressed form: a run of identical modules prints once, as (0-2): 3 x ...
        reprs = [repr(m) for m in self]
        if not reprs:
            return self._get_name() + "()"
        runs = []
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = []
        for start, end, r in runs:
            text = f"({start}): {r}" if start == end else f"({start}-{end}): {end - start + 1} x {r}"
            lines.append(_addindent(text, 2))
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


class ParameterList(Module):
    """A list of parameters, registered as "0", "1", ... (a plain Tensor given to it becomes
    a Parameter, as in PyTorch)."""

    def __init__(self, values=None):
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return type(self)([self[i] for i in range(self._size)[idx]])
        return getattr(self, str(_index(idx, self._size)))

    def __setitem__(self, idx, param):
        if isinstance(param, Tensor) and not isinstance(param, Parameter):
            param = Parameter(param)
        setattr(self, str(_index(idx, self._size)), param)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(self._size))

    def __iadd__(self, parameters):
        return self.extend(parameters)

    def append(self, value):
        self._size += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        lines = []
        for i, p in enumerate(self):
            if isinstance(p, Tensor):
                kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
                size = "x".join(str(n) for n in p.shape)
                lines.append(f"  ({i}): {kind} containing: [{p.dtype} of size {size}]")
            else:
                lines.append(f"  ({i}): Object of type: {type(p).__name__}")
        return "\n".join(lines)


class ParameterDict(Module):
    """An ordered dict of parameters, registered under their keys (a plain Tensor given to it
    becomes a Parameter; other values are kept as plain attributes, as in PyTorch)"""

    def __init__(self, parameters=None):
        super().__init__()
        self._keys = {}
        if parameters is not None:
            self.update(parameters)

    def _key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not "
                            f"a string (type is '{type(key).__name__}'). Open an issue on github "
                            "if you need non-string keys.")
        return key

    def __getitem__(self, key):
        return getattr(self, self._key(key))

    def __setitem__(self, key, value):
        self._keys[key] = None
        if isinstance(value, Tensor) and not isinstance(value, Parameter):
            value = Parameter(value)
        setattr(self, self._key(key), value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, self._key(key))

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __reversed__(self):
        return reversed(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def __call__(self, input):
        raise RuntimeError("ParameterDict should not be called.")

    def keys(self):
        return self._keys.keys()

    def values(self):
        return (self[k] for k in self._keys)

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def get(self, key, default=None):
        return self[key] if key in self else default

    def setdefault(self, key, default=None):
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key):
        v = self[key]
        del self[key]
        return v

    def popitem(self):
        k = next(reversed(self._keys))
        return k, self.pop(k)

    def clear(self):
        for k in list(self._keys):
            del self[k]

    def copy(self):
        return ParameterDict(collections.OrderedDict(self.items()))

    def fromkeys(self, keys, default=None):
        return ParameterDict((k, default) for k in keys)

    def update(self, parameters):
        """Sets the entries of parameters: a ParameterDict or OrderedDict in its order, another
        mapping in sorted key order, or (key, value) pairs (PyTorch's rules)"""
        if not isinstance(parameters, collections.abc.Iterable):
            raise TypeError("ParametersDict.update should be called with an iterable of "
                            f"key/value pairs, but got {type(parameters).__name__}")
        if isinstance(parameters, (collections.OrderedDict, ParameterDict)):
            items = parameters.items()
        elif isinstance(parameters, collections.abc.Mapping):
            items = sorted(parameters.items())
        else:
            items = []
            for j, p in enumerate(parameters):
                if not isinstance(p, collections.abc.Iterable):
                    raise TypeError(f"ParameterDict update sequence element #{j} should be "
                                    f"Iterable; is{type(p).__name__}")
                if len(p) != 2:
                    raise ValueError(f"ParameterDict update sequence element #{j} has length "
                                     f"{len(p)}; 2 is required")
                items.append(p)
        for k, v in items:
            self[k] = v

    def __or__(self, other):
        result = self.copy()
        result.update(other)
        return result

    def __ror__(self, other):
        result = other.copy()
        result.update(self)
        return result

    def __ior__(self, other):
        self.update(other)
        return self

    def extra_repr(self):
        lines = []
        for k, p in self.items():
            if isinstance(p, Tensor):
                kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
                size = "x".join(str(n) for n in p.shape)
                lines.append(f"  ({k}): {kind} containing: [{p.type()} of size {size}]")
            else:
                lines.append(f"  ({k}): Object of type: {type(p).__name__}")
        return "\n".join(lines)


class ModuleDict(Module):
    """A dict of named child modules."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        del self._modules[key]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules):
        items = modules.items() if hasattr(modules, "items") else modules
        for k, m in items:
            self[k] = m
