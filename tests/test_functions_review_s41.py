"""PyTorch's behaviour where a review (s41) found cgrad's to differ: tuple out= for the
functions returning (values, indices), out= for cat and the stacks, the search functions'
argument checks, meshgrid's, tril's diagonal, tensor(None), linspace's steps, and cumsum's and
cumprod's backward with a dtype="""
import warnings

import numpy as np
import pytest

import cgrad


@pytest.fixture
def x():
    return cgrad.tensor([[1., 5, 3], [4, 2, 6]])


@pytest.mark.parametrize("call, values, indices", [
    (lambda x, o: cgrad.max(x, 1, out=o), [5., 6.], [1, 2]),
    (lambda x, o: cgrad.min(x, 0, True, out=o), [[1., 2., 3.]], [[0, 1, 0]]),
    (lambda x, o: cgrad.sort(x, 1, out=list(o)), [[1., 3., 5.], [2., 4., 6.]],
     [[0, 2, 1], [1, 0, 2]]),
    (lambda x, o: cgrad.topk(x, 2, out=o), [[5., 3.], [6., 4.]], [[1, 2], [2, 0]]),
    (lambda x, o: cgrad.kthvalue(x, 2, 1, out=o), [3., 4.], [2, 0]),
    (lambda x, o: cgrad.median(x, 1, out=o), [3., 4.], [2, 0]),
    (lambda x, o: cgrad.cummax(x, 1, out=o), [[1., 5., 5.], [4., 4., 6.]],
     [[0, 1, 1], [0, 0, 2]]),
])
def test_tuple_out_fills_both_and_returns_them(x, call, values, indices):
    out = (cgrad.empty(0), cgrad.empty(0, dtype=cgrad.long))
    result = call(x, out)
    assert result.values is out[0] and result.indices is out[1]
    assert type(result).__name__.endswith("_out")
    assert out[0].tolist() == values and out[1].tolist() == indices


def test_tuple_out_errors(x):
    v, i = cgrad.empty(0), cgrad.empty(0, dtype=cgrad.long)
    with pytest.raises(TypeError, match="expected tuple of 2 elements but got 1"):
        cgrad.max(x, 1, out=(v,))
    with pytest.raises(RuntimeError, match="Expected out tensor to have dtype long int, but got "
                                           "float instead"):
        cgrad.max(x, 1, out=(v, v))
    with pytest.raises(TypeError, match="expected Tensor as element 1"):
        cgrad.max(x, 1, out=(v, 3))
    with pytest.raises(TypeError, match="argument 'out' must be Tensor, not tuple"):
        cgrad.sum(x, 1, out=(v,))
    r = cgrad.aminmax(x, dim=1, out=(cgrad.empty(0), cgrad.empty(0)))
    assert type(r).__name__ == "aminmax_out" and r.min.tolist() == [1., 2.]


def test_resizing_a_nonempty_out_warns(x):
    with pytest.warns(UserWarning, match=r"was resized since it had shape \[2\], which does not "
                                         r"match the required output shape \[4, 3\]"):
        cgrad.cat([x, x], out=cgrad.ones(2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cgrad.cat([x, x], out=cgrad.empty(0))          # an empty out resizes silently


@pytest.mark.parametrize("join, shape", [
    (lambda ts, o: cgrad.cat(ts, out=o), [4, 3]), (lambda ts, o: cgrad.concat(ts, out=o), [4, 3]),
    (lambda ts, o: cgrad.stack(ts, 1, out=o), [2, 2, 3]),
    (lambda ts, o: cgrad.hstack(ts, out=o), [2, 6]), (lambda ts, o: cgrad.vstack(ts, out=o), [4, 3]),
    (lambda ts, o: cgrad.dstack(ts, out=o), [2, 3, 2]),
    (lambda ts, o: cgrad.column_stack(ts, out=o), [2, 6]),
    (lambda ts, o: cgrad.row_stack(ts, out=o), [4, 3]),
])
def test_joins_take_out(x, join, shape):
    out = cgrad.empty(0, dtype=cgrad.float64)
    assert join([x, x + 1], out) is out
    assert list(out.shape) == shape and out.dtype == cgrad.float64
    np.testing.assert_array_equal(np.sort(out.numpy(), axis=None),
                                  np.sort(np.concatenate([x.numpy(), x.numpy() + 1]), axis=None))


def test_cat_into_a_narrower_out_raises(x):
    with pytest.raises(TypeError, match="torch.cat\\(\\): input types can't be cast to the "
                                        "desired output type Long"):
        cgrad.cat([x, x], out=cgrad.empty(0, dtype=cgrad.long))


def test_search_functions_check_their_arguments():
    t = cgrad.tensor([1., 3., 5.])
    for call in (lambda: cgrad.searchsorted(t, [2, 4]), lambda: cgrad.searchsorted([1, 3], t),
                 lambda: cgrad.bucketize(t, [1, 2]), lambda: cgrad.bucketize([2.5], t)):
        with pytest.raises(TypeError, match="received an invalid combination of arguments"):
            call()
    assert cgrad.searchsorted(t, 2.5).item() == 1 and cgrad.bucketize(2.5, t).item() == 1
    for sorter in ([0, 1, 5], [0, 1, -1]):
        with pytest.raises(RuntimeError, match="sorter index out of range"):
            cgrad.searchsorted(t, cgrad.tensor([2.]), sorter=cgrad.tensor(sorter))


def test_meshgrid_checks():
    with pytest.raises(RuntimeError, match="meshgrid expects all tensors to have the same dtype"):
        cgrad.meshgrid(cgrad.tensor([1, 3]), cgrad.tensor([1., 2.]), indexing="ij")
    for call in (lambda: cgrad.meshgrid(indexing="ij"), lambda: cgrad.meshgrid([], indexing="ij")):
        with pytest.raises(RuntimeError, match="meshgrid expects a non-empty TensorList"):
            call()


def test_tril_triu_diagonal_must_be_an_int():
    m = cgrad.ones(3, 3)
    for call, name, got in ((lambda: m.tril(1.5), "tril", "float"),
                            (lambda: m.triu(1.0), "triu", "float"),
                            (lambda: cgrad.tril(m, 1.5), "tril", "float"),
                            (lambda: m.clone().tril_(True), "tril_", "bool")):
        with pytest.raises(TypeError, match=f"{name}\\(\\): argument 'diagonal' .* must be int, "
                                            f"not {got}"):
            call()
    assert m.tril(np.int64(-1)).sum().item() == 3


def test_tensor_of_none_raises_runtime_error():
    for data in (None, [None], [None, None]):
        with pytest.raises(RuntimeError, match="Could not infer dtype of NoneType"):
            cgrad.tensor(data)


def test_linspace_and_logspace_steps():
    assert cgrad.linspace(0, 1, cgrad.tensor(5)).tolist() == [0., .25, .5, .75, 1.]
    assert len(cgrad.logspace(0, 1, cgrad.tensor(3))) == 3
    for steps in (5.0, cgrad.tensor(5.)):
        with pytest.raises(TypeError, match="linspace\\(\\) received an invalid combination"):
            cgrad.linspace(0, 1, steps)


def test_cumsum_cumprod_backward_cast_g_to_the_input_dtype_first():
    g = cgrad.tensor([.1, .2, .3, .7])
    x = cgrad.tensor([1., 2, 3, 4], dtype=cgrad.float64, requires_grad=True)
    x.cumsum(0, dtype=cgrad.float32).backward(g)
    assert x.grad.tolist() == [1.3000000044703484, 1.2000000029802322, 1.0, 0.699999988079071]
    x.grad = None
    y = x.cumprod(0, dtype=cgrad.float32)
    assert y.dtype == cgrad.float32 and y.grad_fn.name() == "CumprodBackward0"
    y.backward(g)
    assert x.grad.tolist() == [19.09999979287386, 9.499999895691872, 6.199999928474426,
                               4.199999928474426]
    z = cgrad.tensor([1., 0, 3, 4], dtype=cgrad.float64, requires_grad=True)
    z.cumprod(0, dtype=cgrad.float32).backward(g)
    assert z.grad.tolist() == [0.10000000149011612, 9.499999895691872, 0.0, 0.0]
    assert cgrad.tensor([1.1, 2.2, 3.3], dtype=cgrad.float64).cumprod(
        0, dtype=cgrad.float32).tolist() == [1.100000023841858, 2.4200000762939453,
                                             7.986000061035156]


def test_out_results_pickle_and_stay_out_of_all(x):
    import pickle
    out = (cgrad.empty(0), cgrad.empty(0, dtype=cgrad.long))
    result = cgrad.max(x, 1, out=out)
    assert type(result) is cgrad.return_types.max_out
    assert "max_out" not in cgrad.return_types.__all__
    assert repr(result).startswith("cgrad.return_types.max_out(\nvalues=")
    back = pickle.loads(pickle.dumps(result))
    assert type(back) is type(result) and back.indices.tolist() == [1, 2]


@pytest.mark.parametrize("args", [
    (0, 10, 7, 10.0, None), (-3, 3, 9, 2.0, None), (0.1, 5.3, 11, 10.0, "float32"),
    (0.1, 5.3, 11, 10.0, "float64"), (0.1, 5.3, 1, 10.0, "float32"), (1, 3, 5, 2, "int64"),
    (0.5, 2.7, 6, 3.0, "int32"), (0.1, 5.3, 11, 10.0, "float16"), (2, -4, 13, 1.5, "float32"),
    (-1.7, 38.2, 40, 10.0, "float32"), (1, 100, 3, -2.0, "float64"),
    (0.1, 0.2, 1000, 7.0, "float64")])
def test_logspace_is_pytorchs_loop(args):
    # the ends rounded to the dtype, the step in double from their difference in the dtype,
    # the second half counted down from the end, C's pow: float32 values were 1-6 ulp off
    torch = pytest.importorskip("torch")
    start, end, steps, base, dtype = args
    got = []
    for m in (cgrad, torch):
        kw = {} if dtype is None else {"dtype": getattr(m, dtype)}
        got.append(m.logspace(start, end, steps, base, **kw).numpy())
    assert got[0].dtype == got[1].dtype
    np.testing.assert_array_equal(got[0], got[1])
