"""Storages: Tensor.untyped_storage() / storage(), UntypedStorage, TypedStorage and the legacy
classes, Tensor.set_ / is_set_to, from_file; compared with PyTorch where it is installed."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import cgrad
from cgrad import storage as cgrad_storage


def _torch():
    return pytest.importorskip("torch")


def _raises_like(torch_call, cgrad_call):
    """both raise, the same exception class and message (module names aside)"""
    with pytest.raises(Exception) as expected:
        torch_call()
    with pytest.raises(type(expected.value)) as got:
        cgrad_call()
    assert str(got.value).replace("cgrad", "torch") == str(expected.value)


# ---- a tensor's storage ----------------------------------------------------------------------
def test_untyped_storage_is_the_memory_views_share():
    x = cgrad.arange(12.).reshape(3, 4)
    u = x.untyped_storage()
    assert u.nbytes() == u.size() == len(u) == 48 and u.element_size() == 1
    for view in (x[1:], x.t(), x[:, 2], x.view(12)[5:9], x.detach(), x.data):
        assert view.untyped_storage().data_ptr() == u.data_ptr()
        assert view.untyped_storage().nbytes() == 48
        assert u.data_ptr() + view.storage_offset() * 4 == view.data_ptr()
    assert cgrad.arange(12.).untyped_storage().data_ptr() != u.data_ptr()
    assert x.clone().untyped_storage().data_ptr() != u.data_ptr()


def test_storage_bytes_and_elements_match_torch():
    torch = _torch()
    values = [0., 1.5, 2., 3.25]
    for dtype in ("float32", "float64", "int64", "int32", "uint8", "bool"):
        t = torch.tensor(values, dtype=getattr(torch, dtype))
        c = cgrad.tensor(values, dtype=getattr(cgrad, dtype))
        assert c.untyped_storage().tolist() == t.untyped_storage().tolist()
        assert c._typed_storage().tolist() == t._typed_storage().tolist()
        assert c._typed_storage().size() == t._typed_storage().size()
        assert c._typed_storage()[1] == t._typed_storage()[1]
        assert c._typed_storage()[-1] == t._typed_storage()[-1]
        assert repr(c._typed_storage()).replace("cgrad", "torch") == repr(t._typed_storage())
        assert repr(c.untyped_storage()).replace("cgrad", "torch") == repr(t.untyped_storage())
        assert c.storage_type().__name__ == t.storage_type().__name__
        assert c._typed_storage().type().replace("cgrad", "torch") == t._typed_storage().type()
        assert c._typed_storage().pickle_storage_type() == \
            t._typed_storage().pickle_storage_type()


def test_writes_through_a_storage_show_in_the_tensor():
    x = cgrad.zeros(4)
    s = x.storage()
    s[1] = 2.5
    s[2:4] = 7
    assert x.tolist() == [0., 2.5, 7., 7.]
    s.fill_(3)
    assert x.tolist() == [3.] * 4
    u = x.untyped_storage()
    u[0:4] = 0                              # the first float's bytes
    assert x.tolist() == [0., 3., 3., 3.]
    u.fill_(0)
    assert x.tolist() == [0.] * 4


def test_storage_warns_once_as_pytorch(monkeypatch):
    monkeypatch.setattr(cgrad_storage, "_warned", [False])
    x = cgrad.ones(2)
    with pytest.warns(UserWarning, match="TypedStorage is deprecated"):
        x.storage()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x.storage()
        cgrad.FloatStorage(2)


def test_storage_indexing_errors_match_torch():
    torch = _torch()
    for lib in (torch, cgrad):
        lib.ones(1).storage()                  # (its one warning, out of the comparisons)
    t, c = torch.arange(6.), cgrad.arange(6.)
    _raises_like(lambda: t.storage()[6], lambda: c.storage()[6])
    _raises_like(lambda: t.storage()[-7], lambda: c.storage()[-7])
    _raises_like(lambda: t.storage()[1:3], lambda: c.storage()[1:3])
    _raises_like(lambda: t.untyped_storage()[::2], lambda: c.untyped_storage()[::2])
    _raises_like(lambda: t.untyped_storage()[1.0], lambda: c.untyped_storage()[1.0])
    _raises_like(lambda: t.untyped_storage()[24], lambda: c.untyped_storage()[24])
    with pytest.raises(RuntimeError, match="can't index"):
        c.storage()["a"]
    assert c.untyped_storage()[4:8].tolist() == t.untyped_storage()[4:8].tolist()
    assert c.untyped_storage()[-1] == t.untyped_storage()[-1]


# ---- new storages ----------------------------------------------------------------------------
def test_constructors_match_torch():
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = [(torch.FloatStorage([1, 2.5]), cgrad.FloatStorage([1, 2.5])),
                 (torch.LongStorage([1, 2.5, -3.7]), cgrad.LongStorage([1, 2.5, -3.7])),
                 (torch.BoolStorage([0, 2]), cgrad.BoolStorage([0, 2])),
                 (torch.UntypedStorage([1, 2, 300, -1]), cgrad.UntypedStorage([1, 2, 300, -1])),
                 (torch.TypedStorage([1, 2]), cgrad.TypedStorage([1, 2])),
                 (torch.TypedStorage([3], dtype=torch.float64),
                  cgrad.TypedStorage([3], dtype=cgrad.float64))]
        for t, c in pairs:
            assert c.tolist() == t.tolist() and c.size() == t.size() and c.nbytes() == t.nbytes()
            assert repr(c).replace("cgrad", "torch") == repr(t)
        assert cgrad.FloatStorage(3).size() == 3 and cgrad.UntypedStorage(5).nbytes() == 5
        assert cgrad.UntypedStorage().nbytes() == 0 and cgrad.DoubleStorage().size() == 0
        assert cgrad.FloatStorage.dtype is cgrad.float32 and cgrad.Storage is cgrad.FloatStorage
        assert cgrad.TypedStorage(2).dtype is cgrad.float32
        wrapped = cgrad.TypedStorage(dtype=cgrad.float64, wrap_storage=cgrad.UntypedStorage(16))
        assert wrapped.size() == 2 and wrapped.dtype is cgrad.float64
        for make in (lambda lib: lib.UntypedStorage(-1), lambda lib: lib.FloatStorage(-1)):
            with pytest.raises(RuntimeError):
                make(torch)
            with pytest.raises(RuntimeError, match="non-negative"):
                make(cgrad)
        _raises_like(lambda: torch.UntypedStorage("ab"), lambda: cgrad.UntypedStorage("ab"))
        _raises_like(lambda: torch.ByteStorage([1, 300]), lambda: cgrad.ByteStorage([1, 300]))
        assert cgrad.ByteStorage([1.5, 3]).tolist() == torch.ByteStorage([1.5, 3]).tolist()
        with pytest.raises(RuntimeError, match="'dtype' cannot be specified"):
            cgrad.FloatStorage(2, dtype=cgrad.float64)
        with pytest.raises(RuntimeError, match="No positional arguments"):
            cgrad.TypedStorage(2, wrap_storage=cgrad.UntypedStorage(8))


def test_casts_copies_and_clones_match_torch():
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t, c = torch.FloatStorage([1.5, -2, 255]), cgrad.FloatStorage([1.5, -2, 255])
        for name in ("double", "long", "int", "short", "char", "byte", "bool", "half", "float"):
            assert getattr(c, name)().tolist() == getattr(t, name)().tolist(), name
            assert getattr(c, name)().dtype.name == str(getattr(t, name)().dtype)[6:], name
        assert c.float() is c
        ut, uc = torch.UntypedStorage([1, 200]), cgrad.UntypedStorage([1, 200])
        assert uc.float().tolist() == ut.float().tolist()
        assert uc.type().replace("cgrad", "torch") == ut.type()
        assert c.type("torch.DoubleStorage").tolist() == t.double().tolist()   # (torch's
        assert c.type(cgrad.LongStorage).tolist() == t.long().tolist()          # type(x) fails)
        # copy_ copies bytes, as PyTorch's: a float64 storage of half the size fits
        dt, dc = torch.DoubleStorage([1, 2]), cgrad.DoubleStorage([1, 2])
        t4, c4 = torch.FloatStorage(4), cgrad.FloatStorage(4)
        assert c4.copy_(dc).tolist() == t4.copy_(dt).tolist()
        _raises_like(lambda: t.copy_(dt), lambda: c.copy_(dc))
        clone = c.clone()
        clone[0] = 9
        assert c[0] == 1.5 and clone.data_ptr() != c.data_ptr()
        for s in (c, uc, cgrad.arange(3.).untyped_storage()):
            for again in (pickle.loads(pickle.dumps(s)), copy.deepcopy(s)):
                assert isinstance(again, type(s)) and again.tolist() == s.tolist()
                assert again.data_ptr() != s.data_ptr()
        assert isinstance(cgrad.ones(2).storage(), cgrad.FloatStorage)
        assert not isinstance(cgrad.ones(2).storage(), cgrad.DoubleStorage)
        assert isinstance(cgrad.FloatStorage(1), cgrad.TypedStorage)
        assert cgrad.is_storage(c) and cgrad.is_storage(uc) and not cgrad.is_storage(cgrad.ones(1))
        assert cgrad.storage.UntypedStorage is cgrad.UntypedStorage
        assert cgrad.tensor(cgrad.FloatStorage([1, 2])).tolist() == [1., 2.]


def test_resize_only_where_no_tensor_follows():
    torch = _torch()
    x_t = torch.from_numpy(np.arange(4, dtype=np.float32))
    _raises_like(lambda: x_t.untyped_storage().resize_(64),
                 lambda: cgrad.arange(4.).untyped_storage().resize_(64))
    assert not cgrad.arange(4.).untyped_storage().resizable()
    u = cgrad.UntypedStorage([1, 2, 3])
    assert u.resizable() and u.resize_(5).tolist() == [1, 2, 3, 0, 0]
    assert u.resize_(2).tolist() == [1, 2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = cgrad.FloatStorage([1, 2])
        assert f.resize_(3) is None and f.tolist() == [1, 2, 0]      # None, as PyTorch's


def test_byteswap_and_from_buffer_match_torch():
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = np.arange(4, dtype=np.float32).tobytes()
        for order in ("native", "little", "big"):
            t = torch.FloatStorage.from_buffer(data, order)
            c = cgrad.FloatStorage.from_buffer(data, order)
            assert c.tolist() == t.tolist()
        assert cgrad.UntypedStorage.from_buffer(b"abcd", dtype=cgrad.uint8).tolist() == \
            torch.UntypedStorage.from_buffer(b"abcd", dtype=torch.uint8).tolist()
        _raises_like(lambda: torch.UntypedStorage.from_buffer(b"ab"),
                     lambda: cgrad.UntypedStorage.from_buffer(b"ab"))
        ut, uc = torch.UntypedStorage(list(range(8))), cgrad.UntypedStorage(list(range(8)))
        ut.byteswap(torch.float32)
        uc.byteswap(cgrad.float32)
        assert uc.tolist() == ut.tolist()


# ---- set_ and is_set_to ---------------------------------------------------------------------
@pytest.mark.parametrize("args", [(2, (2, 2), (1, 2)), (0, (6,)), (1, (2, 2)), (3, (0, 2)),
                                  (5, (1,), (7,)), (0, (2, 3), None)])
def test_set_to_a_storage_geometry_matches_torch(args):
    torch = _torch()
    t_x, c_x = torch.arange(6.), cgrad.arange(6.)
    t = torch.empty(0).set_(t_x.untyped_storage(), *args)
    c = cgrad.empty(0).set_(c_x.untyped_storage(), *args)
    assert c.shape == t.shape and c.stride() == t.stride()
    assert c.storage_offset() == t.storage_offset() and c.tolist() == t.tolist()
    assert c.untyped_storage().data_ptr() == c_x.untyped_storage().data_ptr()
    assert c._version == t._version == 1
    c.fill_(-1)
    t.fill_(-1)
    assert c_x.tolist() == t_x.tolist()                 # the same memory


def test_set_variants_match_torch():
    torch = _torch()
    t_x, c_x = torch.arange(6.).view(2, 3), cgrad.arange(6.).view(2, 3)
    t, c = torch.empty(0).set_(t_x), cgrad.empty(0).set_(c_x)
    assert c.shape == t.shape and c.is_set_to(c_x) and t.is_set_to(t_x)
    assert c_x.is_set_to(c_x[:]) == t_x.is_set_to(t_x[:])
    assert c_x.is_set_to(c_x.view(6)) == t_x.is_set_to(t_x.view(6))
    assert c_x.is_set_to(c_x.clone()) == t_x.is_set_to(t_x.clone())
    t2, c2 = torch.empty(0).set_(t_x, 1, (2,), (3,)), cgrad.empty(0).set_(c_x, 1, (2,), (3,))
    assert c2.tolist() == t2.tolist()
    assert cgrad.ones(3).set_().shape == torch.ones(3).set_().shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t3 = torch.empty(0, dtype=torch.float64).set_(torch.DoubleStorage([1, 2]))
        c3 = cgrad.empty(0, dtype=cgrad.float64).set_(cgrad.DoubleStorage([1, 2]))
        assert c3.tolist() == t3.tolist()
        f64 = (torch.float64, cgrad.float64)
        _raises_like(lambda: torch.empty(0, dtype=f64[0]).set_(t_x.storage()),
                     lambda: cgrad.empty(0, dtype=f64[1]).set_(c_x.storage()))
    f64 = (torch.float64, cgrad.float64)
    _raises_like(lambda: torch.empty(0, dtype=f64[0]).set_(t_x),
                 lambda: cgrad.empty(0, dtype=f64[1]).set_(c_x))
    for bad in [(-1, (2,)), (0, (2, 3), (1,)), (0, (2,), (-1,))]:
        _raises_like(lambda: torch.empty(0).set_(t_x.untyped_storage(), *bad),
                     lambda: cgrad.empty(0).set_(c_x.untyped_storage(), *bad))
    with pytest.raises(RuntimeError, match="out of bounds"):
        cgrad.empty(0).set_(c_x.untyped_storage(), 2, (20,))
    with pytest.raises(TypeError):
        torch.empty(0).set_(3)
    with pytest.raises(TypeError, match="must be a Tensor or a storage"):
        cgrad.empty(0).set_(3)
    _raises_like(lambda: t_x.is_set_to(3), lambda: c_x.is_set_to(3))


def test_set_with_autograd_as_torch():
    torch = _torch()
    for lib in (torch, cgrad):
        leaf = lib.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            leaf.set_(lib.ones(2))
        with lib.no_grad():
            leaf.set_(lib.ones(2))
        assert leaf.requires_grad and leaf.is_leaf and leaf.shape == (2,)
        (leaf * 3).sum().backward()
        assert leaf.grad.tolist() == [3., 3.]
    with pytest.raises(RuntimeError, match="set_ is not differentiable"):     # (torch: a
        cgrad.zeros(3).set_(cgrad.ones(3, requires_grad=True))  # backward that raises later)


def test_set_over_other_dtypes_and_then_strided_views():
    raw = cgrad.UntypedStorage(list(range(16)))
    x = cgrad.empty(0, dtype=cgrad.int32).set_(raw)
    assert x.shape == (4,) and x.tolist() == np.arange(16, dtype=np.uint8).view(np.int32).tolist()
    y = cgrad.empty(0, dtype=cgrad.int16).set_(x.untyped_storage(), 1, (3,), (2,))
    assert y.tolist() == np.arange(16, dtype=np.uint8).view(np.int16)[1::2][:3].tolist()
    assert x.as_strided((2,), (2,), 1).tolist() == x.tolist()[1::2]
    assert y.as_strided((2,), (1,), 0).tolist() == \
        np.arange(16, dtype=np.uint8).view(np.int16)[:2].tolist()
    x.resize_(2)
    assert x.tolist() == np.arange(8, dtype=np.uint8).view(np.int32).tolist()
    with pytest.raises(RuntimeError, match="storage_offset"):      # PyTorch's check
        cgrad.empty(0, dtype=cgrad.uint8).set_(raw)[1:9].view(cgrad.int32)
    odd = cgrad.from_numpy(np.zeros(9, np.uint8)[1:].view(np.int32))   # NumPy lets one
    with pytest.raises(NotImplementedError, match="whole number"):
        odd.as_strided((1,), (1,))


# ---- files -----------------------------------------------------------------------------------
def test_from_file_matches_torch(tmp_path):
    torch = _torch()
    path = tmp_path / "data.bin"
    np.arange(4, dtype=np.float32).tofile(path)
    for lib in (torch, cgrad):
        assert lib.from_file(str(path), size=4).tolist() == [0., 1., 2., 3.]
        assert lib.from_file(str(path)).shape == (0,)
    _raises_like(lambda: torch.from_file(str(path), size=3, dtype=torch.float64),
                 lambda: cgrad.from_file(str(path), size=3, dtype=cgrad.float64))
    missing = str(tmp_path / "missing.bin")
    _raises_like(lambda: torch.from_file(missing, size=2),
                 lambda: cgrad.from_file(missing, size=2))
    private = cgrad.from_file(str(path), shared=False, size=4)
    private[0] = 7                                          # a copy: the file keeps its bytes
    assert np.fromfile(path, np.float32)[0] == 0
    shared = cgrad.from_file(str(path), shared=True, size=4)
    shared[0] = 9                                           # mapped: the file changes
    assert np.fromfile(path, np.float32)[0] == 9
    made = tmp_path / "made.bin"
    assert cgrad.from_file(str(made), shared=True, size=2).tolist() == [0., 0.]
    assert made.stat().st_size == 8
    u = cgrad.UntypedStorage.from_file(str(path), True, 8)
    assert u.filename == str(path) and u.tolist() == \
        torch.UntypedStorage.from_file(str(path), True, 8).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cgrad.FloatStorage.from_file(str(path), False, 2).tolist() == [9., 1.]
    assert cgrad.from_file(str(path), True, 2, requires_grad=True).requires_grad


# ---- view(dtype): a tensor's bytes read as another dtype ------------------------------------
_VIEW_CASES = [  # (make the tensor from lib, the dtype's name)
    (lambda lib: lib.arange(6.).view(2, 3), "int32"),
    (lambda lib: lib.arange(6.).view(2, 3), "uint8"),
    (lambda lib: lib.arange(6.).view(2, 3), "float16"),
    (lambda lib: lib.arange(4.), "float64"),
    (lambda lib: lib.arange(4.)[2:], "float64"),
    (lambda lib: lib.arange(8.).view(4, 2)[:, :1], "int16"),
    (lambda lib: lib.arange(8.).view(4, 2)[::2], "int64"),
    (lambda lib: lib.tensor(3.), "int32"),
    (lambda lib: lib.arange(4., dtype=lib.float64), "int64"),
    (lambda lib: lib.zeros(2, 4, dtype=lib.uint8), "float32"),
    (lambda lib: lib.zeros(3, 4, dtype=lib.uint8)[::2], "float32"),
    (lambda lib: lib.zeros(0, 4, dtype=lib.uint8), "float32"),
    (lambda lib: lib.zeros(0, 3), "uint8"),
    (lambda lib: lib.tensor([True, False, True, True]), "uint8"),
    # PyTorch's errors
    (lambda lib: lib.arange(6.).view(2, 3).t(), "uint8"),
    (lambda lib: lib.arange(6.).view(2, 3), "float64"),
    (lambda lib: lib.arange(4.)[1:], "float64"),
    (lambda lib: lib.arange(5.)[1:], "float64"),
    (lambda lib: lib.tensor(3.), "int16"),
    (lambda lib: lib.zeros(2, 4, dtype=lib.uint8)[:, 1:], "float32"),
    (lambda lib: lib.zeros(3, 6, dtype=lib.uint8)[:, :4], "float32"),
]


@pytest.mark.parametrize("case", range(len(_VIEW_CASES)))
def test_view_dtype_matches_torch(case):
    torch = _torch()
    make, name = _VIEW_CASES[case]
    t, c = make(torch), make(cgrad)
    try:
        expected = t.view(getattr(torch, name))
    except RuntimeError as e:
        with pytest.raises(RuntimeError) as got:
            c.view(getattr(cgrad, name))
        assert str(got.value) == str(e)
        return
    got = c.view(getattr(cgrad, name))
    assert got.shape == expected.shape and got.dtype.name == name
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    if got.numel():
        assert got.stride() == expected.stride()
        assert got.storage_offset() == expected.storage_offset()
        assert got.untyped_storage().data_ptr() == c.untyped_storage().data_ptr()


def test_view_dtype_shares_memory_and_version_and_leaves_the_graph():
    torch = _torch()
    for lib in (torch, cgrad):
        x = lib.arange(4.)
        bits = x.view(lib.int32)
        bits[0] = 1065353216                        # the bits of 1.0
        assert x.tolist() == [1., 1., 2., 3.] and x._version == bits._version == 1
        w = lib.arange(3., requires_grad=True) * 2
        same = w.view(lib.float32)
        assert not same.requires_grad and same.grad_fn is None


def test_save_refuses_one_storage_as_two_dtypes_as_torch():
    import io
    for lib in (_torch(), cgrad):
        x = lib.arange(6.)
        with pytest.raises(RuntimeError) as e:
            lib.save({"x": x, "bits": x.view(lib.int32)}, io.BytesIO())
        assert "view the same data as different types" in str(e.value)
        lib.save({"x": x, "y": lib.empty(0).set_(x.untyped_storage(), 2, (2,))}, io.BytesIO())


def test_legacy_constructors_view_a_storage_as_torch():
    torch = _torch()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lib in (torch, cgrad):
            for make in (lib.Tensor, lib.FloatTensor):
                s = lib.FloatStorage([1, 2, 3])
                t = make(s)
                t[0] = 9                                    # the storage's memory
                assert s[0] == 9 and t.dtype == lib.float32 and t.shape == (3,)
            assert lib.Tensor(lib.UntypedStorage(8)).shape == (2,)
        for make in (lambda lib: lib.Tensor(lib.DoubleStorage([1., 2.])),
                     lambda lib: lib.LongTensor(lib.FloatStorage([1.]))):
            with pytest.raises(RuntimeError) as expected:
                make(torch)
            with pytest.raises(RuntimeError) as got:
                make(cgrad)
            assert str(got.value) == str(expected.value)
