"""cgrad.device: PyTorch's device objects, for code that names one. cgrad runs on the CPU, so
a device is the string "cpu" (code comparing with or passing "cpu" keeps working); a CUDA or
other device can be named, and moving a tensor or module to it raises."""


class device(str):
    def __new__(cls, type="cpu", index=None):
        if isinstance(type, device):
            return type
        if isinstance(type, int):                     # device(0): PyTorch's CUDA ordinal
            type, index = "cuda", type
        kind, _, number = str(type).partition(":")
        if number:
            index = int(number)
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
