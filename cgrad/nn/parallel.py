"""cgrad.nn.parallel: PyTorch's torch.nn.parallel as it behaves on a machine without an
accelerator. DataParallel then keeps no devices and calls its module directly; functions that
need a device, and DistributedDataParallel without a process group, raise PyTorch's errors."""
import contextlib
import warnings

from ..autograd.profiler import record_function
from .module import Module

__all__ = ["data_parallel", "DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Wraps `module` (its state_dict keys then start with "module."). With no accelerator
    PyTorch ignores device_ids, output_device and dim and sets device_ids = []."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []

    def forward(self, *inputs, **kwargs):
        with record_function("DataParallel.forward"):    # (what PyTorch's profiler shows)
            return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0,
                  module_kwargs=None):
    """PyTorch's functional DataParallel: it needs an accelerator device type."""
    raise RuntimeError("device type could not be determined")


class DistributedDataParallel(Module):
    """Wraps `module` for the default process group (its state_dict keys then start with
    "module."). cgrad's group is one process, whose gradients need no averaging with others:
    the module is called directly. Without a group, PyTorch's error."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        from .. import distributed
        super().__init__()
        self.process_group = distributed._group(process_group)
        self.module = module
        self.device_ids = None if device_ids is None else list(device_ids)

    def forward(self, *inputs, **kwargs):
        with record_function("DistributedDataParallel.forward"):
            return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """gradients accumulate locally in its block (here they always do)"""
        yield


class DistributedDataParallelCPU(DistributedDataParallel):
    def __init__(self, *args, **kwargs):
        warnings.warn("`torch.nn.parallel.DistributedDataParallelCPU` is deprecated, please use "
                      "`torch.nn.parallel.DistributedDataParallel` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__(*args, **kwargs)
