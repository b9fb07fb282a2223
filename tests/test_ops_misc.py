"""finfo/iinfo, promote_types/can_cast, the random state round trip, the default device,
scalar_tensor, asarray, frombuffer, empty_strided, rsub, range and Tensor.new, against
PyTorch."""
import warnings

import numpy as np
import pytest

import cgrad
from test_more_ops import compare, same_error

torch = pytest.importorskip("torch")

FLOATS = ["float16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]


def test_finfo_iinfo():
    for name in FLOATS + [None]:
        ours = cgrad.finfo(getattr(cgrad, name)) if name else cgrad.finfo()
        theirs = torch.finfo(getattr(torch, name)) if name else torch.finfo()
        for field in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution",
                      "dtype"):
            assert getattr(ours, field) == getattr(theirs, field), (name, field)
        assert repr(ours) == repr(theirs)
    for name in INTS:
        ours, theirs = cgrad.iinfo(getattr(cgrad, name)), torch.iinfo(getattr(torch, name))
        for field in ("bits", "max", "min", "dtype"):
            assert getattr(ours, field) == getattr(theirs, field), (name, field)
        assert repr(ours) == repr(theirs)
    same_error(lambda m: m.finfo(m.int32), message=True)
    same_error(lambda m: m.iinfo(m.float32), message=True)
    same_error(lambda m: m.iinfo(m.bool))


def test_promote_types_and_can_cast():
    names = FLOATS + INTS + ["bool"]
    for a in names:
        for b in names:
            ca, cb, ta, tb = (getattr(m, n) for m in (cgrad, torch) for n in (a, b))
            assert str(cgrad.promote_types(ca, cb)).split(".")[1] == \
                str(torch.promote_types(ta, tb)).split(".")[1]
            assert cgrad.can_cast(ca, cb) == torch.can_cast(ta, tb), (a, b)


def test_result_type_of_tensors_and_numbers():
    """torch.result_type(tensor or number, tensor or number): dimensioned tensors over 0-d
    ones over Python numbers, within a category"""
    def operands(m):
        return [m.ones(2, dtype=m.int32), m.ones(2, dtype=m.bool), m.ones(2, dtype=m.float64),
                m.tensor(1.0), m.tensor(1, dtype=m.int32), m.tensor(True), 2, 2.5, True]
    for a, ta in zip(operands(cgrad), operands(torch)):
        for b, tb in zip(operands(cgrad), operands(torch)):
            assert str(cgrad.result_type(a, b)).split(".")[1] == \
                str(torch.result_type(ta, tb)).split(".")[1], (ta, tb)


def test_rng_state_round_trip():
    cgrad.manual_seed(3)
    state = cgrad.get_rng_state()
    assert state.dtype == cgrad.uint8 and state.ndim == 1
    first = [cgrad.rand(4), cgrad.randn(2, 2), cgrad.randint(0, 9, (5,))]
    cgrad.set_rng_state(state)
    again = [cgrad.rand(4), cgrad.randn(2, 2), cgrad.randint(0, 9, (5,))]
    assert all(cgrad.equal(a, b) for a, b in zip(first, again))
    assert cgrad.initial_seed() == 3
    with pytest.raises(TypeError):
        cgrad.set_rng_state(cgrad.ones(3))


def test_default_device():
    assert cgrad.get_default_device() == "cpu" and str(cgrad.get_default_device()) == \
        str(torch.get_default_device())
    cgrad.set_default_device("cpu")
    cgrad.set_default_device(None)
    with pytest.raises(RuntimeError):
        cgrad.set_default_device("cuda")


def test_creation_functions(backend):
    for s, kw in ((3, {}), (True, {}), (2.5, {"dtype": "float64"}), (7, {"dtype": "int32"})):
        kw_c = {k: getattr(cgrad, v) for k, v in kw.items()}
        kw_t = {k: getattr(torch, v) for k, v in kw.items()}
        a, b = cgrad.scalar_tensor(s, **kw_c), torch.scalar_tensor(s, **kw_t)
        assert a.item() == b.item() and str(a.dtype)[6:] == str(b.dtype)[6:] and a.ndim == 0
    for data in ([1, 2], [[1.5, 2.0]], 3.5, np.ones(2, np.float64), np.arange(3, dtype=np.int32)):
        compare(lambda m: m.asarray(data), grad=False)
    arr = np.arange(4.0)
    shared = cgrad.asarray(arr)
    arr[0] = 9.0
    assert shared[0].item() == 9.0 and cgrad.asarray(arr, copy=True)[0].item() == 9.0
    t = cgrad.ones(3)
    assert cgrad.asarray(t) is t
    buf = bytearray(b"\x01\x02\x03\x04\x05\x06\x07\x08")
    for kw in ({"dtype": "int16"}, {"dtype": "uint8", "count": 3, "offset": 2},
               {"dtype": "float32", "offset": 4}):
        ours = cgrad.frombuffer(bytearray(buf), **{**kw, "dtype": getattr(cgrad, kw["dtype"])})
        theirs = torch.frombuffer(bytearray(buf), **{**kw, "dtype": getattr(torch, kw["dtype"])})
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    b = bytearray(4)
    cgrad.frombuffer(b, dtype=cgrad.uint8)[1] = 7                     # shares the buffer
    assert b[1] == 7
    for size, stride in (((2, 3), (1, 2)), ((2, 3), (3, 1)), ((0, 2), (2, 1)), ((4,), (2,))):
        a, t = cgrad.empty_strided(size, stride), torch.empty_strided(size, stride)
        assert a.shape == t.shape and a.stride() == t.stride()


def test_rsub_range_new(backend):
    x = np.array([1.0, -2.0, 0.5])
    compare(lambda m, t: m.rsub(t, 5), x)
    compare(lambda m, t: m.rsub(t, 5, alpha=2), x)
    compare(lambda m, t, o: m.rsub(t, o), x, x[::-1].copy())
    compare(lambda m, t, o: m.rsub(t, o, alpha=0.5), x, np.array(3.0))
    compare(lambda m, t: m.rsub(t, 2), np.array([1, 2]), grad=False)
    for args in ((1, 4), (0, 1, 0.5), (5, 1, -2), (0, 0), (0.5, 2.3, 0.6)):
        for m in (cgrad, torch):
            with pytest.warns(UserWarning, match="deprecated"):
                m.range(*args)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compare(lambda m: m.range(*args), grad=False)
            compare(lambda m: m.range(*args, dtype=m.float64), grad=False)
    for m in (cgrad, torch):
        x = m.ones(2, dtype=m.float64)
        assert x.new(2, 3).shape == (2, 3) and x.new(2, 3).dtype == m.float64
        assert x.new([1, 2]).tolist() == [1.0, 2.0] and x.new([1, 2]).dtype == m.float64
        assert x.new().shape == (0,)
        with pytest.raises(TypeError):
            x.new(m.tensor([1, 2]))


@pytest.mark.parametrize("case", ["0-d", "0-d true", "0-d into 2-d", "2-d"])
def test_masked_fill_keeps_the_shape_as_torch(backend, case):
    """a 0-d tensor and mask stay 0-d (np.ascontiguousarray made them 1-d; NegativeBinomial's
    log_prob of a 0-d value had shape (1,))"""
    shape, mask = {"0-d": ((), False), "0-d true": ((), True),
                   "0-d into 2-d": ((2, 3), True), "2-d": ((2, 3), [[True, False, True]] * 2)}[case]
    x = np.random.default_rng(0).standard_normal(shape)
    compare(lambda m, t: t.masked_fill(m.tensor(mask), -1.5), x)
    compare(lambda m, t: t.masked_fill(m.tensor(mask), -1.5), x, layout="transposed")


@pytest.mark.parametrize("how", ["method", "in place", "setitem", "float64 value",
                                 "broadcast mask"])
def test_masked_fill_with_a_tensor_value_differentiates_the_value(backend, how):
    """the value's gradient is the sum of g over the mask (PyTorch's MaskedFillBackward1;
    cgrad gave the value none)"""
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((2, 3)).astype(np.float32)
    w = rng.standard_normal((2, 3)).astype(np.float32)
    results = []
    for m in (cgrad, torch):
        x = m.tensor(x0, requires_grad=True)
        v = m.tensor(0.5, dtype=m.float64 if how == "float64 value" else m.float32,
                     requires_grad=True)
        mask = m.tensor([True, False, True]) if how == "broadcast mask" else \
            m.tensor([[True, False, True], [False, False, True]])
        if how == "in place":
            y = (x * 1).masked_fill_(mask, v)
        elif how == "setitem":
            y = x * 1
            y[mask] = v
        else:
            y = x.masked_fill(mask, v)
        (y * m.tensor(w)).sum().backward()
        results.append((y.grad_fn.name(), y.detach().numpy(), x.grad.numpy(), v.grad.item(),
                        str(v.grad.dtype).split(".")[-1]))
    assert results[0][0] == results[1][0] and results[0][4] == results[1][4]
    for got, want in zip(results[0][1:4], results[1][1:4]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def test_masked_fill_value_gradient_differentiates_again(backend):
    x = cgrad.randn(2, 3, dtype=cgrad.float64, requires_grad=True)
    v = cgrad.tensor(0.5, dtype=cgrad.float64, requires_grad=True)
    mask = cgrad.tensor([True, False, True])
    assert cgrad.autograd.gradgradcheck(lambda a, b: a.masked_fill(mask, b) ** 2, (x, v))


def test_a_0d_integer_tensor_is_taken_as_a_dim():
    """PyTorch's parser takes a 0-d integer tensor where an int dim is expected (others:
    TypeError); cgrad raised TypeError for all"""
    results = []
    for m in (cgrad, torch):
        x = m.arange(6.0).reshape(2, 3)
        row = []
        for d in (m.tensor(1), m.tensor(-2, dtype=m.int32), m.tensor(1.0)):
            for call in (lambda: x.sum(d), lambda: x.unsqueeze(d), lambda: x.softmax(d),
                         lambda: x.transpose(d, 0), lambda: x.size(d), lambda: m.cat([x, x], d),
                         lambda: x.cumsum(d), lambda: x.argmax(d), lambda: x.flip(d)):
                try:
                    r = call()
                    row.append(r if isinstance(r, int) else
                               (tuple(r.shape), np.round(r.double().numpy(), 5).tolist()))
                except TypeError:
                    row.append("TypeError")
        results.append(row)
    assert results[0] == results[1]


NUMBER_FIRST = {
    "add 0.1 double": lambda m, d, i, b: m.add(0.1, d),
    "sub 0.1 double alpha": lambda m, d, i, b: m.sub(0.1, d, alpha=2),
    "mul 0.1 double": lambda m, d, i, b: m.mul(0.1, d),
    "div 0.1 double": lambda m, d, i, b: m.div(0.1, d),
    "pow 0.1 double": lambda m, d, i, b: m.pow(0.1, d),
    "remainder 0.1 double": lambda m, d, i, b: m.remainder(0.1, d),
    "add 2.5 int32": lambda m, d, i, b: m.add(2.5, i),
    "add 2**40 int32 (wraps)": lambda m, d, i, b: m.add(2 ** 40, i),
    "add True bool": lambda m, d, i, b: m.add(True, b),
    "div floor 7 int32": lambda m, d, i, b: m.div(7, i, rounding_mode="floor"),
    "multiply": lambda m, d, i, b: m.multiply(0.1, d),
    "subtract": lambda m, d, i, b: m.subtract(2, i),
    "divide": lambda m, d, i, b: m.divide(0.3, d),
    "true_divide": lambda m, d, i, b: m.true_divide(2.5, i),
    "floor_divide": lambda m, d, i, b: m.floor_divide(7.5, i),
    "fmod refuses a number": lambda m, d, i, b: m.fmod(2.5, d),
    "exp refuses a number": lambda m, d, i, b: m.exp(2.5),
    "clamp refuses a number": lambda m, d, i, b: m.clamp(2.5, 0),
}


@pytest.mark.parametrize("name", list(NUMBER_FIRST))
def test_functions_with_a_number_first(name):
    """torch.add(0.1, t) and its kin take the number as a double: cgrad made it a float32
    tensor first (1.1000000015 for a float64 t); multiply, subtract, divide, true_divide and
    floor_divide take a number first too; the other functions raise TypeError, not
    AttributeError"""
    outcomes = []
    for m in (cgrad, torch):
        args = (m.tensor([1.0, 3.0], dtype=m.float64), m.tensor([3, -2], dtype=m.int32),
                m.tensor([True, False]))
        try:
            r = NUMBER_FIRST[name](m, *args)
            outcomes.append((str(r.dtype).split(".")[1], r.tolist()))
        except TypeError:                  # (torch's message lists its overloads)
            outcomes.append("TypeError")
    assert outcomes[0] == outcomes[1]


def test_casts_of_expanded_tensors_are_row_major():
    """x.expand(...).long() / .double() / .to(int32) is laid out row-major as in PyTorch
    (NumPy's order 'K' gave column-major strides, and .view(-1) then refused it); dense
    inputs keep their order"""
    results = []
    for m in (cgrad, torch):
        e = m.tensor([1.0, 2.0]).expand(3, 2)
        x = m.arange(6.0).reshape(2, 3).t()
        b = m.ones(2, 1, 3).expand(2, 4, 3)
        casts = [e.long(), e.double(), e.to(m.int32), x.long(), x.double(), b.double(),
                 b.long(), m.tensor([1, 2]).expand(3, 2).float()]
        results.append([(t.stride(), t.is_contiguous()) for t in casts] +
                       [e.long().view(-1).tolist(), b.double().view(-1).tolist()])
    assert results[0] == results[1]


@pytest.mark.parametrize("args", [(0,), (3,), (0, 0), ((3, 0), (0, 1))], ids=str)
def test_roll_without_a_shift_is_a_new_tensor(backend, args):
    """roll by a whole turn (or none) returns new memory, as PyTorch's: cgrad returned the
    input itself (or a view of it), so writing the result wrote the input"""
    for m in (cgrad, torch):
        x = m.arange(6.0).reshape(3, 2)
        y = x.roll(*args)
        y.add_(1)
        assert x.tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
