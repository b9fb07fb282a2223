"""cgrad.profiler and cgrad.autograd.profiler (torch.profiler): the events a training step
records, their nesting, the tables, schedules and traces, against torch.profiler on the same
program. Times differ between the two; names, counts, nesting, memory of the shared forward
ops, table layout and schedule behaviour do not."""
import json
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.profiler
from cgrad.autograd import profiler_util

torch = pytest.importorskip("torch")
import torch.profiler  # noqa: E402  (after the skip)

SHARED = ("aten::addmm", "aten::relu", "aten::tanh", "AddmmBackward0", "ReluBackward0",
          "NllLossBackward0", "autograd::engine::evaluate_function: AddmmBackward0",
          "autograd::engine::evaluate_function: ReluBackward0",
          "torch::autograd::AccumulateGrad", "model_inference")


def _mlp_step(lib, **options):
    """A two-layer MLP's forward (in a record_function range) and backward, profiled"""
    rng = np.random.default_rng(0)
    nn = lib.nn
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with lib.no_grad():
        for p in model.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
    x = lib.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    t = lib.tensor([0, 1, 2, 0, 1])
    acts = [lib.profiler.ProfilerActivity.CPU]
    with lib.profiler.profile(activities=acts, **options) as prof:
        with lib.profiler.record_function("model_inference"):
            loss = nn.functional.cross_entropy(model(x), t)
        loss.backward()
        x.tanh()
    return prof, model, loss


def _by_key(prof, **kw):
    return {e.key: e for e in prof.key_averages(**kw)}


def test_events_counts_and_memory_as_torch(backend):
    c_prof, c_model, c_loss = _mlp_step(cgrad, profile_memory=True)
    t_prof, t_model, t_loss = _mlp_step(torch, profile_memory=True)
    c, t = _by_key(c_prof), _by_key(t_prof)
    for key in SHARED:
        assert key in c and key in t, key
        assert c[key].count == t[key].count, key
    for key in ("aten::addmm", "aten::relu", "aten::tanh"):   # bytes of their outputs
        assert c[key].cpu_memory_usage == t[key].cpu_memory_usage, key
    # recording changes no number
    np.testing.assert_allclose(c_loss.item(), t_loss.item(), rtol=1e-6)
    for cp, tp in zip(c_model.parameters(), t_model.parameters()):
        np.testing.assert_allclose(cp.grad.numpy(), tp.grad.numpy(), rtol=1e-5, atol=1e-7)


def test_nesting_and_self_times(backend):
    prof, _, _ = _mlp_step(cgrad)
    events = prof.events()
    inference = [e for e in events if e.name == "model_inference"]
    assert len(inference) == 1
    outer = inference[0]
    names = {e.name for e in outer.cpu_children}
    assert {"aten::addmm", "aten::relu", "aten::nll_loss"} <= names
    for e in events:
        assert e.cpu_time_total >= 0
        children = sum(ch.cpu_time_total for ch in e.cpu_children)
        assert e.self_cpu_time_total == pytest.approx(e.cpu_time_total - children)
        assert e.self_cpu_time_total >= -1e-6
        for ch in e.cpu_children:
            assert ch.cpu_parent is e
            assert e.start_us <= ch.start_us <= ch.end_us <= e.end_us
    evaluate = [e for e in events if e.name.startswith("autograd::engine::evaluate_function: ")]
    assert evaluate and all(len(e.cpu_children) >= 1 for e in evaluate)
    assert all(e.cpu_children[0].name == e.name.split(": ", 1)[1] for e in evaluate)
    top = [e for e in events if e.cpu_parent is None]
    assert "aten::tanh" in {e.name for e in top}   # after the range: not inside it
    assert sum(e.self_cpu_time_total for e in events) == pytest.approx(
        prof.profiler.self_cpu_time_total)


def test_table_layout_as_torch(backend):
    for options, kw in (({}, {}), ({"profile_memory": True}, {}),
                        ({"record_shapes": True}, {"group_by_input_shape": True})):
        c_prof = _mlp_step(cgrad, **options)[0]
        t_prof = _mlp_step(torch, **options)[0]
        c_table = c_prof.key_averages(**kw).table(sort_by="cpu_time_total", row_limit=5)
        t_table = t_prof.key_averages(**kw).table(sort_by="cpu_time_total", row_limit=5)
        c_lines, t_lines = c_table.splitlines(), t_table.splitlines()
        if not kw:           # the input shapes column's width follows the shapes recorded
            assert c_lines[:3] == t_lines[:3]
        else:
            assert c_lines[1].split() == t_lines[1].split()
        assert len(c_lines) == len(t_lines) == 3 + 5 + 2
        assert c_lines[-1].startswith("Self CPU time total: ")
        rows = c_lines[3:8]
        assert len({len(r) for r in rows + c_lines[:3]}) == 1
        top = max(c_prof.key_averages(**kw), key=lambda e: e.cpu_time_total)
        assert top.cpu_time_total > 0
        assert rows[0].lstrip().startswith(top.key if len(top.key) < 52 else top.key[:52] + "...")


def test_input_shapes(backend):
    prof = _mlp_step(cgrad, record_shapes=True)[0]
    shapes = {tuple(map(tuple, e.input_shapes)) for e in prof.key_averages(
        group_by_input_shape=True) if e.key == "aten::addmm"}
    assert shapes == {((5, 4), (8, 4), (8,)), ((5, 8), (3, 8), (3,))}
    assert prof.key_averages().table().count("aten::addmm") == 1
    assert prof.key_averages(group_by_input_shape=True).table().count("aten::addmm") == 2


def test_formats():
    fmt = profiler_util
    for us in (0.5, 999.9994, 1000.0, 123456.7, 2.5e6):
        assert fmt._format_time(us) == torch.autograd.profiler_util._format_time(us)
    for n in (0, 17, 1024, 5000, -3 << 20, 7 << 30):
        assert fmt._format_memory(n) == torch.autograd.profiler_util._format_memory(n)
    assert fmt._format_time_share(1.0, 4.0) == "25.00%"
    assert fmt._format_time_share(0.0, 0.0) == "NaN"
    for name, aten in (("MulBackward0", "mul"), ("NllLossBackward0", "nll_loss"),
                       ("MaxPool2DWithIndicesBackward0", "max_pool2d_with_indices"),
                       ("LogSoftmaxBackward0", "log_softmax"), ("SumBackward1", "sum")):
        op = type(name.replace("Backward", "X"), (), {"grad_fn_name": name})
        assert fmt.op_event_name(op) == "aten::" + aten


@pytest.mark.parametrize("args", [dict(wait=1, warmup=1, active=2),
                                  dict(wait=0, warmup=2, active=1, repeat=2),
                                  dict(wait=2, warmup=1, active=3, repeat=1, skip_first=3),
                                  dict(wait=3, warmup=1, active=1, skip_first=2,
                                       skip_first_wait=1)])
def test_schedule_as_torch(args):
    c, t = cgrad.profiler.schedule(**args), torch.profiler.schedule(**args)
    assert [c(s).name for s in range(30)] == [t(s).name for s in range(30)]


def test_schedule_errors_and_warning():
    for bad in (dict(wait=-1, warmup=0, active=1), dict(wait=0, warmup=1, active=0),
                dict(wait=0, warmup=1, active=1, repeat=-1)):
        with pytest.raises(AssertionError) as c_err:
            cgrad.profiler.schedule(**bad)
        with pytest.raises(AssertionError) as t_err:
            torch.profiler.schedule(**bad)
        assert str(c_err.value) == str(t_err.value)
    with pytest.warns(UserWarning, match="won't be using warmup"):
        cgrad.profiler.schedule(wait=1, warmup=0, active=1)
    with pytest.raises(AssertionError, match="No valid profiler activities found"):
        cgrad.profiler.profile(activities=[])
    with pytest.raises(AssertionError, match="No valid profiler activities found"):
        torch.profiler.profile(activities=[])


def _scheduled_run(lib, steps, tmp=None, **sched):
    """Traces handed to on_trace_ready over `steps` steps: the ProfilerStep names and op count
    of each"""
    traces = []

    def ready(prof):
        counts = {e.key: e.count for e in prof.key_averages()}
        steps = sorted(e.trace_name for e in prof.events() if e.key == "ProfilerStep*")
        traces.append((steps, counts.get("ProfilerStep*"), counts.get("aten::sum"),
                       counts.get("MulBackward0")))
    x = lib.ones(3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schedule = lib.profiler.schedule(**sched)
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU],
                              schedule=schedule, on_trace_ready=ready) as prof:
        for _ in range(steps):
            (x * 2).sum().backward()
            prof.step()
    return traces


@pytest.mark.parametrize("sched", [dict(wait=1, warmup=1, active=2, repeat=2),
                                   dict(wait=0, warmup=0, active=1, repeat=3),
                                   dict(wait=1, warmup=1, active=3)])
def test_profile_schedule_as_torch(backend, sched):
    assert _scheduled_run(cgrad, 11, **sched) == _scheduled_run(torch, 11, **sched)


def test_chrome_trace_and_tensorboard_handler(backend, tmp_path):
    prof = _mlp_step(cgrad)[0]
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    names = [e["name"] for e in trace["traceEvents"]]
    assert "model_inference" in names and "aten::addmm" in names
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace["traceEvents"])

    handler = cgrad.profiler.tensorboard_trace_handler(str(tmp_path / "tb"), worker_name="w0")
    x = cgrad.ones(2, requires_grad=True)
    with cgrad.profiler.profile(schedule=cgrad.profiler.schedule(wait=0, warmup=1, active=1),
                                on_trace_ready=handler) as p:
        for _ in range(4):
            (x * 3).sum().backward()
            p.step()
    files = sorted((tmp_path / "tb").iterdir())
    assert len(files) == 2 and all(f.name.startswith("w0.") and
                                   f.name.endswith(".pt.trace.json") for f in files)
    assert "ProfilerStep#" in files[0].read_text()


def test_autograd_profiler_and_record_function(backend):
    def f(v):
        return (v * v).sum()
    traced = cgrad.autograd.profiler.record_function("my_fn")(f)
    x = cgrad.ones(3, requires_grad=True)
    assert traced(x).item() == 3.0                         # no profiler: just runs
    assert profiler_util.recorder[0] is None
    with cgrad.autograd.profiler.profile() as prof:
        traced(x).backward()
    assert profiler_util.recorder[0] is None
    events = prof.function_events
    [fn] = [e for e in events if e.name == "my_fn"]
    assert [c.name for c in fn.cpu_children] == ["aten::mul", "aten::sum"]
    assert x.grad.tolist() == [2.0, 2.0, 2.0]
    assert "my_fn" in prof.key_averages().table()
    with cgrad.autograd.profiler.profile(enabled=False) as off:
        f(x)
    assert profiler_util.recorder[0] is None and off.function_events is None
    assert repr(cgrad.autograd.profiler.profile()) == repr(torch.autograd.profiler.profile())


def test_custom_function_and_failed_backward(backend):
    class Twice(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, v):
            return v * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = cgrad.ones(2, requires_grad=True)
    with cgrad.autograd.profiler.profile() as prof:
        y = (Twice.apply(x) * x).sum()
        y.backward()
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            y.backward()
        (x * 5).sum()
    names = [e.name for e in prof.function_events]
    assert "Twice" in names
    [twice] = [e for e in prof.function_events if e.name == "Twice"]
    assert [c.name for c in twice.cpu_children] == ["aten::mul"]
    last = [e for e in prof.function_events if e.name == "aten::mul"][-1]
    assert last.cpu_parent is None          # the failed backward left no range open
    assert x.grad.tolist() == [4.0, 4.0]


def test_threads_record_their_own_ops(backend):
    """ops run on two threads while recording: each once, as its thread's top-level event"""
    import threading
    x = cgrad.ones(4, requires_grad=True)

    def work():
        for _ in range(200):
            (x * 2).sum()
    with cgrad.autograd.profiler.profile() as prof:
        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        work()
        for t in threads:
            t.join()
    events = prof.function_events
    counts = {}
    for e in events:
        counts[e.name] = counts.get(e.name, 0) + 1
        assert e.cpu_parent is None or e.cpu_parent.thread == e.thread
    assert counts == {"aten::mul": 600, "aten::sum": 600}
    assert len({e.thread for e in events}) >= 2      # (a finished thread's id may be reused)
