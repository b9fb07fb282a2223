"""Sums over every element and over the trailing dims in PyTorch's CPU order (its
cascade_sum: vectors of 32 bytes, four to a row, a cascade of partial sums), on both backends:
the compiled kernel (cgrad._C.reduce.torch_sum, sum_rows_) and the NumPy backend's emulation
(numpy_backend.torch_sums) give the same bits as each other and as torch's sum and mean."""
import numpy as np
import pytest

import cgrad
from cgrad._C import reduce as rd
from cgrad.backends.numpy_backend import torch_sum, torch_sums

SIZES = list(range(0, 70)) + [127, 128, 129, 511, 512, 513, 4095, 4096, 4097, 32767, 65536,
                              65537, 300001]


def _data(n, dtype, seed):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(n) * rng.uniform(0.1, 100)).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_and_numpy_orders_agree(dtype):
    for i, n in enumerate(SIZES):
        x = _data(n, dtype, i)
        got = rd.torch_sum(x)
        assert got.dtype == dtype and got.shape == ()
        np.testing.assert_array_equal(got, torch_sum(x), err_msg=str(n))
    x = _data(4097, dtype, 5)
    np.testing.assert_array_equal(rd.torch_sum(x, True), torch_sum(x) / dtype(4097))
    with np.errstate(invalid="ignore"):
        assert np.isnan(rd.torch_sum(x[:0], True))                    # 0 / 0
    rows = _data(37 * 91, dtype, 99).reshape(37, 91)
    out = np.empty(37, dtype)
    rd.sum_rows_(rows, out)
    np.testing.assert_array_equal(out, torch_sums(rows))
    np.testing.assert_array_equal(out, [rd.torch_sum(r) for r in rows])


def test_the_cascades_levels_and_threads():
    """2**19 rows and more take levels of 32 rows (power 5); the top-level blocks run in
    parallel and are added in order: 1 and 2 threads give the same bits"""
    x = _data(2 ** 19 * 32 + 12345, np.float32, 7)
    want = torch_sum(x)
    before = cgrad.get_num_threads()
    try:
        for threads in (1, 2):
            cgrad.set_num_threads(threads)
            np.testing.assert_array_equal(rd.torch_sum(x), want)
            out = np.empty(1, np.float32)
            rd.sum_rows_(x.reshape(1, -1), out)                  # a single long row
            np.testing.assert_array_equal(out[0], want)
    finally:
        cgrad.set_num_threads(before)


def test_special_values(backend):
    for values in ([-0.0], [-0.0, -0.0], [np.nan, 1.0], [np.inf, -np.inf], [np.inf, 1.0],
                   [3e38, 3e38]):
        for dtype in (np.float32, np.float64):
            x = np.array(values * 9, dtype)
            with np.errstate(all="ignore"):
                want = torch_sum(x)
            got = cgrad.tensor(x).sum().numpy()
            np.testing.assert_array_equal(got, want)
            if got == 0:
                assert not np.signbit(got)                        # (a zeroed output: +0)
            assert np.isnan(got) == (np.isnan(x).any() or (np.isinf(x).any() and
                                                            (x == -x[0]).any()))


def test_sum_mean_and_their_dims_on_both_backends(backend):
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        x = rng.standard_normal((6, 7, 50)).astype(dtype)
        t = cgrad.from_numpy(x)
        np.testing.assert_array_equal(t.sum().numpy(), torch_sum(x.reshape(-1)))
        np.testing.assert_array_equal(t.sum((0, 1, 2)).numpy(), torch_sum(x.reshape(-1)))
        np.testing.assert_array_equal(t.mean().numpy(),
                                      torch_sum(x.reshape(-1)) / dtype(x.size))
        np.testing.assert_array_equal(t.sum(2).numpy(), torch_sums(x.reshape(42, 50)).reshape(6, 7))
        np.testing.assert_array_equal(t.sum((1, 2), keepdim=True).numpy(),
                                      torch_sums(x.reshape(6, 350)).reshape(6, 1, 1))
        np.testing.assert_array_equal(t.mean(-1).numpy(),
                                      torch_sums(x.reshape(42, 50)).reshape(6, 7) / dtype(50))
        # a transpose is summed in memory order, as PyTorch's iterator does
        np.testing.assert_array_equal(t.transpose(0, 2).sum().numpy(), torch_sum(x.reshape(-1)))


def test_matches_torch(backend):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                # (its reduction splits over threads past 32768)
    try:
        rng = np.random.default_rng(11)
        for dtype in (np.float32, np.float64):
            for n in (5, 8, 15, 16, 33, 100, 1000, 4097, 100000):
                x = (rng.standard_normal(n) * 37).astype(dtype)
                assert cgrad.tensor(x).sum().item() == torch.from_numpy(x).sum().item()
                assert cgrad.tensor(x).mean().item() == torch.from_numpy(x).mean().item()
            x = rng.standard_normal((64, 10)).astype(dtype)
            np.testing.assert_array_equal(cgrad.from_numpy(x).sum(1).numpy(),
                                          torch.from_numpy(x).sum(1).numpy())
            np.testing.assert_array_equal(cgrad.from_numpy(x).mean(-1).numpy(),
                                          torch.from_numpy(x).mean(-1).numpy())
    finally:
        torch.set_num_threads(threads)


def test_dense_in_memory_order_reads_strides_exactly():
    """dense: C-contiguous, a transpose, a 0 stride on a size-1 dim; not dense: a broadcast
    (a 0 stride on a longer dim), a reversal, gaps"""
    from cgrad.backends.numpy_backend import dense_in_memory_order
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    odd = np.lib.stride_tricks.as_strided(a.T, shape=(4, 3, 1), strides=(4, 16, 0))
    for x in (a, a.T, odd):
        np.testing.assert_array_equal(dense_in_memory_order(x), np.arange(12))
    for x in (np.broadcast_to(np.float32(1), (5, 1)), a[::-1], a[:, ::2]):
        assert dense_in_memory_order(x) is None
