"""Warnings attributed to the user's line, as PyTorch's (raised in C++) are."""
import os
import sys
import warnings

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn_at_caller(message, category=UserWarning):
    """warnings.warn(message) at the first frame outside cgrad: the same line whichever of
    cgrad's entry points (x.var(), torch.var(x), torch.var_mean(x)) led there"""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
