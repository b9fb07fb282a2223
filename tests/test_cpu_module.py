"""cgrad.cpu's device, stream and event stand-ins and get_capabilities, and the deprecated
testing.assert_allclose, against torch.cpu and torch.testing."""
import warnings

import pytest

import cgrad

torch = pytest.importorskip("torch")


def test_cpu_device_functions():
    assert cgrad.cpu.__all__ == torch.cpu.__all__
    for name in ("is_available", "is_initialized", "device_count", "current_device"):
        assert getattr(cgrad.cpu, name)() == getattr(torch.cpu, name)(), name
    for lib in (cgrad, torch):
        assert lib.cpu.synchronize() is None and lib.cpu.synchronize("cpu") is None
        assert lib.cpu.set_device(0) is None and lib.cpu.current_device() == "cpu"


def test_cpu_streams_and_events():
    for lib in (cgrad, torch):
        default = lib.cpu.current_stream()
        assert isinstance(default, lib.cpu.Stream) and lib.cpu.current_stream("cpu") is default
        s = lib.cpu.Stream(priority=0)
        assert s.wait_stream(default) is None and s.record_event() is None
        ctx = lib.cpu.stream(s)
        assert isinstance(ctx, lib.cpu.StreamContext) and ctx.prev_stream is default
        with ctx as entered:
            assert entered is None and lib.cpu.current_stream() is s
            with lib.cpu.stream(None):                # None leaves the stream as it is
                assert lib.cpu.current_stream() is s
            with lib.cpu.StreamContext(lib.cpu.Stream()):
                assert lib.cpu.current_stream() is not s
            assert lib.cpu.current_stream() is s
        assert lib.cpu.current_stream() is default
        e = lib.cpu.Event()
        assert e.query() is True and e.record() is None and e.synchronize() is None
        assert e.wait(s) is None and s.wait_event(e) is None


def test_cpu_get_capabilities():
    c, t = cgrad.cpu.get_capabilities(), torch.cpu.get_capabilities()
    assert cgrad.cpu.get_capabilities() is c
    with pytest.raises(TypeError):
        c["avx"] = False                               # read-only, as PyTorch's
    assert sorted(c) == sorted(t)
    # PyTorch's cpuinfo may spell the model name differently from /proc/cpuinfo
    assert {k: v for k, v in c.items() if k != "cpu_name"} == \
        {k: v for k, v in t.items() if k != "cpu_name"}
    assert isinstance(c["cpu_name"], str)


def _allclose_outcome(lib, call):
    """(exception class, message) of call under lib.testing.assert_allclose, or None; also
    checks that it warns with PyTorch's FutureWarning"""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            call(lib, lib.testing.assert_allclose)
            outcome = None
        except Exception as e:
            outcome = (type(e), str(e))
    assert [x.category for x in w] == [FutureWarning]
    assert str(w[0].message) == (
        "`torch.testing.assert_allclose()` is deprecated since 1.12 and will be removed in a "
        "future release. Please use `torch.testing.assert_close()` instead. You can find "
        "detailed upgrade instructions in https://github.com/pytorch/pytorch/issues/61844.")
    return outcome


ALLCLOSE_CASES = {
    "float32-loose-default": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1.00005, 2.])),
    "float32-beyond": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1.001, 2.])),
    "float64-default": lambda t, ac: ac(t.tensor([1., 2.], dtype=t.float64),
                                        t.tensor([1.000005, 2.], dtype=t.float64)),
    "float64-beyond": lambda t, ac: ac(t.tensor([1.], dtype=t.float64),
                                       t.tensor([1.0001], dtype=t.float64)),
    "dtypes-unchecked": lambda t, ac: ac(t.tensor([1, 2]), t.tensor([1., 2.])),
    "nan-equal": lambda t, ac: ac(t.tensor([float("nan"), 1.]), t.tensor([float("nan"), 1.])),
    "nan-unequal": lambda t, ac: ac(t.tensor([float("nan")]), t.tensor([float("nan")]),
                                    equal_nan=False),
    "lists": lambda t, ac: ac([1.0, 2.0], [1.0, 2.00001]),
    "number-vs-tensor": lambda t, ac: ac(t.tensor(1.5), 1.5),
    "int-expected-in-float": lambda t, ac: ac(t.tensor([1.5, 2.0]), [1, 2]),
    "given-tol": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1.1, 2.]), rtol=0.2, atol=0),
    "one-tol": lambda t, ac: ac(t.tensor([1.]), t.tensor([1.]), rtol=0.1),
    "msg": lambda t, ac: ac(t.tensor([1.]), t.tensor([2.]), msg="custom"),
    "shape": lambda t, ac: ac(t.tensor([1., 2.]), t.tensor([1.])),
    "strided": lambda t, ac: ac(t.ones(2, 3).t(), t.ones(3, 2)),
}


@pytest.mark.parametrize("name", ALLCLOSE_CASES)
def test_assert_allclose_as_torch(name):
    call = ALLCLOSE_CASES[name]
    c, t = _allclose_outcome(cgrad, call), _allclose_outcome(torch, call)
    assert c == t if t is None else (c[0], c[1]) == (t[0], t[1].replace("torch.", "cgrad."))


def test_cpuid_reads_the_vendor_and_the_avx10_leaves():
    cpuid = pytest.importorskip("cgrad._C._cpuid").cpuid
    import platform
    if platform.machine() not in ("x86_64", "AMD64", "i386", "i686", "x86"):
        assert cpuid(0) is None
        return
    highest, ebx, ecx, edx = cpuid(0)
    vendor = b"".join(r.to_bytes(4, "little") for r in (ebx, edx, ecx)).decode()
    assert vendor in ("GenuineIntel", "AuthenticAMD", "HygonGenuine", "CentaurHauls")
    assert highest >= 7 and cpuid(highest + 1) is None      # past the highest leaf: none
    from cgrad.cpu import _avx10
    assert _avx10(set()) == (False, False)         # no AVX-512 from the OS: no AVX10
    avx10_1, avx10_2 = _avx10({"avx512f"})
    assert avx10_1 >= avx10_2 and (not avx10_1 or cpuid(7, 1)[3] >> 19 & 1)
