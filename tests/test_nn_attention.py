"""cgrad.nn.attention (SDPBackend, sdpa_kernel) and the backends.cuda sdp flags against
PyTorch's CPU build: the enum, the flags inside and after the context, priorities, which
choices let F.scaled_dot_product_attention run (values equal) and which raise or warn as
PyTorch's, and the errors for bad arguments."""
import warnings

import numpy as np
import pytest

import cgrad
from test_more_ops import same_error

torch = pytest.importorskip("torch")
import torch.nn.attention  # noqa: E402


def _module(m):
    return m.nn.attention


def _flags(m):
    c = m.backends.cuda
    return (c.math_sdp_enabled(), c.flash_sdp_enabled(), c.mem_efficient_sdp_enabled(),
            c.cudnn_sdp_enabled())


def test_enum():
    ours, theirs = cgrad.nn.attention.SDPBackend, torch.nn.attention.SDPBackend
    names = ["ERROR", "MATH", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "CUDNN_ATTENTION",
             "OVERRIDEABLE"]
    for name in names:
        a, b = getattr(ours, name), getattr(theirs, name)
        assert (a.name, a.value, int(a), str(a), repr(a)) == \
            (b.name, b.value, int(b), str(b), repr(b))
        assert ours(a.value) is a and (a == a.value) == (b == b.value)
    assert list(ours.__members__) == list(theirs.__members__) == names


def _choices(m):
    B = _module(m).SDPBackend
    return [B.MATH, B.FLASH_ATTENTION, B.EFFICIENT_ATTENTION, B.CUDNN_ATTENTION, B.OVERRIDEABLE,
            B.ERROR, [], [B.FLASH_ATTENTION, B.MATH], [B.EFFICIENT_ATTENTION, B.CUDNN_ATTENTION],
            [B.MATH, B.MATH]]


CALLS = {   # name: (query, key, value) shapes and keyword arguments
    "plain": ((2, 3, 4, 8), (2, 3, 5, 8), {}),
    "causal": ((2, 3, 4, 8), (2, 3, 4, 8), dict(is_causal=True)),
    "bool mask": ((2, 3, 4, 8), (2, 3, 5, 8), dict(mask=True)),
    "dropout": ((2, 3, 4, 8), (2, 3, 5, 8), dict(dropout_p=0.5)),
    "3-D": ((3, 4, 8), (3, 5, 8), {}),
    "scale": ((2, 3, 4, 8), (2, 3, 5, 8), dict(scale=0.3)),
}


@pytest.mark.parametrize("call", sorted(CALLS))
@pytest.mark.parametrize("choice", range(10))
def test_sdpa_under_each_choice(backend, choice, call):
    qs, ks, kw = CALLS[call]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in (qs, ks, ks)]
    mask = rng.random(qs[-2:-1] + ks[-2:-1]) > 0.3

    def run(m):
        before = _flags(m)
        kwargs = dict(kw)
        if kwargs.pop("mask", False):
            kwargs["attn_mask"] = m.tensor(mask)
        with _module(m).sdpa_kernel(_choices(m)[choice]) as ctx:
            assert ctx == {}
            inside = _flags(m)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    out = m.nn.functional.scaled_dot_product_attention(
                        *[m.tensor(a) for a in arrays], **kwargs)
                    result = None if kwargs.get("dropout_p") else out.numpy()
                except RuntimeError as e:
                    result = str(e)
        assert _flags(m) == before                      # restored
        # (PyTorch's warnings end with where in its C++ they were triggered)
        return inside, result, [str(w.message).split(" (Triggered internally")[0]
                                for w in caught]

    ours, theirs = run(cgrad), run(torch)
    assert ours[0] == theirs[0]
    if isinstance(theirs[1], np.ndarray):
        np.testing.assert_allclose(ours[1], theirs[1], rtol=2e-5, atol=2e-6)
    else:
        assert ours[1] == theirs[1]
    assert ours[2] == theirs[2]


def test_priority():
    def run(m):
        B = _module(m).SDPBackend
        order = (lambda: list(m.backends.cuda._sdp_priority)) if m is cgrad else \
            m._C._get_sdp_priority_order
        before = order()
        with _module(m).sdpa_kernel([B.CUDNN_ATTENTION, B.MATH], set_priority=True):
            inside = order()
            listed = [b.name for b in _module(m)._cur_sdpa_kernel_backends(with_priority=True)]
        return before, inside, listed, order()
    assert run(cgrad) == run(torch)


def test_bad_arguments():
    for bad in [("MATH",), "math", 0, None]:
        same_error(lambda m: _module(m).sdpa_kernel(
            bad if not isinstance(bad, tuple) else (_module(m).SDPBackend.MATH,)).__enter__(),
            message=True)
    for name in ("math", "flash", "mem_efficient", "cudnn"):
        for value in (1, None, 1.0, np.bool_(True)):
            same_error(lambda m: getattr(m.backends.cuda, f"enable_{name}_sdp")(value),
                       message=True)


def test_flag_setters_and_deprecated_sdp_kernel():
    for m in (cgrad, torch):
        c = m.backends.cuda
        c.enable_math_sdp(False)
        assert not c.math_sdp_enabled()
        c.enable_math_sdp(True)
        with pytest.warns(FutureWarning, match="sdp_kernel\\(\\)` is deprecated"):
            with c.sdp_kernel(enable_math=False, enable_flash=True):
                assert (c.math_sdp_enabled(), c.flash_sdp_enabled()) == (False, True)
        assert _flags(m) == (True, True, True, True)
    assert cgrad.backends.cuda.is_flash_attention_available() == \
        torch.backends.cuda.is_flash_attention_available()
