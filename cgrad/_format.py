"""repr of tensors, like PyTorch's: `tensor([ 1.5102, -1.5102], grad_fn=<AddBackward0>)`."""
import math

import numpy as np

from . import _dtype

LINEWIDTH = 80
THRESHOLD = 1000
EDGEITEMS = 3
PRECISION = 4
SCI_MODE = None        # True or False forces scientific notation on or off; None: automatic
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, math.inf, 3, 80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """PyTorch's set_printoptions: a profile ("default", "short", "full") first, then the
    options given; sci_mode is always set (None: chosen per tensor again)."""
    global PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH, SCI_MODE
    if profile in _PROFILES:                  # (PyTorch ignores an unknown one)
        PRECISION, THRESHOLD, EDGEITEMS, LINEWIDTH = _PROFILES[profile]
    if precision is not None:
        PRECISION = precision
    if threshold is not None:
        THRESHOLD = threshold
    if edgeitems is not None:
        EDGEITEMS = edgeitems
    if linewidth is not None:
        LINEWIDTH = linewidth
    SCI_MODE = sci_mode


def get_printoptions():
    return {"precision": PRECISION, "threshold": THRESHOLD, "edgeitems": EDGEITEMS,
            "linewidth": LINEWIDTH, "sci_mode": SCI_MODE}


class _Formatter:
    """Picks one format for all elements (PyTorch's _Formatter): integers print as `17.`,
    others with 4 decimals, or in scientific form when magnitudes span a wide range."""

    def __init__(self, values):
        self.kind = values.dtype.kind
        self.sci = False
        self.int_mode = True
        self.width = 1
        if self.kind != "f":
            strs = [str(v) for v in values.ravel().tolist()]
            self.width = max((len(s) for s in strs), default=1)
            return
        finite = values[np.isfinite(values)].astype(np.float64)
        nonzero = np.abs(finite[finite != 0])
        if nonzero.size == 0:
            return                                  # sci_mode too is ignored here
        self.int_mode = bool(np.all(nonzero == np.ceil(nonzero)))
        lo, hi = nonzero.min(), nonzero.max()
        if self.int_mode:
            if hi / lo > 1000.0 or hi > 1.0e8:
                self.sci = True
        elif hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4:
            self.sci = True
        if SCI_MODE is not None:                    # set_printoptions(sci_mode=...)
            self.sci = SCI_MODE
        for v in finite[finite != 0].tolist():      # PyTorch sizes by the nonzero finite ones
            self.width = max(self.width, len(self._fmt(v)))

    def _fmt(self, v):
        if self.sci:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        if self.kind == "b":
            s = str(bool(v))
        elif self.kind != "f":
            s = str(v)
        elif not math.isfinite(v):
            s = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        else:
            s = self._fmt(v)
        return s.rjust(self.width)


def _summarized(a):
    if a.ndim == 0:
        return a.reshape(1)
    if a.shape[0] > 2 * EDGEITEMS:
        parts = [a[:EDGEITEMS], a[-EDGEITEMS:]]
    else:
        parts = [a]
    subs = [np.stack([_summarized(r) for r in p]) if a.ndim > 1 and len(p) else p.reshape(-1)
            for p in parts]
    return np.concatenate([s.reshape(-1) for s in subs])


def _to_str(a, fmt, indent, summarize):
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        items = a.tolist()
        if summarize and len(items) > 2 * EDGEITEMS:
            strs = ([fmt.format(v) for v in items[:EDGEITEMS]] + [" ..."] +
                    [fmt.format(v) for v in items[-EDGEITEMS:]])
        else:
            strs = [fmt.format(v) for v in items]
        per_line = max(math.floor((LINEWIDTH - indent) / (fmt.width + 2)), 1)
        lines = [", ".join(strs[i:i + per_line]) for i in range(0, len(strs), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    if summarize and a.shape[0] > 2 * EDGEITEMS:
        rows = ([_to_str(r, fmt, indent + 1, summarize) for r in a[:EDGEITEMS]] + ["..."] +
                [_to_str(r, fmt, indent + 1, summarize) for r in a[-EDGEITEMS:]])
    else:
        rows = [_to_str(r, fmt, indent + 1, summarize) for r in a]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def tensor_repr(t):
    a = t._data
    prefix = "tensor("
    suffixes = []
    if t.is_meta:                               # no values to show
        body = "..."
        suffixes += ["device='meta'", f"size={tuple(a.shape)}"]
    elif a.size == 0 and a.shape != (0,):
        body = "[]"
        suffixes.append(f"size={tuple(a.shape)}")
    elif a.size == 0:
        body = "[]"
    else:
        summarize = a.size > THRESHOLD
        fmt = _Formatter(_summarized(a) if summarize else a)
        body = _to_str(a, fmt, len(prefix), summarize)
    # (an empty tensor names every dtype but the default: "tensor([])" would read as float)
    if a.dtype != _dtype.DEFAULT.np and (a.size == 0 or t.is_meta or
                                  a.dtype not in (np.int64, np.bool_)):
        suffixes.append(f"dtype=cgrad.{a.dtype.name}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{type(t.grad_fn).__name__}>")     # (as PyTorch's)
    elif t._requires_grad:
        suffixes.append("requires_grad=True")
    return _add_suffixes(prefix + body, suffixes, len(prefix))


def _add_suffixes(text, suffixes, indent):
    """PyTorch's: each suffix after ", ", or on a line of its own where it would pass
    LINEWIDTH"""
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last += len(suffix) + 2
    return "".join(parts) + ")"
