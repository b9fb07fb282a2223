"""cgrad.save / cgrad.load: round trips of tensors and state dicts, and files that are damaged,
truncated, foreign or malicious (by default loading never executes anything); whole modules and
other objects pickled as torch.save does, unpickled only with weights_only=False or for safe
globals, as torch.load since PyTorch 2.6."""
import collections
import io
import json
import math
import pathlib
import pickle
import zipfile

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn


def _round_trip(obj):
    buf = io.BytesIO()
    cgrad.save(obj, buf)
    buf.seek(0)
    return cgrad.load(buf)


@pytest.mark.parametrize("dtype", [cgrad.float32, cgrad.float64, cgrad.int64, cgrad.bool,
                                   cgrad.float16, cgrad.int32, cgrad.uint8])
def test_tensor_round_trip(dtype):
    t = (cgrad.randn(3, 4) * 10).to(dtype)
    out = _round_trip(t)
    assert out.dtype == dtype and out.shape == (3, 4)
    np.testing.assert_array_equal(out.numpy(), t.numpy())


def test_special_tensors():
    for t in [cgrad.tensor(2.5), cgrad.zeros(0, 3), cgrad.randn(4, 5).t(),
              cgrad.arange(10)[::3]]:
        out = _round_trip(t)
        assert out.shape == t.shape
        np.testing.assert_array_equal(out.numpy(), t.numpy())
        assert out.is_contiguous() == t.is_contiguous()     # views stay views, as in torch
    leaf = cgrad.ones(2, requires_grad=True)
    assert _round_trip(leaf).requires_grad
    loaded = _round_trip(leaf * 2)                          # a non-leaf: a leaf that requires
    assert loaded.requires_grad and loaded.grad_fn is None  # grad, as torch.load gives


def test_nested_containers_keep_their_types():
    shared = cgrad.ones(2)
    obj = {"ints": {0: 1, 1: -2, 10 ** 20: 3}, "tuple": (1, 2.5, "x", None, True),
           "list": [shared, shared], "odict": collections.OrderedDict([("b", 1), ("a", 2)]),
           "floats": [float("inf"), -float("inf"), 1e-300, 0.1],
           "counter": collections.Counter([3, 3, 5]), "dtype": cgrad.float64,
           ("tuple", "key"): "v", "np": np.float32(1.5), "nan": float("nan")}
    out = _round_trip(obj)
    assert out["ints"] == {0: 1, 1: -2, 10 ** 20: 3}
    assert out["tuple"] == (1, 2.5, "x", None, True)
    assert isinstance(out["odict"], collections.OrderedDict) and list(out["odict"]) == ["b", "a"]
    assert out["floats"][:3] == [math.inf, -math.inf, 1e-300] and out["floats"][3] == 0.1
    assert out["counter"] == collections.Counter([3, 3, 5]) and out["dtype"] is cgrad.float64
    assert out[("tuple", "key")] == "v" and out["np"] == 1.5 and math.isnan(out["nan"])
    assert out["list"][0] is out["list"][1]                  # one tensor saved once


def test_parameters_load_as_parameters():
    p = nn.Parameter(cgrad.randn(3))
    out = _round_trip({"p": p})["p"]
    assert isinstance(out, nn.Parameter) and out.requires_grad


def test_module_state_dict_through_a_path(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.pt"
    cgrad.save(model.state_dict(), path)
    cgrad.save(model.state_dict(), str(tmp_path / "model2.pt"))
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    sd = cgrad.load(path)
    assert isinstance(sd, collections.OrderedDict) and list(sd) == list(model.state_dict())
    other.load_state_dict(sd)
    x = cgrad.randn(5, 3)
    with cgrad.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), other(x).numpy())
    assert list(cgrad.load(str(tmp_path / "model2.pt"))) == list(sd)


def test_optimizer_state_dict_round_trip():
    p = cgrad.ones(3, requires_grad=True)
    opt = cgrad.optim.Adam([p], lr=0.01, amsgrad=True)
    p.grad = cgrad.ones(3)
    opt.step()
    sd = _round_trip(opt.state_dict())
    assert sd["param_groups"] == opt.state_dict()["param_groups"]
    assert list(sd["state"]) == [0]
    assert sd["state"][0]["step"].item() == 1.0 and sd["state"][0]["step"].shape == ()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(),
                                  opt.state[p]["exp_avg"].numpy())


def test_other_objects_are_pickled_as_torch_save_does():
    assert _round_trip({"s": {1, 2}, "c": 1 + 2j}) == {"s": {1, 2}, "c": 1 + 2j}  # safe globals
    with pytest.raises((pickle.PicklingError, AttributeError), match="Can't pickle"):
        cgrad.save({"f": lambda: 0}, io.BytesIO())          # as torch.save: pickle's error


def _model():
    cgrad.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))


def test_whole_module_round_trip_with_weights_only_false(tmp_path):
    """PyTorch's "Save and Load the Model" tutorial: torch.save(model, path), then
    torch.load(path, weights_only=False)"""
    m = _model()
    opt = cgrad.optim.Adam(m.parameters(), lr=0.1)
    m(cgrad.ones(2, 3)).sum().backward()
    opt.step()
    path = tmp_path / "model.pth"
    cgrad.save({"model": m, "opt": opt, "sd": m.state_dict(), "epoch": 3}, path)
    got = cgrad.load(path, weights_only=False)
    m2, opt2 = got["model"], got["opt"]
    assert type(m2) is nn.Sequential and got["epoch"] == 3
    x = cgrad.randn(5, 3)
    np.testing.assert_array_equal(m2(x).detach().numpy(), m(x).detach().numpy())
    w = m2[0].weight
    assert isinstance(w, nn.Parameter) and w.requires_grad
    assert got["sd"]["0.weight"]._data is w._data          # one object's memory, as torch
    assert opt2.param_groups[0]["params"][0] is w          # the optimizer's own parameters
    np.testing.assert_array_equal(opt2.state[w]["exp_avg"].numpy(),
                                  opt.state[m[0].weight]["exp_avg"].numpy())
    opt2.zero_grad()
    m2(x).sum().backward()
    opt2.step()                                             # and it trains on
    assert not np.array_equal(m2[0].weight.detach().numpy(), m[0].weight.detach().numpy())


def test_pickles_load_by_default_only_through_safe_globals(tmp_path):
    m = _model()
    path = tmp_path / "model.pth"
    cgrad.save(m, path)
    with pytest.raises(pickle.UnpicklingError, match=r"(?s)Weights only load failed.*Unsupported "
                       r"global: GLOBAL cgrad.nn.modules.Sequential"):
        cgrad.load(path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only"):
        cgrad.load(path, weights_only=True)
    classes = [nn.Sequential, nn.Linear, nn.ReLU]
    with cgrad.serialization.safe_globals(classes):
        assert type(cgrad.load(path)) is nn.Sequential
    assert cgrad.serialization.get_safe_globals() == []
    cgrad.serialization.add_safe_globals(classes)
    try:
        assert cgrad.serialization.get_safe_globals() == classes
        assert type(cgrad.load(path)) is nn.Sequential
    finally:
        cgrad.serialization.clear_safe_globals()
    with pytest.raises(pickle.UnpicklingError):
        cgrad.load(path)


def test_a_hostile_pickle_runs_nothing_by_default(tmp_path):
    marker = tmp_path / "ran"

    class Boom:
        def __reduce__(self):
            return (pathlib.Path.touch, (marker,))
    path = tmp_path / "evil.pth"
    cgrad.save({"w": cgrad.ones(2), "boom": Boom()}, path)
    with pytest.raises(pickle.UnpicklingError, match="GLOBAL pathlib.Path.touch"):
        cgrad.load(path)
    assert not marker.exists()
    damaged = _zip({"cgrad/format.json": _index({"pickle": 0}),
                    "cgrad/pickles/0.pkl": b"\x80\x04garbage"})
    with pytest.raises((pickle.UnpicklingError, RuntimeError)):
        _load_bytes(damaged, tmp_path)
    missing = _zip({"cgrad/format.json": _index({"pickle": 2})})
    with pytest.raises(RuntimeError, match="pickled object cgrad/pickles/2.pkl is missing"):
        _load_bytes(missing, tmp_path)
    cgrad.load(path, weights_only=False)                  # trusted: it runs, as torch.load's
    assert marker.exists()


# ---- damaged and hostile files ----------------------------------------------------------------
def _saved_bytes(obj=None):
    buf = io.BytesIO()
    cgrad.save({"w": cgrad.arange(100).float()} if obj is None else obj, buf)
    return buf.getvalue()


def _load_bytes(data, tmp_path, name="bad.pt"):
    path = tmp_path / name
    path.write_bytes(data)
    return cgrad.load(path)


def test_truncated_file_names_the_file(tmp_path):
    data = _saved_bytes()
    for cut in [len(data) // 2, len(data) - 10, 5]:
        with pytest.raises(RuntimeError, match=r"cgrad.load: .*bad.pt .*(truncated|damaged)"):
            _load_bytes(data[:cut], tmp_path)
    # where no zip begins, PyTorch's classes: EOFError for nothing, UnpicklingError else
    with pytest.raises(EOFError, match=r"cgrad.load: .*bad.pt is empty"):
        _load_bytes(b"", tmp_path)
    for garbage in (b"garbage", b"\x80\x02}q"):
        with pytest.raises(pickle.UnpicklingError, match="does not begin as a zip archive"):
            _load_bytes(garbage, tmp_path)
        with pytest.raises(pickle.UnpicklingError):
            cgrad.load(io.BytesIO(garbage))


def test_flipped_bytes_are_detected(tmp_path):
    data = bytearray(_saved_bytes())
    i = data.find(b"NUMPY") + 100                      # inside the tensor's data
    data[i] ^= 0xFF
    with pytest.raises(RuntimeError, match="bad.pt is truncated or damaged .*CRC"):
        _load_bytes(bytes(data), tmp_path)


def _zip(members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, content in members.items():
            z.writestr(name, content)
    return buf.getvalue()


def _index(obj, version=1):
    return json.dumps({"format": "cgrad", "version": version, "object": obj})


def _npy(arr, allow_pickle=False):
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def test_hostile_and_inconsistent_contents_are_errors(tmp_path):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('executed')",))
    pickled = np.empty(1, dtype=object)
    pickled[0] = Boom()
    cases = {
        "object array": _zip({"cgrad/format.json": _index({"tensor": 0}),
                              "cgrad/tensors/0.npy": _npy(pickled, allow_pickle=True)}),
        "missing tensor": _zip({"cgrad/format.json": _index({"tensor": 3})}),
        "unknown tag": _zip({"cgrad/format.json": _index({"__reduce__": ["os.system", "ls"]})}),
        "bad json": _zip({"cgrad/format.json": "{not json"}),
        "wrong format": _zip({"cgrad/format.json": json.dumps({"format": "x", "object": 1})}),
        "future version": _zip({"cgrad/format.json": _index(1, version=99)}),
        "no index": _zip({"something.txt": "hello"}),
        "bad npy": _zip({"cgrad/format.json": _index({"tensor": 0}),
                         "cgrad/tensors/0.npy": b"\x93NUMPY garbage"}),
        "bad reference": _zip({"cgrad/format.json": _index({"tensor": -1})}),
        "bad pair": _zip({"cgrad/format.json": _index({"dict": [[1]]})}),
        "unhashable key": _zip({"cgrad/format.json": _index({"dict": [[{"list": []}, 1]]})}),
        "bad object number": _zip({"cgrad/format.json": _index({"tensor": 0, "obj": "a"}),
                                   "cgrad/tensors/0.npy": _npy(np.zeros(2))}),
        "bad scalar dtype": _zip({"cgrad/format.json": _index({"npscalar": ["O", 1]})}),
        "complex scalar": _zip({"cgrad/format.json": _index({"npscalar": ["<c8", 1.0]})}),
        "scalar not a number": _zip({"cgrad/format.json": _index({"npscalar": ["<f4", "1"]})}),
        "scalar out of range": _zip({"cgrad/format.json": _index({"npscalar": ["|u1", 300]})}),
        "size of floats": _zip({"cgrad/format.json": _index({"size": [1.5]})}),
    }
    for what, data in cases.items():
        with pytest.raises(RuntimeError, match=r"cgrad.load: .*bad.pt"):
            _load_bytes(data, tmp_path)
    with pytest.raises(pickle.UnpicklingError, match=r"cgrad.load: .*bad.pt"):   # (PyTorch's)
        _load_bytes(b"just some text, not a zip at all", tmp_path)


def test_torch_files_are_refused_with_an_explanation(tmp_path):
    torch = pytest.importorskip("torch")
    path = tmp_path / "torch.pt"
    torch.save({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError, match="torch.save, which needs pickle"):
        cgrad.load(path)


def test_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        cgrad.load(tmp_path / "nope.pt")


def test_load_accepts_pytorch_keywords():
    buf = io.BytesIO(_saved_bytes())
    out = cgrad.load(buf, map_location="cpu", weights_only=True)
    assert out["w"].shape == (100,)


def test_file_object_and_pathlib(tmp_path):
    path = pathlib.Path(tmp_path) / "t.pt"
    with open(path, "wb") as f:
        cgrad.save([cgrad.ones(1)], f)
    with open(path, "rb") as f:
        assert cgrad.load(f)[0].tolist() == [1.0]


def test_views_keep_sharing_memory():
    """as with torch.save: views saved together load as views of one storage"""
    x = cgrad.arange(12.0).reshape(3, 4)
    a, b, c, d = _round_trip([x, x[1], x[:, 2], x.t()])
    np.testing.assert_array_equal(c.numpy(), x[:, 2].numpy())
    np.testing.assert_array_equal(d.numpy(), x.t().numpy())
    b[0] = 100.0
    assert a[1, 0].item() == 100.0 and d[0, 1].item() == 100.0
    c.mul_(0)
    assert a[:, 2].tolist() == [0.0, 0.0, 0.0]
    alone = _round_trip(x[2, 1:3])               # a view alone: its storage comes along
    assert alone.tolist() == [9.0, 10.0]


def test_bad_views_are_refused():
    for view in ([0, [5], [1]], [-1, [2], [1]], [0, [2], [1, 1]], "x", [0, [2], [100]]):
        arr = io.BytesIO()
        np.save(arr, np.arange(4.0), allow_pickle=False)
        f = io.BytesIO(_zip({"cgrad/format.json": _index({"tensor": 0, "view": view}, 2),
                             "cgrad/tensors/0.npy": arr.getvalue()}))
        with pytest.raises(RuntimeError, match="bad view"):
            cgrad.load(f)


def _identities(objs):
    """which entries of a list are the same object, as pairs (i, j) with i < j"""
    return [(i, j) for i in range(len(objs)) for j in range(i + 1, len(objs))
            if objs[i] is objs[j]]


def _shared(objs):
    """which entries of a list share memory, as pairs (i, j) with i < j"""
    arrays = [o.detach().numpy() for o in objs]
    return [(i, j) for i in range(len(objs)) for j in range(i + 1, len(objs))
            if np.shares_memory(arrays[i], arrays[j])]


def _objects_saved_twice(lib):
    a = lib.arange(6.0).reshape(2, 3).requires_grad_()
    p = lib.nn.Parameter(lib.ones(3))
    view = a[1]
    return [a, view, view, a.data, p, p, p.data, a.detach(), a]


def test_same_object_saved_twice_loads_as_one_and_memory_stays_shared():
    """as torch.save's pickle memo: tied weights, a view or a Parameter saved twice load as one
    object, and .data / detach() (other tensors over the same memory) keep sharing it"""
    got = _round_trip(_objects_saved_twice(cgrad))
    assert _identities(got) == [(0, 8), (1, 2), (4, 5)]
    assert _shared(got) == [(i, j) for i, j in _shared(_objects_saved_twice(cgrad))]
    a, view, _, data, p, _, p_data, detached, _ = got
    assert isinstance(p, nn.Parameter) and p.requires_grad and not p_data.requires_grad
    assert a.requires_grad and not data.requires_grad and not detached.requires_grad
    data[0, 0] = 7.0
    assert a[0, 0].item() == 7.0 and detached[0, 0].item() == 7.0
    with cgrad.no_grad():
        view.mul_(0)
    assert a[1].tolist() == [0.0, 0.0, 0.0]
    p_data.fill_(2.0)
    assert p.tolist() == [2.0, 2.0, 2.0]


def test_identity_and_sharing_as_torch():
    torch = pytest.importorskip("torch")
    buf = io.BytesIO()
    torch.save(_objects_saved_twice(torch), buf)
    buf.seek(0)
    expected = torch.load(buf)
    got = _round_trip(_objects_saved_twice(cgrad))
    assert _identities(got) == _identities(expected)
    assert _shared(got) == _shared(expected)
    assert [t.requires_grad for t in got] == [t.requires_grad for t in expected]


def test_sizes_devices_and_numpy_scalars_keep_their_types():
    objs = [cgrad.zeros(2, 3).shape, cgrad.Size([]), cgrad.device("cpu"), cgrad.device("cuda:1"),
            np.float32(1.5), np.float64(-math.inf), np.float64(math.nan), np.int64(-3),
            np.uint8(200), np.bool_(True), np.float16(0.25)]
    got = _round_trip(objs)
    assert [type(g) for g in got] == [type(o) for o in objs]
    assert got[:2] == [(2, 3), ()] and repr(got[0]) == "cgrad.Size([2, 3])"
    assert got[3].type == "cuda" and got[3].index == 1 and got[2] == "cpu"
    assert [g.dtype for g in got[4:]] == [o.dtype for o in objs[4:]]
    assert got[4:6] + got[7:] == objs[4:6] + objs[7:] and math.isnan(got[6])
    with pytest.raises(TypeError, match="complex64"):
        _round_trip(np.complex64(1))


def test_state_dict_carries_module_versions_through_save_and_load():
    """state_dict()._metadata: each module's version under its prefix, as PyTorch's; kept
    by save/load. load_state_dict reads it: a BatchNorm state (version 2) missing
    num_batches_tracked is incomplete (strict raises), a plain dict (no versions, as from an
    old PyTorch) gets the module's own counter"""
    model = cgrad.nn.Sequential(cgrad.nn.Linear(2, 2), cgrad.nn.BatchNorm1d(2))
    state = model.state_dict()
    assert state._metadata == {"": {"version": 1}, "0": {"version": 1}, "1": {"version": 2}}
    buffer = io.BytesIO()
    cgrad.save({"model": state}, buffer)
    buffer.seek(0)
    loaded = cgrad.load(buffer)["model"]
    assert type(loaded) is collections.OrderedDict and loaded._metadata == state._metadata
    del loaded["1.num_batches_tracked"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: '
                                           '"1.num_batches_tracked"'):
        model.load_state_dict(loaded)
    plain = dict(loaded)
    assert not model.load_state_dict(plain).missing_keys


def test_load_map_location_as_pytorchs(tmp_path):
    """map_location: "cpu" / a device / {"cpu": ...} keep the tensors, "meta" makes them meta
    (views and Parameters too), a callable is called with each storage and "cpu"; a device
    cgrad lacks raises PyTorch's RuntimeError (it loaded to the CPU), a bad name too"""
    path = tmp_path / "m.pt"
    cgrad.save({"a": cgrad.ones(2), "v": cgrad.ones(4)[1:3],
                "p": cgrad.nn.Parameter(cgrad.ones(3))}, path)
    for where in ("cpu", cgrad.device("cpu"), {"cuda:0": "cpu"}, None):
        r = cgrad.load(path, map_location=where)
        assert r["v"].device.type == "cpu" and r["v"].tolist() == [1.0, 1.0]
    for where in ("meta", {"cpu": "meta"}):
        r = cgrad.load(path, map_location=where)
        assert all(t.is_meta for t in r.values()) and r["v"].shape == (2,)
        assert isinstance(r["p"], cgrad.nn.Parameter)
    calls = []
    r = cgrad.load(path, map_location=lambda storage, location: calls.append(location))
    assert calls == ["cpu"] * 3 and r["a"].tolist() == [1.0, 1.0]
    for where in ("cuda", "cuda:1", {"cpu": "cuda"}, "xpu"):
        with pytest.raises(RuntimeError, match="Attempting to deserialize object on a"):
            cgrad.load(path, map_location=where)
    with pytest.raises(RuntimeError, match="don't know how to restore data location"):
        cgrad.load(path, map_location="foo")


Pair = collections.namedtuple("Pair", "a b")


class Named(dict):
    pass


def test_container_subclasses_load_as_themselves(tmp_path):
    """a namedtuple, a defaultdict, a dict subclass: pickled, as torch.save does, so that
    they load as their own types with weights_only=False (they came back as plain tuples and
    dicts: no field names, no default factory), and are refused by the weights-only loader,
    as PyTorch's"""
    path = tmp_path / "c.pt"
    for obj in (Pair(cgrad.ones(2), 3), collections.defaultdict(list, {"a": [1]}), Named(x=1)):
        cgrad.save(obj, path)
        got = cgrad.load(path, weights_only=False)
        assert type(got) is type(obj) and str(got) == str(obj)
        with pytest.raises(pickle.UnpicklingError):
            cgrad.load(path)
    cgrad.save(collections.defaultdict(list), path)
    assert cgrad.load(path, weights_only=False)["new"] == []


def test_save_and_load_take_pytorchs_pickle_arguments():
    buf = io.BytesIO()
    cgrad.save({"a": cgrad.ones(2), "kind": collections.OrderedDict}, buf, pickle_module=pickle,
               pickle_protocol=2, _use_new_zipfile_serialization=True)
    buf.seek(0)
    with pytest.raises(RuntimeError, match="Can not safely load weights when explicit "
                                           "pickle_module is specified"):
        cgrad.load(buf, weights_only=True, pickle_module=pickle)
    buf.seek(0)
    got = cgrad.load(buf, pickle_module=pickle)        # (weights_only then False, as PyTorch)
    assert got["kind"] is collections.OrderedDict and got["a"].tolist() == [1.0, 1.0]


def test_bytes_that_are_no_archive_are_read_from_where_the_stream_stands():
    """load of a file object reads from its position: PyTorch's classes for what follows
    there (an archive's damage, bytes that are no archive, nothing)"""
    for rest, error in ((b"", EOFError), (b"garbage", pickle.UnpicklingError),
                        (b"PK\x03\x04 damaged", RuntimeError)):
        stream = io.BytesIO(b"PK" + rest)
        stream.read(2)
        with pytest.raises(error):
            cgrad.load(stream)
