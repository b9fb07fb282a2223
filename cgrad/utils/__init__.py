"""cgrad.utils: data loading (cgrad.utils.data)."""
from . import data

__all__ = ["data"]
