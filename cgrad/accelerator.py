"""cgrad.accelerator (torch.accelerator): the device-agnostic questions of PyTorch's newer
tutorials, `torch.accelerator.current_accelerator().type if torch.accelerator.is_available()
else "cpu"`. cgrad runs on the CPU only: there is no accelerator, and the calls that need one
raise PyTorch's RuntimeError."""
from ._device import no_accelerator


def is_available():
    return False


def current_accelerator(check_available=False):
    return None


def device_count():
    return 0


def _none(*args, **kwargs):
    raise no_accelerator()


current_device_index = current_device_idx = set_device_index = set_device_idx = \
    current_stream = set_stream = synchronize = empty_cache = empty_host_cache = \
    get_device_capability = get_memory_info = memory_stats = memory_allocated = \
    max_memory_allocated = memory_reserved = max_memory_reserved = \
    reset_accumulated_memory_stats = reset_peak_memory_stats = _none


class device_index:
    """`with device_index(i):` runs its block on accelerator i: None is no device (nothing
    to do), any other index the RuntimeError of no accelerator"""

    def __init__(self, device, /):
        self.idx = device

    def __enter__(self):
        if self.idx is not None:
            _none()

    def __exit__(self, *exc):
        return False
