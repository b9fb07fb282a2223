"""cgrad.nn.parallel: PyTorch's torch.nn.parallel as it behaves on a machine without an
accelerator. DataParallel then keeps no devices and calls its module directly; functions that
need a device, and DistributedDataParallel without a process group, raise PyTorch's errors."""
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


def _no_process_group():
    raise ValueError("Default process group has not been initialized, please make sure to "
                     "call init_process_group.")


class DistributedDataParallel(Module):
    """cgrad has no process groups (torch.distributed.init_process_group), so constructing one
    raises PyTorch's error for an uninitialized default group."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, **kwargs):
        super().__init__()
        _no_process_group()


class DistributedDataParallelCPU(DistributedDataParallel):
    def __init__(self, *args, **kwargs):
        warnings.warn("`torch.nn.parallel.DistributedDataParallelCPU` is deprecated, please use "
                      "`torch.nn.parallel.DistributedDataParallel` instead.", FutureWarning,
                      stacklevel=2)
        super().__init__(*args, **kwargs)
