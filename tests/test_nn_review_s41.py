"""nn module discrepancies found by review s41_a (/work/notes/review_s41_a/REPORT.md); the
expected behaviour is PyTorch 2.13's, checked against it and hard-coded here"""
import warnings

import numpy as np
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


# -- exception classes and type hierarchy (B1, B2, B4, C1, C2, C3) --

def test_bilinear_zero_in1_features_is_a_value_error():
    with pytest.raises(ValueError, match=r"in1_features must be > 0, but got \(in1_features=0\)"):
        torch.nn.Bilinear(0, 2, 3)


@pytest.mark.parametrize("n", [0, 1, 3])
def test_lstm_cell_needs_two_hidden_states(n):
    m = torch.nn.LSTMCell(3, 4)
    with pytest.raises(RuntimeError, match="lstm_cell expects two hidden states"):
        m(torch.zeros(1, 3), (torch.zeros(1, 4),) * n)
    # the count is lstm_cell's first check, before the input's size
    with pytest.raises(RuntimeError, match="lstm_cell expects two hidden states"):
        m(torch.zeros(1, 5), (torch.zeros(1, 4),) * n)
    with pytest.raises(RuntimeError, match="lstm_cell expects two hidden states"):
        torch.lstm_cell(torch.zeros(3), (torch.zeros(4),) * n, m.weight_ih, m.weight_hh)


def test_lstm_cell_unbatched_indexes_hx():
    # PyTorch's unbatched LSTMCell takes hx[0] and hx[1]: fewer is an IndexError, more are
    # dropped
    m = torch.nn.LSTMCell(3, 4)
    with pytest.raises(IndexError, match="tuple index out of range"):
        m(torch.zeros(3), (torch.zeros(4),))
    h, c = m(torch.zeros(3), (torch.zeros(4),) * 3)
    assert h.shape == c.shape == (4,)


def test_fold_is_not_an_unfold():
    fold = torch.nn.Fold((4, 5), 2, padding=1)
    assert not isinstance(fold, torch.nn.Unfold)
    assert repr(fold) == "Fold(output_size=(4, 5), kernel_size=2, dilation=1, padding=1, stride=1)"
    assert torch.nn.Fold((4, 5), 2)(torch.ones(1, 4, 12)).shape == (1, 1, 4, 5)


@pytest.mark.parametrize("size, message", [
    ((2.0, 6), "unflattened_size must be tuple of ints, but found element of type float at "
               "pos 0"),
    ((("C", 2), ("H", 3)), "unflattened_size must be tuple of ints, but found element of type "
                           "tuple at pos 0"),
    (6, "unflattened_size must be a tuple of ints, but found type int"),
    (range(3), "unflattened_size must be a tuple of ints, but found type range"),
])
def test_unflatten_requires_tuple_of_ints(size, message):
    with pytest.raises(TypeError) as info:
        torch.nn.Unflatten(1, size)
    assert str(info.value) == message


def test_unflatten_keeps_the_size_as_given():
    m = torch.nn.Unflatten(1, [2, 6])
    assert repr(m) == "Unflatten(dim=1, unflattened_size=[2, 6])"
    assert m(torch.ones(3, 12)).shape == (3, 2, 6)
    size = torch.Size([2, 6])
    m = torch.nn.Unflatten(1, size)
    assert m.unflattened_size is size and repr(size) in repr(m)


# -- PyTorch's semi-private hooks that subclasses call or override (A4, C5) --

def test_instance_norm_calls_check_input_dim():
    class Strict(torch.nn.InstanceNorm1d):
        def _check_input_dim(self, input):
            if input.dim() != 3:
                raise ValueError("batched only")

    with pytest.raises(ValueError, match="batched only"):
        Strict(3)(torch.zeros(3, 4))
    m = torch.nn.InstanceNorm2d(3)
    assert (m._get_no_batch_dim(), torch.nn.InstanceNorm3d(3)._get_no_batch_dim()) == (3, 4)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        m._check_input_dim(torch.zeros(3, 4))
    x = torch.arange(12.0).reshape(3, 4)
    assert torch.allclose(torch.nn.InstanceNorm1d(3)._handle_no_batch_input(x),
                          F.instance_norm(x.unsqueeze(0)).squeeze(0))


def test_embedding_fill_padding_idx_with_zero():
    m = torch.nn.Embedding(4, 2, padding_idx=1)
    with torch.no_grad():
        m.weight.fill_(3.0)
    m._fill_padding_idx_with_zero()
    assert m.weight.tolist() == [[3.0, 3.0], [0.0, 0.0], [3.0, 3.0], [3.0, 3.0]]


def test_multihead_attention_merge_masks():
    m = torch.nn.MultiheadAttention(4, 2)
    q = torch.zeros(3, 5, 4)
    attn = torch.arange(25.0).reshape(5, 5)
    padding = torch.arange(15.0).reshape(3, 5) * 10
    assert m.merge_masks(None, None, q) == (None, None)
    mask, kind = m.merge_masks(None, padding, q)
    assert kind == 1 and mask is padding
    # (sums as PyTorch's)
    for args, total in [((attn, None), 1800.0), ((attn, padding), 12300.0),
                        ((torch.arange(150.0).reshape(6, 5, 5), padding), 21675.0)]:
        mask, kind = m.merge_masks(*args, q)
        assert kind == 2 and mask.shape == (3, 2, 5, 5) and mask.sum().item() == total
    mask, kind = m.merge_masks(attn > 12, padding > 70, q)
    assert mask.dtype == torch.bool and mask.sum().item() == 106


def test_same_padding_with_even_kernel_warns_once():
    # PyTorch's TORCH_WARN_ONCE: once a process, so in a fresh one
    import subprocess
    import sys
    code = (
        "import warnings, cgrad as torch\n"
        "F = torch.nn.functional\n"
        "warnings.simplefilter('always')\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    F.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 3), padding='same')\n"
        "    m = torch.nn.Conv1d(1, 1, 2, padding='same', padding_mode='reflect')\n"
        "    m(torch.ones(1, 1, 4))\n"
        "    torch.nn.Conv2d(1, 1, (2, 3), padding='same')(torch.ones(1, 1, 4, 4))\n"
        "    F.conv1d(torch.ones(1, 1, 5), torch.ones(1, 1, 2), padding='same')\n"
        "print([(x.category.__name__, str(x.message)) for x in w])\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == str([("UserWarning", "Using padding='same' with even kernel lengths "
                                "and odd dilation may require a zero-padded copy of the input "
                                "be created")])


def test_conv_pickled_without_reversed_padding_still_pads():
    # a conv pickled before _reversed_padding_repeated_twice existed
    import pickle
    m = torch.nn.Conv1d(1, 1, 3, padding=1, padding_mode="circular")
    del m.__dict__["_reversed_padding_repeated_twice"]
    m2 = pickle.loads(pickle.dumps(m))
    assert m2._reversed_padding_repeated_twice == (1, 1)
    x = torch.arange(4.0).reshape(1, 1, 4)
    assert torch.allclose(m2(x), F.conv1d(F.pad(x, (1, 1), mode="circular"), m.weight, m.bias))


def test_sdpa_mask_and_causal_against_torch():
    real = pytest.importorskip("torch")
    q = real.randn(2, 2, 3, 4, dtype=real.float64)
    k, v = real.randn(2, 2, 5, 4, dtype=real.float64), real.randn(2, 2, 5, 4, dtype=real.float64)
    for mask in (real.randn(3, 5, dtype=real.float64), real.rand(2, 1, 3, 5) > 0.4,
                 real.randn(1, 5, dtype=real.float64)):
        expected = real.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                                   is_causal=True)
        got = F.scaled_dot_product_attention(*(torch.tensor(t.numpy()) for t in (q, k, v)),
                                             attn_mask=torch.tensor(mask.numpy()),
                                             is_causal=True)
        assert torch.allclose(got, torch.tensor(expected.numpy()), atol=1e-12)


# ---- a list or NumPy array where a functional takes a Tensor: PyTorch's TypeError ----------
_A = np.ones((1, 1, 4, 4), np.float32)


@pytest.mark.parametrize("call, name", [
    (lambda: F.relu([1., 2.]), "relu"), (lambda: F.gelu(_A), "gelu"),
    (lambda: F.silu(_A), "silu"), (lambda: F.leaky_relu(_A), "leaky_relu"),
    (lambda: F.elu(_A), "elu"), (lambda: F.hardtanh(_A), "hardtanh"),
    (lambda: F.softplus(_A), "softplus"), (lambda: F.relu6(_A), "relu6"),
    (lambda: F.dropout([1., 2.]), "dropout"), (lambda: F.layer_norm(_A, (4,)), "layer_norm"),
    (lambda: F.linear(_A[0, 0], torch.ones(2, 4)), "linear"),
    (lambda: torch.nn.Linear(4, 2)(_A[0, 0]), "linear"),
    (lambda: torch.nn.Embedding(3, 2)([1, 2]), "embedding"),
    (lambda: F.conv_transpose2d(_A, torch.ones(1, 1, 2, 2)), "conv_transpose2d"),
    (lambda: F.max_pool2d(_A, 2), "max_pool2d"), (lambda: F.avg_pool2d(_A, 2), "avg_pool2d"),
    (lambda: torch.nn.MaxPool1d(2)(_A[0]), "max_pool1d"), (lambda: F.avg_pool1d(_A[0], 2), "avg_pool1d"),
    (lambda: torch.nn.AdaptiveAvgPool1d(1)(_A[0]), "adaptive_avg_pool1d"),
    (lambda: torch.nn.PixelShuffle(2)(_A), "pixel_shuffle"), (lambda: F.pixel_unshuffle(_A, 2),
                                                        "pixel_unshuffle"),
    (lambda: torch.nn.Unfold(2)(_A), "im2col"), (lambda: F.fold(_A[0], (2, 2), (1, 1)), "col2im"),
    (lambda: F.cross_entropy([[1., 2.]], torch.tensor([0])), "cross_entropy_loss"),
    (lambda: F.nll_loss(_A[0, 0], torch.tensor([0, 0, 0, 0])), "nll_loss_nd"),
    (lambda: F.pad(_A, (1, 1)), "pad"),
])
def test_functionals_refuse_non_tensors(call, name):
    with pytest.raises(TypeError, match=rf"^{name}\(\): argument '\w+' \(position \d\) must be "
                                        r"Tensor, not (list|numpy\.ndarray)$"):
        call()


@pytest.mark.parametrize("conv, data", [(torch.nn.Conv1d(1, 1, 2), _A[0]),
                                        (torch.nn.Conv2d(1, 1, 2), _A), (torch.nn.Conv2d(1, 1, 2), _A.tolist())])
def test_convs_refuse_non_tensors(conv, data):
    with pytest.raises(TypeError, match=r"conv[12]d\(\) received an invalid combination of "
                                        r"arguments - got \((numpy\.ndarray|list), Parameter"):
        conv(data)
