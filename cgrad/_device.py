"""cgrad.device: PyTorch's device objects, for code that names one. cgrad runs on the CPU, so
a device is the string "cpu" (code comparing with or passing "cpu" keeps working); a CUDA or
other device can be named, and moving a tensor or module to it raises."""
import operator
import re

# PyTorch's device types, in the order its error lists them
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone")
_DEVICE_STRING = re.compile(r"([a-zA-Z_]+)(?::([1-9][0-9]*|0))?")      # PyTorch's parse


def _signature_error(got):
    return TypeError(f"device() received an invalid combination of arguments - got ({got}), "
                     "but expected one of:\n * (torch.device device)\n"
                     " * (str type, int index = -1)")


def _is_index(v):
    """an int-like (int, NumPy integer) but not a bool, as PyTorch's parser takes an index"""
    return not isinstance(v, bool) and hasattr(v, "__index__")


def no_accelerator():
    return RuntimeError("Cannot access accelerator device when none is available.")


builtins_type = type            # (device's first argument is named type, as PyTorch's)
_MISSING = object()


class device(str):
    def __new__(cls, type=_MISSING, index=None):
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): argument 'type' (position 1) must be str, not "
                                "torch.device")
            return type
        if not isinstance(type, str):
            if type is _MISSING:
                raise _signature_error("")
            if not _is_index(type):
                raise _signature_error(builtins_type(type).__name__)
            if operator.index(type) < 0:
                raise RuntimeError("Device index must not be negative")
            raise no_accelerator()        # device(0): an accelerator's ordinal, as PyTorch
        if index is not None and not _is_index(index):
            raise TypeError("device(): argument 'index' (position 2) must be int, not "
                            f"{builtins_type(index).__name__}")
        match = _DEVICE_STRING.fullmatch(type)
        if match is None:
            raise RuntimeError(f"Invalid device string: {type!r}")
        kind, number = match.groups()
        if kind not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        if number is not None:
            if index is not None:
                raise RuntimeError("type (string) must not include an index because index was "
                                   f"passed explicitly: {type}")
            index = int(number)
        if index is not None:
            index = operator.index(index)
            if index < 0:
                raise RuntimeError("Device index must not be negative")
        self = super().__new__(cls, kind if index is None else f"{kind}:{index}")
        self.type, self.index = kind, index
        return self

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


def get_default_device():
    return device("cpu")


_device_type = device            # (set_default_device's argument is named device, as PyTorch's)


def set_default_device(device):
    """cgrad runs on the CPU: "cpu" (or None) is the only default device it takes"""
    if device is not None and _device_type(device).type != "cpu":
        raise RuntimeError(f"cgrad runs on the CPU only, cannot make {str(device)!r} the "
                           "default device")
