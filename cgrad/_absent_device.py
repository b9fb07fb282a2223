"""What the modules of the devices cgrad does not have (torch.cuda, torch.xpu, torch.mps,
torch.mtia) answer: none is available, there is nothing to seed, cache or count, and the calls
that need a device raise, as PyTorch's builds without that device do."""
__all__ = ["is_available", "device_count", "manual_seed", "manual_seed_all", "is_initialized",
           "is_bf16_supported", "empty_cache", "memory_allocated", "max_memory_allocated",
           "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats",
           "OutOfMemoryError"]


class OutOfMemoryError(RuntimeError):
    """torch.OutOfMemoryError (torch.cuda.OutOfMemoryError): a device's allocation failed.
    cgrad never raises it: a CPU allocation that fails is a RuntimeError, as PyTorch's."""
    __module__ = "cgrad"


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Nothing to seed: there is no such device (as PyTorch without it)."""


manual_seed_all = manual_seed


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def empty_cache():
    """Nothing cached: there is no device memory (PyTorch without the device does nothing
    too)"""


def memory_allocated(device=None):
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated


def reset_peak_memory_stats(device=None):
    """Nothing to reset (no device memory)"""


def refuse(where):
    """PyTorch's error for a tensor put on a device other than the CPU or meta: the
    AssertionError of a build without CUDA, XPU or MTIA, else a RuntimeError naming it"""
    from ._device import device
    kind = device(where).type               # (an int, an accelerator's index, raises there)
    if kind in ("cuda", "xpu", "mtia"):
        needing(kind.upper())()             # (x.cuda()'s AssertionError)
    if kind not in ("cpu", "meta"):
        raise RuntimeError(f"cgrad runs on the CPU only, cannot put a tensor on {where!r}")


def needing(name):
    """a stand-in for the calls that need the device called name: PyTorch's AssertionError"""
    def no_device(*args, **kwargs):
        raise AssertionError(f"cgrad was not compiled with {name} enabled: it runs on the CPU "
                             "only")
    return no_device
