"""cgrad.cpu: PyTorch's torch.cpu: its amp names, and the device, stream and event stand-ins
that let device-agnostic code run; the CPU has one device
and one stream, so they do nothing, as PyTorch's."""
import functools
import os
import platform
import types

from . import amp  # noqa: F401

__all__ = ["is_available", "is_initialized", "synchronize", "current_device", "current_stream",
           "stream", "set_device", "device_count", "Stream", "StreamContext", "Event",
           "get_capabilities"]


def is_available():
    return True


def is_initialized():
    return True


def device_count():
    """the number of CPU devices (not cores): 1"""
    return 1


def current_device():
    return "cpu"


def set_device(device):
    """there is one CPU device: nothing to set"""


def synchronize(device=None):
    """CPU work is done when the call that made it returns: nothing to wait for"""


class Stream:
    """a stand-in stream: CPU ops run in order as they are called"""

    def __init__(self, priority=-1):
        pass

    def wait_stream(self, stream):
        pass

    def record_event(self):
        pass

    def wait_event(self, event):
        pass


class Event:
    """a stand-in event, always complete"""

    def query(self):
        return True

    def record(self, stream=None):
        pass

    def synchronize(self):
        pass

    def wait(self, stream=None):
        pass


_default_stream = Stream()
_current_stream = _default_stream


def current_stream(device=None):
    return _current_stream


class StreamContext:
    """makes `stream` the current stream inside the with block (None: leaves it as it is)"""

    def __init__(self, stream):
        self.stream = stream
        self.prev_stream = _default_stream

    def __enter__(self):
        global _current_stream
        if self.stream is not None:
            self.prev_stream, _current_stream = _current_stream, self.stream

    def __exit__(self, *exc):
        global _current_stream
        if self.stream is not None:
            _current_stream = self.prev_stream


def stream(stream):
    return StreamContext(stream)


# PyTorch's capability names (from the cpuinfo library) -> Linux's /proc/cpuinfo flag names
_FLAGS = {
    "sse": "sse", "sse2": "sse2", "sse3": "pni", "ssse3": "ssse3", "sse4_1": "sse4_1",
    "sse4_2": "sse4_2", "sse4a": "sse4a", "avx": "avx", "avx2": "avx2", "fma3": "fma",
    "fma4": "fma4", "f16c": "f16c", "popcnt": "popcnt", "lzcnt": "abm", "bmi": "bmi1",
    "bmi2": "bmi2", "aes": "aes", "sha": "sha_ni", "clflush": "clflush",
    "clflushopt": "clflushopt", "clwb": "clwb", "avx_vnni": "avx_vnni",
    "avx_vnni_int8": "avx_vnni_int8", "avx_vnni_int16": "avx_vnni_int16",
    "avx_ne_convert": "avx_ne_convert", "avx512_f": "avx512f", "avx512_cd": "avx512cd",
    "avx512_dq": "avx512dq", "avx512_bw": "avx512bw", "avx512_vl": "avx512vl",
    "avx512_ifma": "avx512ifma", "avx512_vbmi": "avx512vbmi", "avx512_vbmi2": "avx512_vbmi2",
    "avx512_bitalg": "avx512_bitalg", "avx512_vpopcntdq": "avx512_vpopcntdq",
    "avx512_vnni": "avx512_vnni", "avx512_bf16": "avx512_bf16", "avx512_fp16": "avx512_fp16",
    "avx512_vp2intersect": "avx512_vp2intersect", "avx512_4vnniw": "avx512_4vnniw",
    "avx512_4fmaps": "avx512_4fmaps", "amx_tile": "amx_tile", "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16", "amx_fp16": "amx_fp16", "avx10_1": "avx10_1", "avx10_2": "avx10_2",
}


def _cache_size(level, kinds):
    """cpu0's cache of `level` and one of `kinds` (Data, Unified), in bytes; 0 if unknown"""
    root = "/sys/devices/system/cpu/cpu0/cache"
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    for index in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        def read(name):
            with open(os.path.join(root, index, name)) as f:
                return f.read().strip()
        try:
            if int(read("level")) == level and read("type") in kinds:
                size = read("size")
                return int(size[:-1]) * units[size[-1]] if size[-1] in units else int(size)
        except (OSError, ValueError):
            continue
    return 0


def _avx10(flags):
    """(AVX10.1, AVX10.2) as cpuinfo reads them: the AVX10 bit (CPUID leaf 7.1, EDX bit 19)
    and the version in leaf 0x24 (EBX bits 0-7). Linux's flags may lack them (kernel 6.18 lists
    neither on a Xeon with AVX10.1); without the compiled extension, the flags alone"""
    try:
        from .._C._cpuid import cpuid
    except ImportError:
        return "avx10_1" in flags, "avx10_2" in flags
    leaf7 = cpuid(7, 1)
    if not (leaf7 and leaf7[3] >> 19 & 1 and "avx512f" in flags):   # (and the OS's AVX-512)
        return False, False
    version = (cpuid(0x24, 0) or (0, 0, 0, 0))[1] & 0xFF
    return version >= 1, version >= 2


@functools.lru_cache(None)
def get_capabilities():
    """The CPU's instruction-set flags and sizes under PyTorch's names (a read-only mapping).
    PyTorch asks the cpuinfo library; cgrad reads Linux's /proc/cpuinfo and the cache sizes
    in /sys, so elsewhere only the architecture and core counts are known."""
    info = {}
    try:
        with open("/proc/cpuinfo") as f:
            lines = [line.partition(":") for line in f]
    except OSError:
        lines = []
    flags, cores, sockets, name = set(), set(), set(), platform.processor()
    physical = None
    for key, _, value in lines:
        key, value = key.strip(), value.strip()
        if key == "flags":
            flags = set(value.split())
        elif key == "model name":
            name = value
        elif key == "physical id":
            physical = value
            sockets.add(value)
        elif key == "core id":
            cores.add((physical, value))
    if platform.machine() in ("x86_64", "AMD64", "i386", "i686"):
        info.update((k, flag in flags) for k, flag in _FLAGS.items())
        info["avx10_1"], info["avx10_2"] = _avx10(flags)
        info["l1d_cache_size"] = _cache_size(1, ("Data", "Unified"))
        info["l2_cache_size"] = _cache_size(2, ("Unified", "Data"))
    info["num_logical_cores"] = os.cpu_count() or 1
    info["num_physical_cores"] = len(cores) or info["num_logical_cores"]
    info["num_sockets"] = len(sockets) or 1
    info["cpu_name"] = name
    info["architecture"] = platform.machine()
    return types.MappingProxyType(info)
