"""nn module discrepancies found by review s41_a (/work/notes/review_s41_a/REPORT.md); the
expected behaviour is PyTorch 2.13's, checked against it and hard-coded here"""
import warnings

import pytest

import cgrad as torch
import cgrad.nn.functional as F


# -- Conv*d._conv_forward and _reversed_padding_repeated_twice (A1) --

class _StdConv2d(torch.nn.Conv2d):
    """weight-standardised conv, as timm's StdConv2d: its own weight through _conv_forward"""

    def forward(self, x):
        w = self.weight
        w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
        return self._conv_forward(x, w, self.bias)


@pytest.mark.parametrize("padding_mode", ["zeros", "reflect"])
def test_conv_forward_with_own_weight(padding_mode):
    torch.manual_seed(0)
    m = _StdConv2d(2, 3, 3, padding=1, padding_mode=padding_mode)
    x = torch.randn(1, 2, 4, 4)
    w = m.weight
    w = (w - w.mean((1, 2, 3), keepdim=True)) / (w.std((1, 2, 3), keepdim=True) + 1e-5)
    xp = x if padding_mode == "zeros" else F.pad(x, (1, 1, 1, 1), mode=padding_mode)
    expected = F.conv2d(xp, w, m.bias, padding=1 if padding_mode == "zeros" else 0)
    assert torch.allclose(m(x), expected)


def test_conv_forward_override_is_honoured():
    class Doubled(torch.nn.Conv1d):
        def _conv_forward(self, input, weight, bias):
            return super()._conv_forward(input, 2 * weight, None)

    torch.manual_seed(0)
    m = Doubled(1, 1, 3)
    x = torch.randn(1, 1, 5)
    assert torch.allclose(m(x), F.conv1d(x, 2 * m.weight))


def test_reversed_padding_repeated_twice():
    assert torch.nn.Conv2d(1, 1, (2, 3), padding="same")._reversed_padding_repeated_twice \
        == [1, 1, 0, 1]
    assert torch.nn.Conv2d(1, 1, 3, padding=(1, 2))._reversed_padding_repeated_twice \
        == (2, 2, 1, 1)
    assert torch.nn.Conv3d(1, 1, 3, padding="valid")._reversed_padding_repeated_twice \
        == [0] * 6
    assert torch.nn.ConvTranspose2d(1, 1, 3, padding=1)._reversed_padding_repeated_twice \
        == (1, 1, 1, 1)
    # PyTorch's transposed convolutions keep _ConvNd's stub, which returns None
    m = torch.nn.ConvTranspose2d(1, 1, 3)
    assert m._conv_forward(torch.ones(1, 1, 3, 3), m.weight, None) is None


def test_padding_mode_reads_reversed_padding():
    # PyTorch pads with the stored attribute (a subclass may set its own)
    m = torch.nn.Conv1d(1, 1, 1, padding=1, padding_mode="replicate", bias=False)
    m._reversed_padding_repeated_twice = (2, 0)
    with torch.no_grad():
        m.weight.fill_(1.0)
    assert m(torch.tensor([[[1.0, 2.0]]])).tolist() == [[[1.0, 1.0, 1.0, 2.0]]]


# -- scaled_dot_product_attention with attn_mask and is_causal (A5) --

def _sdpa_inputs():
    q = torch.arange(24.0, dtype=torch.float64).reshape(1, 1, 6, 4).sin()
    return q, q.cos(), q * 2


def test_sdpa_applies_float_mask_and_causal():
    q, k, v = _sdpa_inputs()
    mask = torch.arange(36.0, dtype=torch.float64).reshape(6, 6).cos()
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)
    expected = [[0.0, 1.682942, 1.8185949, 0.28224],
                [-0.6917026, 0.037416, 0.7321346, 0.753732],
                [-0.1769801, 0.1347008, 0.3225385, 0.2138357]]
    assert torch.allclose(out[0, 0, :3], torch.tensor(expected, dtype=torch.float64), atol=1e-7)


def test_sdpa_applies_bool_mask_and_causal():
    q, k, v = _sdpa_inputs()
    mask = torch.tensor([[True, False, True, True, False, True]])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True)
    expected = [[0.0, 1.682942, 1.8185949, 0.28224], [0.0, 1.682942, 1.8185949, 0.28224],
                [0.9832906, 1.2562226, 0.3741894, -0.8518719]]
    assert torch.allclose(out[0, 0, :3], torch.tensor(expected, dtype=torch.float64), atol=1e-7)


@pytest.mark.parametrize("case", ["3-d input", "dropout", "3-d mask", "mask too big",
                                  "mask requires grad"])
def test_sdpa_mask_and_causal_still_raise_off_the_flash_path(case):
    # PyTorch takes both only on its CPU flash kernel; its math path raises as before
    q, k, v = _sdpa_inputs()
    mask, kw = torch.zeros(6, 6, dtype=torch.float64), {}
    if case == "3-d input":
        q, k, v = q[0], k[0], v[0]
    elif case == "dropout":
        kw["dropout_p"] = 0.5
    elif case == "3-d mask":
        mask = torch.zeros(1, 6, 6, dtype=torch.float64)
    elif case == "mask too big":
        mask = torch.zeros(2, 2, 6, 6, dtype=torch.float64)
    else:
        mask.requires_grad_()
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=True, **kw)
