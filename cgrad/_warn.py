"""Warnings attributed to the user's line, as PyTorch's (raised in C++) are."""
import os
import sys
import warnings

import numpy as np

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message, category=UserWarning):
    """warnings.warn(message) at the first frame outside cgrad: the same line whichever of
    cgrad's entry points (x.var(), torch.var(x), torch.var_mean(x)) led there"""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def quiet(fn):
    """fn with NumPy's floating-point warnings off, for NumPy functions that warn from their
    own module, past the filter cgrad/__init__.py sets for its own (PyTorch gives inf and nan
    silently)"""
    def call(*args, **kwargs):
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)
    return call
