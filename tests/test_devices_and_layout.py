"""The accelerator questions of PyTorch's newer tutorials (torch.accelerator, torch.xpu / mps /
mtia, get_device_module, the Tensor.is_* flags) and Tensor.dim_order, against torch."""
import pytest

import cgrad

torch = pytest.importorskip("torch")


def test_the_quickstart_device_line_picks_the_cpu():
    for lib in (torch, cgrad):
        device = lib.accelerator.current_accelerator().type \
            if lib.accelerator.is_available() else "cpu"
        assert device == "cpu"
        assert lib.ones(2, device=device).device.type == "cpu"


@pytest.mark.parametrize("name", ["current_device_index", "set_device_index", "synchronize",
                                  "current_stream", "empty_cache", "memory_allocated",
                                  "get_memory_info"])
def test_accelerator_calls_that_need_one_raise_as_torch(name):
    args = (0,) if name == "set_device_index" else ()
    with pytest.raises(RuntimeError) as expected:
        getattr(torch.accelerator, name)(*args)
    with pytest.raises(RuntimeError) as got:
        getattr(cgrad.accelerator, name)(*args)
    assert str(got.value) == str(expected.value)


def test_accelerator_answers_and_device_index_as_torch():
    for lib in (torch, cgrad):
        assert lib.accelerator.device_count() == 0
        assert lib.accelerator.current_accelerator(check_available=True) is None
        with lib.accelerator.device_index(None):
            pass
        with pytest.raises(RuntimeError, match="none is available"):
            with lib.accelerator.device_index(0):
                pass


@pytest.mark.parametrize("kind", ["cuda", "xpu", "mps", "mtia"])
def test_absent_device_modules_as_torch(kind):
    t, c = getattr(torch, kind), getattr(cgrad, kind)
    assert c.is_available() == t.is_available() is False
    assert c.device_count() == t.device_count() == 0
    c.manual_seed(0)
    c.empty_cache()
    assert c.memory_allocated() == 0
    with pytest.raises(AssertionError, match=kind.upper()):
        c.synchronize()


def test_get_device_module_as_torch():
    for spec in (None, "cpu", "cuda", "cuda:0", "xpu", "mps", "mtia"):
        expected = torch.get_device_module(spec if spec is None else torch.device(spec))
        got = cgrad.get_device_module(spec if spec is None else cgrad.device(spec))
        assert got.__name__.replace("cgrad", "torch") == expected.__name__
        assert cgrad.get_device_module(spec) is got
    for bad in ("meta", 3):
        with pytest.raises(RuntimeError) as expected:
            torch.get_device_module(bad)
        with pytest.raises(RuntimeError) as got:
            cgrad.get_device_module(bad)
        assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("args", [
    ("cpu",), ("cpu:0",), ("cpu", 1), ("cuda:1",), ("meta",), ("hpu:2",), ("privateuseone",),
    ("mps", 0), ("cpu", None), ("foo",), ("CPU",), (" cpu",), ("cpu:",), ("cpu:x",),
    ("cpu:-1",), ("cpu:01",), ("cpu:0:1",), ("cpu", -1), ("cpu", "a"), ("cpu", 1.0),
    ("cpu", True), ("cpu:0", 1), (None,), (), (1.5,), (True,), (0,), (3,), (-1,)])
def test_device_strings_and_indices_as_torch(args):
    """torch.device's parse: the same device, or the same exception class and first line"""
    try:
        expected = torch.device(*args)
    except Exception as error:
        with pytest.raises(type(error)) as got:
            cgrad.device(*args)
        assert str(got.value).splitlines()[0] == str(error).splitlines()[0]
    else:
        got = cgrad.device(*args)
        assert (got.type, got.index, str(got), repr(got)) == \
            (expected.type, expected.index, str(expected), repr(expected))
    with pytest.raises(TypeError, match="must be str, not torch.device"):
        cgrad.device(cgrad.device("cpu"), 0)


def test_tensor_device_flags_as_torch():
    t, c = torch.ones(2), cgrad.ones(2)
    for flag in ("is_xpu", "is_mps", "is_mtia", "is_ipu", "is_maia", "is_vulkan", "is_xla",
                 "is_cuda", "is_meta"):
        assert getattr(c, flag) == getattr(t, flag) is False, flag
    assert c.is_distributed() == t.is_distributed() is False
    assert c.const_data_ptr() == c.data_ptr()
    with pytest.raises(AssertionError, match="XPU"):
        c.xpu()
    with pytest.raises(AssertionError, match="MTIA"):
        c.mtia()


_LAYOUTS = [
    lambda lib: lib.empty(2, 3, 4),
    lambda lib: lib.empty(2, 3, 4, 5).to(memory_format=lib.channels_last),
    lambda lib: lib.empty(2, 3, 4).permute(2, 0, 1),
    lambda lib: lib.empty(2, 3, 5, 7).transpose(1, 2),
    lambda lib: lib.empty(2, 1, 4),
    lambda lib: lib.empty(3).expand(2, 3),
    lambda lib: lib.empty(3, 1).expand(3, 2),
    lambda lib: lib.empty(2, 3).t(),
    lambda lib: lib.empty(2, 3)[:, ::2],
    lambda lib: lib.tensor(3.),
    lambda lib: lib.empty(5),
    lambda lib: lib.empty(1, 4, 1, 1).to(memory_format=lib.channels_last),
    lambda lib: lib.empty(1, 4, 1, 1),
    lambda lib: lib.empty(4, 1).t(),
    lambda lib: lib.empty(2, 3, 4, 5, 6).permute(0, 2, 3, 4, 1),
    lambda lib: lib.empty(4, 4)[::2, ::2],
]


@pytest.mark.parametrize("case", range(len(_LAYOUTS)))
@pytest.mark.parametrize("check", [False, True, "contiguous", "both"])
def test_dim_order_as_torch(case, check):
    def call(lib):
        x = _LAYOUTS[case](lib)
        arg = {"contiguous": [lib.contiguous_format],
               "both": [lib.contiguous_format, lib.channels_last]}.get(check, check)
        return x.dim_order(ambiguity_check=arg)
    try:
        expected = call(torch)
    except RuntimeError as e:
        with pytest.raises(RuntimeError) as got:
            call(cgrad)
        assert str(got.value) == str(e)
        return
    assert call(cgrad) == expected


def test_dim_order_argument_check_as_torch():
    for bad in (3, "ILLEGAL", [1]):
        with pytest.raises(TypeError) as expected:
            torch.empty(2, 3).dim_order(ambiguity_check=bad)
        with pytest.raises(TypeError) as got:
            cgrad.empty(2, 3).dim_order(ambiguity_check=bad)
        assert str(got.value) == str(expected.value)


def test_backends_cpu_and_opt_einsum_as_torch():
    assert cgrad.backends.cpu.get_cpu_capability() == torch.backends.cpu.get_cpu_capability()
    # cgrad's einsum contracts left to right, as torch's does without opt_einsum
    assert (cgrad.backends.opt_einsum.is_available(), cgrad.backends.opt_einsum.enabled,
            cgrad.backends.opt_einsum.strategy, cgrad.backends.opt_einsum.get_opt_einsum()) \
        == (False, False, None, None)


def test_meta_tensors_stay_meta_and_report_torchs_layout():
    torch = pytest.importorskip("torch")
    ops = {
        "clone": lambda lib, t: t.clone(), "contiguous_of_t": lambda lib, t: t.t().contiguous(),
        "channels_last": lambda lib, t: t.reshape(1, 3, 2, 2).contiguous(
            memory_format=lib.channels_last),
        "expand": lambda lib, t: t.unsqueeze(0).expand(2, 3, 4),
        "double": lambda lib, t: t.double(), "to_int": lambda lib, t: t.to(lib.int32),
        "zeros_like": lambda lib, t: lib.zeros_like(t), "view": lambda lib, t: t.view(12),
        "slice": lambda lib, t: t[1:], "detach": lambda lib, t: t.detach(),
    }
    for name, op in ops.items():
        c = op(cgrad, cgrad.empty(3, 4, device="meta"))
        t = op(torch, torch.empty(3, 4, device="meta"))
        assert (c.device.type, tuple(c.shape), str(c.dtype).split(".")[1]) == \
            (t.device.type, tuple(t.shape), str(t.dtype).split(".")[1]), name
    for lib in (cgrad, torch):
        m = lib.empty(3, 4, device="meta")
        assert m.stride() == (4, 1) and m.is_contiguous()


def test_layers_made_on_the_meta_device():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        nn = lib.nn
        model = nn.Sequential(nn.Conv2d(3, 8, 3, device="meta"), nn.BatchNorm2d(8, device="meta"),
                              nn.Linear(4, 5, device="meta"), nn.LSTM(4, 5, device="meta"))
        assert {t.device.type for t in (*model.parameters(), *model.buffers())} == {"meta"}
        assert nn.Linear(4, 5, device="cpu").weight.device.type == "cpu"
        empty = nn.Linear(4, 5, device="meta").to_empty(device="cpu")
        assert empty.weight.device.type == "cpu" and tuple(empty.weight.shape) == (5, 4)

        class Mine(nn.Linear):          # a user's own parameter is made where the user makes it
            def __init__(self, device=None):
                super().__init__(2, 3, device=device)
                self.extra = nn.Parameter(lib.zeros(3))
        mine = Mine(device="meta")
        assert (mine.weight.device.type, mine.extra.device.type) == ("meta", "cpu")


def test_reading_a_meta_tensor_raises_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        m = lib.empty(2, device="meta")
        with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
            bool(m[0])
        with pytest.raises(RuntimeError, match="cannot be called on meta tensors"):
            m[0].item()
        with pytest.raises(NotImplementedError, match="Cannot copy out of meta tensor"):
            lib.zeros(2).copy_(m)
