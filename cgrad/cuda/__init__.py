"""cgrad.cuda: what PyTorch code asks before choosing a device. cgrad runs on the CPU only."""


def is_available():
    return False


def device_count():
    return 0


def manual_seed(seed):
    """Nothing to seed: there is no GPU (as PyTorch without CUDA)."""


manual_seed_all = manual_seed


def is_initialized():
    return False


def is_bf16_supported(including_emulation=True):
    return False


def empty_cache():
    """Nothing cached: there is no GPU memory (PyTorch without CUDA does nothing too)"""


def memory_allocated(device=None):
    return 0


max_memory_allocated = memory_reserved = max_memory_reserved = memory_allocated


def reset_peak_memory_stats(device=None):
    """Nothing to reset (no GPU memory)"""


def _no_device(*args, **kwargs):
    raise AssertionError("cgrad was not compiled with CUDA enabled: it runs on the CPU only")


# the calls that need a device raise, as PyTorch's CPU build does (AssertionError)
synchronize = current_device = set_device = get_device_name = get_device_properties = \
    get_device_capability = _no_device


from . import amp  # noqa: E402,F401  (torch.cuda.amp's deprecated GradScaler and autocast)
