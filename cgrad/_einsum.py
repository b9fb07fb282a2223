"""einsum, composed of differentiable Tensor ops as PyTorch composes it (diagonal, unsqueeze,
permute, sum, mul, bmm, view): the same values, gradients, grad_fn names and double backward.
The operands are aligned to one layout (output dims, then contracted dims), then multiplied
and summed pairwise from left to right."""
import math

from .tensor import Tensor, bmm

ELLIPSIS = "..."


def _subscript_label(n):
    """a sublist entry (0..51, or Ellipsis) as its equation label, as PyTorch maps them"""
    if n is Ellipsis:
        return ELLIPSIS
    if not isinstance(n, int) or not 0 <= n < 52:
        raise ValueError("einsum(): subscript in subscript list is not within the valid range "
                         "[0, 52)")
    return chr(ord("A") + n) if n < 26 else chr(ord("a") + n - 26)


def _arguments(args):
    """(equation, operands) of einsum(equation, *operands), einsum(equation, [operands]) or
    the sublist form einsum(op0, sublist0, op1, sublist1, ..., [output sublist])"""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], Tensor):
        def labels(sublist):
            return "".join(_subscript_label(n) for n in sublist)
        operands = args[:len(args) - len(args) % 2:2]
        equation = ",".join(labels(s) for s in args[1::2][:len(operands)])
        if len(args) % 2:
            equation += "->" + labels(args[-1])
        return equation, list(operands)
    equation, operands = args[0], list(args[1:])
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        return _arguments((equation, *operands[0]))
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                            f"{type(t).__name__}")
    return equation, operands


def _parse_inputs(lhs, n):
    """the labels of each of n operands (letters, and ELLIPSIS) from the equation's left side"""
    labels = [[]]
    i = 0
    while i < len(lhs):
        c = lhs[i]
        if c == ".":
            if ELLIPSIS in labels[-1]:
                raise RuntimeError(f"einsum(): found '.' for operand {len(labels) - 1} for "
                                   "which an ellipsis was already found")
            if lhs[i:i + 3] != ELLIPSIS:
                raise RuntimeError(f"einsum(): found '.' for operand {len(labels) - 1} that "
                                   "is not part of any ellipsis")
            labels[-1].append(ELLIPSIS)
            i += 2
        elif c == ",":
            labels.append([])
            if len(labels) > n:
                raise RuntimeError("einsum(): fewer operands were provided than specified in "
                                   "the equation")
        elif c != " ":
            _check_letter(c, i)
            labels[-1].append(c)
        i += 1
    if len(labels) < n:
        raise RuntimeError("einsum(): more operands were provided than specified in the "
                           "equation")
    return labels


def _check_letter(c, at):
    if not (c.isascii() and c.isalpha()):
        raise RuntimeError(f"einsum(): invalid subscript given at index {at} in the equation "
                           "string, subscripts must be in [a-zA-Z]")


def _parse_output(rhs, offset, counts):
    """the output's labels (letters, and ELLIPSIS) from the equation's right side"""
    out = []
    i = 0
    while i < len(rhs):
        c = rhs[i]
        if c == ".":
            if ELLIPSIS in out:
                raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was "
                                   "already found")
            if rhs[i:i + 3] != ELLIPSIS:
                raise RuntimeError("einsum(): found '.' for output that is not part of any "
                                   "ellipsis (...)")
            out.append(ELLIPSIS)
            i += 2
        elif c != " ":
            _check_letter(c, offset + i)
            if c in out or c not in counts:
                raise RuntimeError(f"einsum(): output subscript {c} " + (
                    "appears more than once in the output" if c in out else
                    "does not appear in the equation for any input operand"))
            out.append(c)
        i += 1
    return out


def einsum(*args):
    """Einstein summation over the operands' labelled dims, as torch.einsum"""
    equation, operands = _arguments(args)
    arrow = equation.find("->")
    lhs = equation if arrow < 0 else equation[:arrow]
    labels = _parse_inputs(lhs, len(operands))

    counts = {}                  # label: how many times it appears in the inputs
    ell_ndim = 0                 # the most dims any ellipsis covers
    for i, (t, ls) in enumerate(zip(operands, labels)):
        letters = [c for c in ls if c != ELLIPSIS]
        for c in letters:
            counts[c] = counts.get(c, 0) + 1
        if ELLIPSIS in ls:
            if len(letters) > t.ndim:
                raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                                   f"({len(letters)}) is more than the number of dimensions "
                                   f"({t.ndim}) for operand {i}")
            ell_ndim = max(ell_ndim, t.ndim - len(letters))
        elif len(letters) != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation "
                               f"({len(letters)}) does not match the number of dimensions "
                               f"({t.ndim}) for operand {i} and no ellipsis was given")

    # the aligned layout: the output's dims (implicit: the ellipsis, then the labels seen once,
    # in ASCII order as PyTorch's), then the contracted dims (an ellipsis not in the output
    # first, then the other labels in ASCII order)
    if arrow < 0:
        out = [ELLIPSIS] + sorted(c for c in counts if counts[c] == 1)
    else:
        out = _parse_output(equation[arrow + 2:], arrow + 2, counts)
    layout = out + [ELLIPSIS] * (ELLIPSIS not in out) + sorted(c for c in counts if c not in out)
    position, p = {}, 0          # label: its first dim in the layout
    for c in layout:
        position[c], p = p, p + (ell_ndim if c == ELLIPSIS else 1)
    ndim = p
    out_ndim = sum(ell_ndim if c == ELLIPSIS else 1 for c in out)

    sizes = {}                   # layout dim: its size other than 1 (broadcast), if any
    nontrivial = [0] * ndim      # layout dim: how many operands have it with a size other than 1
    aligned = []
    for i, (t, ls) in enumerate(zip(operands, labels)):
        aligned.append(_aligned(t, i, ls, position, ell_ndim, ndim, sizes, nontrivial))

    # contract left to right, summing each contracted dim as soon as no operand left has it
    while len(aligned) > 1:
        a, b = aligned.pop(0), aligned.pop(0)
        both, a_only, b_only = [], [], []
        for d in range(out_ndim, ndim):
            if a.shape[d] != 1 and b.shape[d] != 1:
                nontrivial[d] -= 1
                if nontrivial[d] == 1:
                    both.append(d)
                    nontrivial[d] = 0
            elif nontrivial[d] == 1:
                if a.shape[d] != 1:
                    a_only.append(d)
                    nontrivial[d] = 0
                elif b.shape[d] != 1:
                    b_only.append(d)
                    nontrivial[d] = 0
        if a_only:
            a = a.sum(a_only, True)
        if b_only:
            b = b.sum(b_only, True)
        aligned.insert(0, _sum_product(a, b, both))
    result = aligned[0]
    if ndim > out_ndim:          # the contracted dims: size 1 already after a contraction
        if len(operands) > 1:
            return result.view(result.shape[:out_ndim])
        return result.sum(list(range(out_ndim, ndim)))
    return result


def _aligned(t, i, ls, position, ell_ndim, ndim, sizes, nontrivial):
    """operand t (number i, labels ls) with its repeated labels' diagonals taken, dims of size
    1 for the labels it lacks, permuted to the layout; the sizes checked against the other
    operands' (sizes and nontrivial updated)"""
    perm = [-1] * ndim
    dim = 0
    for c in ls:
        if c == ELLIPSIS:
            covered = t.ndim - (len(ls) - 1)
            for j in range(ell_ndim - covered, ell_ndim):
                _sized(t.shape[dim], position[c] + j, sizes, nontrivial, lambda seen: (
                    f"einsum(): dimension {dim} covered by ellipsis in operand {i}has size "
                    f"{t.shape[dim]} which does not broadcast with previously seen ellipsis "
                    f"with size {seen} for the respective dimension"))
                perm[position[c] + j] = dim
                dim += 1
        elif perm[position[c]] == -1:
            _sized(t.shape[dim], position[c], sizes, nontrivial, lambda seen: (
                f"einsum(): subscript {c} has size {t.shape[dim]} for operand {i} which does "
                f"not broadcast with previously seen size {seen}"))
            perm[position[c]] = dim
            dim += 1
        else:                    # a repeated label: its diagonal, in the first one's place
            first = perm[position[c]]
            if t.shape[dim] != t.shape[first]:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but "
                                   f"the sizes don't match, {t.shape[dim]} != {t.shape[first]}")
            t = t.diagonal(0, first, dim).movedim(-1, first)
    for k in range(ndim):
        if perm[k] == -1:
            t = t.unsqueeze(dim)
            perm[k] = dim
            dim += 1
    return t.permute(perm)


def _sized(n, d, sizes, nontrivial, message):
    """layout dim d met with size n: refused (message(size seen)) where it neither is 1 nor
    matches the size seen before"""
    if n != 1:
        seen = sizes.get(d, 1)
        if seen not in (1, n):
            raise RuntimeError(message(seen))
        sizes[d] = n
        nontrivial[d] += 1


def _sum_product(left, right, summed):
    """(left * right).sum(summed, keepdim=True) for aligned left and right, by one batched
    matrix product as PyTorch's sumproduct_pair: the dims both have (other than 1) as the
    batch, the dims of one only as the rows and columns, the summed dims as the inner one"""
    if not summed:
        return left * right
    both, left_only, right_only = [], [], []
    for d in range(left.ndim):
        if d not in summed:
            if left.shape[d] != 1 and right.shape[d] != 1:
                both.append(d)
            else:
                (left_only if left.shape[d] != 1 else right_only).append(d)
    shape = ([left.shape[d] for d in both + left_only] + [1] * len(summed)
             + [right.shape[d] for d in right_only])
    n_both, n_left, n_summed, n_right = (math.prod(left.shape[d] for d in both),
                                         math.prod(left.shape[d] for d in left_only),
                                         math.prod(left.shape[d] for d in summed),
                                         math.prod(right.shape[d] for d in right_only))
    order = both + left_only + summed + right_only
    left = left.permute(order).reshape(n_both, n_left, n_summed)
    right = right.permute(both + summed + right_only + left_only).reshape(
        n_both, n_summed, n_right)
    inverse = sorted(range(len(order)), key=order.__getitem__)
    return bmm(left, right).view(shape).permute(inverse)
