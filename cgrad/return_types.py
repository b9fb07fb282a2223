"""torch.return_types: the named tuples that max, min, sort, topk, ... and linalg's
factorizations return (defined beside the functions that return them)"""
from . import _matfuncs, linalg  # noqa: F401  (they define theirs)
from .tensor import OUT_RETURN_TYPES as _OUT_RETURN_TYPES, RETURN_TYPES as _RETURN_TYPES

globals().update(_RETURN_TYPES)
globals().update(_OUT_RETURN_TYPES)
__all__ = sorted(name for name in _RETURN_TYPES if not name.startswith("_"))
