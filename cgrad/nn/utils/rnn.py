"""cgrad.nn.utils.rnn: PyTorch's packed sequences. A PackedSequence holds a batch of
variable-length sequences as one (sum of lengths, *) tensor, step by step: the rows of step t
are the first batch_sizes[t] sequences (sorted longest first) at t. The functions here convert
between that, padded tensors and lists, as PyTorch's (torch/nn/utils/rnn.py and the
_pack_padded_sequence / _pad_packed_sequence / pad_sequence kernels), composed from cgrad ops."""
from collections import namedtuple
from collections.abc import Iterable

import numpy as np

from ... import _dtype
from ...creation import arange, as_tensor, empty_like, full
from ...ops import shape as S
from ...tensor import Tensor

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


class PackedSequence(namedtuple("PackedSequence_", "data batch_sizes sorted_indices "
                                                   "unsorted_indices")):
    """(data, batch_sizes, sorted_indices, unsorted_indices): batch_sizes an int64 tensor of
    the number of sequences at each step; sorted_indices the original batch index of each
    packed column (None if the input was sorted), unsorted_indices its inverse"""

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:                  # PackedSequence((data, batch_sizes))
            if not (isinstance(data, (list, tuple)) and len(data) == 2):
                raise AssertionError("Expected data to be a list or tuple of length 2")
            data, batch_sizes = data
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        """data.to(...); self where that returns data itself (the indices stay on the CPU,
        data's device, as cgrad has no other)"""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        return type(self)(data, self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to("cuda")                   # PyTorch's AssertionError: CPU only

    def double(self):
        return self.to(dtype=_dtype.float64)

    def float(self):
        return self.to(dtype=_dtype.float32)

    def half(self):
        return self.to(dtype=_dtype.float16)

    def long(self):
        return self.to(dtype=_dtype.int64)

    def int(self):
        return self.to(dtype=_dtype.int32)

    def short(self):
        return self.to(dtype=_dtype.int16)

    def char(self):
        return self.to(dtype=_dtype.int8)

    def byte(self):
        return self.to(dtype=_dtype.uint8)

    @property
    def is_cuda(self):
        return self.data.is_cuda


def invert_permutation(permutation):
    """the inverse of a 1-D permutation tensor (None for None)"""
    if permutation is None:
        return None
    return empty_like(permutation).scatter_(0, permutation, arange(permutation.numel()))


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """input (T, B, *) ((B, T, *) if batch_first) with sequence b's first lengths[b] steps
    real -> a PackedSequence; enforce_sorted=False sorts the batch by length first"""
    if not isinstance(lengths, Tensor):
        lengths = as_tensor(lengths, dtype=_dtype.int64)
    else:
        lengths = lengths.to(dtype=_dtype.int64)
    sorted_indices = None
    if not enforce_sorted:
        lengths, sorted_indices = lengths.sort(descending=True)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if lengths.dim() != 1:                  # (int64 by now, PyTorch's Long)
        raise RuntimeError("'lengths' argument should be a 1D CPU int64 tensor, but got "
                           f"{lengths.dim()}D cpu Long tensor")
    batch = input.size(0 if batch_first else 1)
    if not input.numel():
        raise RuntimeError("Cannot pack empty tensors.")
    n = lengths._data
    if len(n) != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                           f"{len(n)} (batch_size={batch})")
    if n[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an "
                           "element in 'lengths' that is <= 0")
    if np.any(n[1:] > n[:-1]):
        raise RuntimeError("`lengths` array must be sorted in decreasing order when "
                           "`enforce_sorted` is True. You can pass `enforce_sorted=False` to "
                           "pack_padded_sequence and/or pack_sequence to sidestep this "
                           "requirement if you do not need ONNX exportability.")
    steps = input.size(1 if batch_first else 0)
    if n[0] > steps:                  # PyTorch reads past the input here; refuse instead
        raise RuntimeError(f"Expected lengths to be at most the padded length {steps}, but "
                           f"got a length of {int(n[0])}")
    batch_sizes = (n[None, :] > np.arange(n[0])[:, None]).sum(1)
    # the rows of step t are sequences 0 .. batch_sizes[t]-1 at t: one gather of them all
    t_idx = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    b_idx = np.concatenate([np.arange(k) for k in batch_sizes])
    key = (b_idx, t_idx) if batch_first else (t_idx, b_idx)
    data = S.PackPaddedSequence.apply(input, key)
    return PackedSequence(data, as_tensor(batch_sizes, dtype=_dtype.int64), sorted_indices)


def _lengths_of(batch_sizes):
    """each packed column's length: the number of steps whose batch reaches it"""
    sizes = batch_sizes._data
    return as_tensor((sizes[:, None] > np.arange(sizes[0])[None, :]).sum(0), dtype=_dtype.int64)


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """PackedSequence -> (padded (T, B, *) or (B, T, *), lengths), in the batch order
    given to pack_padded_sequence; T the longest length, or total_length"""
    data, batch_sizes = sequence.data, sequence.batch_sizes
    sizes = batch_sizes.tolist()
    length = len(sizes)
    if total_length is not None:
        if total_length < length:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {length}")
        length = total_length
    output = full((length, sizes[0]) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    # as PyTorch's kernel: one copy into a view per run of steps of the same batch size (a
    # view even where it is all of output, so the node is CopySlices as PyTorch's)
    start = offset = 0
    for i in range(1, len(sizes) + 1):
        if i == len(sizes) or sizes[i] != sizes[start]:
            rows = (i - start) * sizes[start]
            output[start:i, :sizes[start]].copy_(data[offset:offset + rows].reshape(
                i - start, sizes[start], *data.shape[1:]))
            start, offset = i, offset + rows
    if batch_first:
        output = output.transpose(0, 1)
    lengths = _lengths_of(batch_sizes)
    if sequence.unsorted_indices is not None:
        return (output.index_select(0 if batch_first else 1, sequence.unsorted_indices),
                lengths[sequence.unsorted_indices])
    return output, lengths


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """a list of (L_i, *) tensors -> (T, B, *) ((B, T, *) if batch_first), each padded with
    padding_value on padding_side to the longest length T"""
    if not isinstance(sequences, Iterable):
        raise RuntimeError("pad_sequence: Expected iterable for input sequences, but got arg of "
                           f"type: {type(sequences)}")
    sequences = tuple(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise RuntimeError("Expected padding_side to be one of left or right, but got "
                           f"{padding_side}.")
    if not sequences[0].dim():
        raise RuntimeError("ArrayRef: invalid slice, N = 1; size = 0")    # PyTorch's words
    longest = max(s.size(0) for s in sequences)
    size = (len(sequences), longest) if batch_first else (longest, len(sequences))
    out = full(size + tuple(sequences[0].shape[1:]), padding_value, dtype=sequences[0].dtype)
    for i, seq in enumerate(sequences):
        start = longest - seq.size(0) if padding_side == "left" else 0
        steps = slice(start, start + seq.size(0))
        out[(i, steps) if batch_first else (steps, i)] = seq
    return out


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """padded (T, B, *) ((B, T, *) if batch_first) -> the list of each sequence's first
    lengths[b] steps (PyTorch transposes its argument in place here; cgrad leaves it)"""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    steps = arange(padded_sequences.shape[1], device=lengths.device)
    return [seq[steps < length] for seq, length in zip(padded_sequences, lengths, strict=True)]


def pack_sequence(sequences, enforce_sorted=True):
    """a list of (L_i, *) tensors -> a PackedSequence (pad_sequence, then
    pack_padded_sequence)"""
    lengths = as_tensor([v.size(0) for v in sequences])
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """a PackedSequence -> the list of its sequences, in their original order"""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
