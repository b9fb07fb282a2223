"""cgrad.utils.tensorboard (torch.utils.tensorboard): the same calls through cgrad's and
torch's SummaryWriter, into two directories, must leave the same event files: the same runs
(sub-directories), and in each the same events in order (tags, steps, values, histogram
buckets, PNG bytes, plugin data), walltimes aside unless given. Values go in as cgrad / torch
tensors built from the same NumPy data, as NumPy arrays and as Python numbers."""
import os
import re
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("tensorboard")
torch = pytest.importorskip("torch")
import torch.utils.tensorboard  # noqa: E402  (after the skips)
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader  # noqa: E402
from tensorboard.compat.proto import event_pb2  # noqa: E402

import cgrad  # noqa: E402
import cgrad.utils.tensorboard  # noqa: E402

EVENT_FILE = re.compile(r"^events\.out\.tfevents\.(\d{10})\.(.+)\.(\d+)\.(\d+)(.*)$")


def _event_files(logdir):
    """{run (directory relative to logdir): [event file paths, oldest first]}"""
    runs = {}
    for root, _, files in os.walk(logdir):
        names = [f for f in files if EVENT_FILE.match(f)]
        key = lambda f: (int(EVENT_FILE.match(f)[1]), int(EVENT_FILE.match(f)[4]))  # noqa: E731
        if names:
            runs[os.path.relpath(root, logdir)] = [os.path.join(root, f)
                                                   for f in sorted(names, key=key)]
    return runs


def _events(logdir):
    """{run: [Event, ...]} read back from the TFRecord files"""
    return {run: [event_pb2.Event.FromString(raw) for path in paths
                  for raw in RawEventFileLoader(path).Load()]
            for run, paths in _event_files(logdir).items()}


def _write(lib, logdir, calls, **options):
    with lib.utils.tensorboard.SummaryWriter(logdir, **options) as w:
        calls(w, lib)
    return w


def _assert_same_events(tmp_path, calls, **options):
    """Runs calls(writer, lib) with cgrad and with torch; the event files must agree.
    Walltimes are compared where the calls gave them (below 1e6), ignored elsewhere."""
    c_dir, t_dir = tmp_path / "cgrad", tmp_path / "torch"
    _write(cgrad, str(c_dir), calls, **options)
    _write(torch, str(t_dir), calls, **options)
    c_runs, t_runs = _events(c_dir), _events(t_dir)
    assert sorted(c_runs) == sorted(t_runs)
    for run in t_runs:
        c_events, t_events = c_runs[run], t_runs[run]
        assert len(c_events) == len(t_events), run
        assert t_events[0].file_version == "brain.Event:2"
        for c, t in zip(c_events, t_events):
            if t.wall_time < 1e6:
                assert c.wall_time == t.wall_time
            c.wall_time = t.wall_time = 0
            assert c == t, (run, c, t)
    return c_runs


def _values(runs, run="."):
    return [(e.step, v) for e in runs[run] if e.HasField("summary") for v in e.summary.value]


def test_scalars_as_torch(backend, tmp_path):
    def calls(w, lib):
        w.add_scalar("loss", lib.tensor(0.25), 0)
        w.add_scalar("loss", lib.tensor([1.0 / 3.0], requires_grad=True) * 2, 1)
        w.add_scalar("loss", np.float32(0.1), 2, walltime=12.5)
        w.add_scalar("loss", 7, np.int64(3))
        w.add_scalar("loss", 2.0 / 3.0, lib.tensor(4))
        w.add_scalar("acc", np.array([[0.5]]), 5)
        w.add_scalar("new", lib.tensor(np.float64(1 / 7)), 6, new_style=True)
        w.add_scalar("new", 1 / 7, 7, new_style=True, double_precision=True)
        w.add_scalar("no_step", 1.5)
        w.add_scalars("run/a", {"x": lib.tensor(1.5), "y": 2, "z": np.float64(0.1)}, 3)
        w.add_scalars("run/a", {"x": 2.5}, 4, walltime=99.0)

    runs = _assert_same_events(tmp_path, calls)
    assert sorted(runs) == [".", "run_a_x", "run_a_y", "run_a_z"]
    values = _values(runs)
    assert [s for s, _ in values] == [0, 1, 2, 3, 4, 5, 6, 7, 0]
    np.testing.assert_allclose([v.simple_value for _, v in values[:6]],
                               [0.25, 2 / 3, 0.1, 7, 2 / 3, 0.5], rtol=1e-7)
    assert values[6][1].tensor.float_val[0] == np.float32(1 / 7)
    assert values[7][1].tensor.double_val[0] == 1 / 7
    assert [v.simple_value for _, v in _values(runs, "run_a_x")] == [1.5, 2.5]


def test_histograms_as_torch(backend, tmp_path):
    rng = np.random.default_rng(0)
    normal = rng.standard_normal(1000).astype(np.float32)
    wide = np.concatenate([rng.standard_normal(200) * 1e-6, rng.standard_normal(50) * 1e4])
    ints = rng.integers(-5, 20, size=(10, 10))

    def calls(w, lib):
        w.add_histogram("normal", lib.tensor(normal), 0)
        w.add_histogram("wide", lib.tensor(wide), 1)
        w.add_histogram("ints", lib.tensor(ints), 2)
        w.add_histogram("numpy", normal * 3, 3)
        w.add_histogram("one", lib.tensor([0.0]), 4)
        w.add_histogram("zeros", np.zeros(5), 4)
        w.add_histogram("auto", lib.tensor(normal), 5, bins="auto")
        w.add_histogram("fd", normal, 5, bins="fd")
        w.add_histogram("ten", lib.tensor(normal), 6, bins=10)
        w.add_histogram("max_bins", lib.tensor(normal), 7, bins=50, max_bins=7)
        w.add_histogram("max_bins_tf", lib.tensor(wide), 7, max_bins=40)
        w.add_histogram("grad", lib.tensor(normal, requires_grad=True) * 2, 8, walltime=5.0)
        counts, limits = np.histogram(normal, bins=np.arange(-4, 5))
        w.add_histogram_raw("raw", min=normal.min(), max=normal.max(), num=normal.size,
                            sum=normal.sum(), sum_squares=normal.dot(normal),
                            bucket_limits=limits[1:].tolist(), bucket_counts=counts.tolist(),
                            global_step=9)

    runs = _assert_same_events(tmp_path, calls)
    values = dict((v.tag, v.histo) for _, v in _values(runs))
    h = values["normal"]
    assert h.num == 1000 and sum(h.bucket) == 1000 and h.bucket[0] == 0
    assert h.min == normal.astype(float).min() and h.max == normal.astype(float).max()
    assert len(values["ten"].bucket) == 11        # an empty bucket on the left
    assert len(values["max_bins"].bucket) == 1 + 8   # 50 buckets merged by 7, padded


def test_histogram_errors_as_torch():
    for lib in (cgrad, torch):
        w = lib.utils.tensorboard.SummaryWriter.__new__(lib.utils.tensorboard.SummaryWriter)
        w.default_bins = [0, 1]
        with pytest.raises(ValueError, match="The input has no element."):
            lib.utils.tensorboard.summary.histogram("x", np.zeros(0), "auto")
        with pytest.raises(ValueError, match=r"len\(bucket_limits\) != len\(bucket_counts\)"):
            w.add_histogram_raw("x", 0, 1, 2, 1, 1, [1, 2], [1])


def _images(rng):
    return {"chw": rng.random((3, 10, 12)).astype(np.float32),
            "hwc_u8": rng.integers(0, 256, size=(9, 7, 3)).astype(np.uint8),
            "hw": rng.random((5, 6)),
            "gray": rng.random((1, 8, 8)).astype(np.float32) * 1.5 - 0.2,   # clipped
            "rgba": rng.random((4, 4, 4)).astype(np.float32),
            "batch": rng.random((10, 3, 6, 5)).astype(np.float32),
            "batch1": rng.random((3, 1, 4, 4)).astype(np.float32),
            "nhwc_u8": rng.integers(0, 256, size=(2, 5, 5, 3)).astype(np.uint8)}


def test_images_as_torch(backend, tmp_path):
    pytest.importorskip("PIL")
    im = _images(np.random.default_rng(1))

    def calls(w, lib):
        w.add_image("chw", lib.tensor(im["chw"]), 0)
        w.add_image("chw_np", im["chw"], 0)
        w.add_image("hwc_u8", lib.tensor(im["hwc_u8"]), 1, dataformats="HWC")
        w.add_image("hw", lib.tensor(im["hw"]), 2, dataformats="HW")
        w.add_image("wh", im["hw"], 2, dataformats="WH")
        w.add_image("gray", lib.tensor(im["gray"], requires_grad=True) + 0, 3)
        w.add_image("rgba", lib.tensor(im["rgba"]), 3, dataformats="HWC")
        w.add_images("batch", lib.tensor(im["batch"]), 4)
        w.add_images("batch1", lib.tensor(im["batch1"]), 4, walltime=3.0)
        w.add_images("nhwc_u8", lib.tensor(im["nhwc_u8"]), 5, dataformats="NHWC")
        w.add_images("chw_as_images", lib.tensor(im["chw"]), 5, dataformats="CHW")
        w.add_image_with_boxes("boxes", lib.tensor(im["chw"]),
                               lib.tensor([[1.0, 1.0, 8.0, 6.0], [0.0, 2.0, 4.0, 9.0]]), 6,
                               labels=["cat", "dog"])
        w.add_image_with_boxes("boxes_hwc", im["hwc_u8"], np.array([[1, 1, 5, 5]]), 6,
                               dataformats="HWC", rescale=2, labels="one")

    runs = _assert_same_events(tmp_path, calls)
    images = {v.tag: v.image for _, v in _values(runs)}
    assert (images["chw"].height, images["chw"].width, images["chw"].colorspace) == (10, 12, 3)
    assert images["chw"].encoded_image_string.startswith(b"\x89PNG")
    assert images["chw"] == images["chw_np"]
    assert (images["batch"].height, images["batch"].width) == (12, 40)   # 8 a row, 2 rows
    assert images["rgba"].colorspace == 4


def test_figure_as_torch(tmp_path):
    pytest.importorskip("PIL")
    plt = pytest.importorskip("matplotlib.pyplot")

    def figure(k):
        fig = plt.figure(figsize=(2, 1.5), dpi=40)
        plt.plot([0, 1, 2], [k, 2 * k, k])
        return fig

    def calls(w, lib):
        w.add_figure("one", figure(1), 0)
        w.add_figure("two", [figure(2), figure(3)], 1)
        fig = figure(4)
        w.add_figure("kept", fig, 2, close=False)
        assert plt.fignum_exists(fig.number)
        plt.close(fig)

    runs = _assert_same_events(tmp_path, calls)
    images = {v.tag: v.image for _, v in _values(runs)}
    assert (images["one"].height, images["one"].width) == (60, 80)
    assert (images["two"].height, images["two"].width) == (60, 160)


def test_text_tensor_audio_mesh_video_as_torch(backend, tmp_path, capsys):
    rng = np.random.default_rng(2)
    wave = np.sin(np.linspace(0, 20, 300)) * 1.2           # clipped, with a warning
    verts = rng.standard_normal((1, 4, 3)).astype(np.float32)
    faces = np.array([[[0, 1, 2], [0, 2, 3]]], dtype=np.int32)
    f32 = rng.standard_normal((2, 3)).astype(np.float32)
    video = rng.random((2, 3, 3, 4, 4)).astype(np.float32)
    colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [9, 9, 9]]], dtype=np.uint8)

    def calls(w, lib):
        w.add_text("notes", "lr=0.1, *markdown* ünïcode", 0)
        w.add_text("notes", "second", 1, walltime=4.0)
        w.add_tensor("f32", lib.tensor(f32), 0)
        w.add_tensor("f64", lib.tensor([1 / 3, 2.5], dtype=lib.float64), 0)
        w.add_tensor("f16", lib.tensor([0.1, -2.0], dtype=lib.float16), 0)
        w.add_tensor("i64", lib.tensor([[1, -2], [3, 4]]), 0)
        w.add_tensor("i32", lib.tensor([7], dtype=lib.int32), 0)
        w.add_tensor("i16", lib.tensor([7], dtype=lib.int16), 0)
        w.add_tensor("i8", lib.tensor([-7], dtype=lib.int8), 0)
        w.add_tensor("u8", lib.tensor([200, 3], dtype=lib.uint8), 0)
        w.add_tensor("bool", lib.tensor([True, False]), 0)
        w.add_tensor("scalar", lib.tensor(2.5), 1)
        w.add_audio("wave", lib.tensor(wave.astype(np.float32)), 0, sample_rate=8000)
        w.add_audio("wave_np", np.sin(np.linspace(0, 5, 50))[None], 1)
        w.add_mesh("mesh", lib.tensor(verts), colors=lib.tensor(colors),
                   faces=lib.tensor(faces), config_dict={"camera": {"fov": 75}}, global_step=0)
        w.add_mesh("cloud", verts, global_step=1)
        if not has_moviepy:     # with it, GIF bytes need not repeat: video is left out
            w.add_video("video", lib.tensor(video), 0)

    try:
        import moviepy  # noqa: F401
        has_moviepy = True
    except ImportError:
        has_moviepy = False
    runs = _assert_same_events(tmp_path, calls)
    out = capsys.readouterr().out
    assert out.count("warning: audio amplitude out of range, auto clipped.") == 2
    assert out.count("add_video needs package moviepy") == (0 if has_moviepy else 2)
    values = {v.tag: v for _, v in _values(runs)}
    assert values["notes/text_summary"].tensor.string_val[0].decode() == "second"
    assert list(values["i64"].tensor.int64_val) == [1, -2, 3, 4]
    assert list(values["u8"].tensor.uint32_val) == [200, 3]
    assert values["wave"].audio.length_frames == 300


def test_python_numbers_and_numpy_in_add_tensor(tmp_path):
    """torch's add_tensor wants a tensor: cgrad's also takes NumPy arrays and numbers, as the
    tensors cgrad.tensor would make of them."""
    with cgrad.utils.tensorboard.SummaryWriter(str(tmp_path / "c")) as w:
        w.add_tensor("n", np.arange(3, dtype=np.int64))
        w.add_tensor("f", 0.5)
        w.add_tensor("c", np.array([1 + 2j], dtype=np.complex64))
    with torch.utils.tensorboard.SummaryWriter(str(tmp_path / "t")) as w:
        w.add_tensor("n", torch.arange(3))
        w.add_tensor("f", torch.tensor(0.5))
        w.add_tensor("c", torch.tensor([1 + 2j], dtype=torch.complex64))
    c, t = _events(tmp_path / "c")["."], _events(tmp_path / "t")["."]
    for ce, te in zip(c[1:], t[1:]):
        assert ce.summary == te.summary
    with pytest.raises(ValueError, match="x has unsupported tensor dtype uint16"):
        cgrad.utils.tensorboard.summary.tensor_proto("x", np.zeros(2, np.uint16))


def test_hparams_as_torch(backend, tmp_path):
    def calls(w, lib):
        w.add_scalar("loss", 1.0, 0)
        w.add_hparams({"lr": 0.1, "bsize": 16, "optim": "adam", "nesterov": True,
                       "skip": None, "wd": lib.tensor([1e-4])},
                      {"hparam/accuracy": 0.75, "hparam/loss": lib.tensor(0.5)},
                      hparam_domain_discrete={"optim": ["adam", "sgd"], "bsize": [16, 32]},
                      run_name="trial0")
        w.add_hparams({"lr": 0.01}, {"hparam/accuracy": 0.8}, run_name="trial1",
                      global_step=3)

    runs = _assert_same_events(tmp_path, calls)
    assert sorted(runs) == [".", "trial0", "trial1"]
    tags = [v.tag for _, v in _values(runs, "trial0")]
    assert tags == ["_hparams_/experiment", "_hparams_/session_start_info",
                    "_hparams_/session_end_info", "hparam/accuracy", "hparam/loss"]
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData
    content = _values(runs, "trial0")[1][1].metadata.plugin_data.content
    start = HParamsPluginData.FromString(content)
    assert start.session_start_info.hparams["optim"].string_value == "adam"
    assert start.session_start_info.hparams["nesterov"].number_value == 1   # a bool is an int
    assert start.session_start_info.hparams["wd"].number_value == np.float32(1e-4)
    assert "skip" not in start.session_start_info.hparams


def test_hparams_default_run_name_and_errors(tmp_path):
    with cgrad.utils.tensorboard.SummaryWriter(str(tmp_path)) as w:
        w.add_hparams({"lr": 0.1}, {"m": 1.0})
        subdirs = [d for d in os.listdir(tmp_path) if os.path.isdir(tmp_path / d)]
        assert len(subdirs) == 1 and abs(float(subdirs[0]) - __import__("time").time()) < 60
        for lib in (cgrad, torch):
            tb = lib.utils.tensorboard
            with pytest.raises(TypeError,
                               match="hparam_dict and metric_dict should be dictionary."):
                tb.SummaryWriter.add_hparams(w, [("lr", 0.1)], {})
            with pytest.raises(ValueError, match="value should be one of int, float, str, bool"):
                tb.summary.hparams({"lr": [0.1]}, {})
            with pytest.raises(TypeError, match=r"hparam_domain_discrete\[lr\] should be a list"):
                tb.summary.hparams({"lr": 0.1}, {}, {"lr": ["a"]})


def test_pr_curve_and_custom_scalars_as_torch(backend, tmp_path):
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, size=100)
    preds = rng.random(100).astype(np.float32)

    def calls(w, lib):
        w.add_pr_curve("pr", lib.tensor(labels), lib.tensor(preds), 0)
        w.add_pr_curve("pr_np", labels, preds, 1, num_thresholds=10, weights=0.5)
        w.add_pr_curve("pr_capped", labels, lib.tensor(preds), 2, num_thresholds=500)
        data = cgrad.utils.tensorboard.summary.compute_curve(labels, preds, num_thresholds=5)
        w.add_pr_curve_raw("raw", *data, global_step=3, num_thresholds=5)
        w.add_custom_scalars({"Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
                              "USA": {"dow": ["Margin", ["dow/a", "dow/b", "dow/c"]]}})
        w.add_custom_scalars_multilinechart(["a", "b"], category="c", title="t")
        w.add_custom_scalars_marginchart(["a", "b", "c"])

    runs = _assert_same_events(tmp_path, calls)
    values = {v.tag: v for _, v in _values(runs)}
    assert list(values["pr"].tensor.tensor_shape.dim) == list(
        values["pr_capped"].tensor.tensor_shape.dim)
    assert values["pr"].tensor.tensor_shape.dim[1].size == 127
    for lib in (cgrad, torch):
        w = lib.utils.tensorboard.SummaryWriter.__new__(lib.utils.tensorboard.SummaryWriter)
        with pytest.raises(AssertionError, match="Expected 3 tags, got 2."):
            w.add_custom_scalars_marginchart(["a", "b"])


def test_embedding_files_as_torch(backend, tmp_path, capsys):
    pytest.importorskip("PIL")
    rng = np.random.default_rng(4)
    mat = rng.standard_normal((10, 5)).astype(np.float32)
    label_img = rng.random((10, 3, 4, 4)).astype(np.float32)
    meta = [f"w{i}" for i in range(10)]

    def calls(w, lib):
        w.add_embedding(lib.tensor(mat), metadata=meta, label_img=lib.tensor(label_img))
        w.add_embedding(mat * 2, metadata=[[m, i] for i, m in enumerate(meta)],
                        metadata_header=["word", "index"], global_step=3, tag="a/b%c")
        w.add_embedding(lib.tensor(mat), global_step=3, tag="a/b%c")   # same dir: warns

    _assert_same_events(tmp_path, calls)
    assert capsys.readouterr().out.count("warning: Embedding dir exists") == 2
    files = {}
    for lib in ("cgrad", "torch"):
        root = tmp_path / lib
        files[lib] = {os.path.relpath(os.path.join(r, f), root):
                      open(os.path.join(r, f), "rb").read()
                      for r, _, fs in os.walk(root) for f in fs if not EVENT_FILE.match(f)}
    assert files["cgrad"] == files["torch"]
    assert {"00000/default/tensors.tsv", "00000/default/sprite.png",
            "00000/default/metadata.tsv", "00003/a%2fb%25c/tensors.tsv",
            "projector_config.pbtxt"} <= set(files["cgrad"])
    with cgrad.utils.tensorboard.SummaryWriter(str(tmp_path / "err")) as w:
        with pytest.raises(AssertionError, match="#labels should equal with #data points"):
            w.add_embedding(mat, metadata=["x"])
        with pytest.raises(AssertionError, match="mat should be 2D"):
            w.add_embedding(np.zeros(3), global_step=1)


def test_writer_options_as_torch(tmp_path):
    """purge_step, filename_suffix, reopening after close, flush and the file names."""
    def calls(w, lib):
        w.add_scalar("x", 1.0, 10)
        w.flush()
        w.close()
        w.close()                       # a second close does nothing
        w.add_scalar("x", 2.0, 11)      # a new event file in the same directory
        w.add_scalars("m", {"a": 1.0}, 11)

    runs = _assert_same_events(tmp_path, calls, purge_step=5, filename_suffix=".sfx",
                               max_queue=2, flush_secs=1)
    first = runs["."]
    assert (first[1].step, first[1].file_version) == (5, "brain.Event:2")
    assert (first[2].step, first[2].session_log.status) == (5, event_pb2.SessionLog.START)
    files = _event_files(tmp_path / "cgrad")
    assert len(files["."]) == 2      # closed once, reopened once: purge events once
    for path in files["."] + files["m_a"]:
        m = EVENT_FILE.match(os.path.basename(path))
        assert m and m[2] == __import__("socket").gethostname() and int(m[3]) == os.getpid()
        assert m[5] == ".sfx"
    assert [e.step for e in first if e.HasField("summary")] == [10, 11]


def test_default_log_dir_and_get_logdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    w = cgrad.utils.tensorboard.SummaryWriter(comment="_lr0.1")
    logdir = w.get_logdir()
    w.close()
    run = os.path.basename(logdir)
    assert os.path.dirname(logdir) == "runs" and os.path.isdir(logdir)
    assert re.fullmatch(r"[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" +
                        re.escape(__import__("socket").gethostname()) + r"_lr0\.1", run)
    with cgrad.utils.tensorboard.SummaryWriter(tmp_path / "as_path") as w:   # a PathLike
        w.add_scalar("x", 1, 0)
        assert w.get_logdir() == tmp_path / "as_path"
        assert w.file_writer.get_logdir() == str(tmp_path / "as_path")
    assert list(_events(tmp_path / "as_path")) == ["."]


def test_make_np_errors_as_torch():
    from torch.utils.tensorboard._convert_np import make_np as torch_make_np
    from cgrad.utils.tensorboard._utils import make_np
    for fn in (make_np, torch_make_np):
        with pytest.raises(NotImplementedError, match="but numpy array or torch tensor"):
            fn([1.0, 2.0])
    for lib in (cgrad, torch):
        with pytest.raises(AssertionError, match="Tensor should contain one element"):
            lib.utils.tensorboard.summary.scalar("x", lib.tensor([1.0, 2.0]))


def test_add_graph_refuses(tmp_path):
    model = cgrad.nn.Linear(2, 1)
    with cgrad.utils.tensorboard.SummaryWriter(str(tmp_path)) as w:
        with pytest.raises(NotImplementedError, match="TorchScript graph"):
            w.add_graph(model, cgrad.randn(1, 2))
    events = _events(tmp_path)["."]
    assert len(events) == 1 and events[0].file_version == "brain.Event:2"   # nothing written


def test_onnx_graph_as_torch(tmp_path, monkeypatch, capsys):
    """add_onnx_graph reads the file with onnx.load: a stand-in module gives both writers
    the same graph (inputs, outputs, one node with attributes)."""
    from types import ModuleType, SimpleNamespace as NS

    from tensorboard.compat.proto.attr_value_pb2 import AttrValue

    def value(name, elem_type, dims):
        shape = NS(dim=[NS(dim_value=d) for d in dims])
        return NS(name=name, type=NS(tensor_type=NS(elem_type=elem_type, shape=shape)))

    graph = NS(input=[value("x", 1, [2, 3])], output=[value("y", 1, [2, 4])],
               node=[NS(output=["y"], op_type="Gemm", input=["x", "w"],
                        attribute=[AttrValue(f=1.0), AttrValue(i=1)])])
    onnx = ModuleType("onnx")
    onnx.load = lambda fname: NS(graph=graph)
    monkeypatch.setitem(sys.modules, "onnx", onnx)
    _assert_same_events(tmp_path, lambda w, lib: w.add_onnx_graph("model.onnx"))
    assert capsys.readouterr().out == "x\ny\ny\n" * 2
    event = _events(tmp_path / "cgrad")["."][1]
    assert b"Gemm" in event.graph_def


IMPORT_WITHOUT = """
import sys
sys.modules["tensorboard"] = None
try:
    import {module}
except Exception as e:
    print(type(e).__name__, e)
"""


def test_import_error_without_tensorboard():
    """Without tensorboard, importing the module raises as torch's does."""
    out = {}
    for module in ("cgrad.utils.tensorboard", "torch.utils.tensorboard"):
        out[module] = subprocess.run([sys.executable, "-c", IMPORT_WITHOUT.format(module=module)],
                                     capture_output=True, text=True, check=True).stdout
    assert out["cgrad.utils.tensorboard"].startswith("ModuleNotFoundError")
    assert out["cgrad.utils.tensorboard"] == out["torch.utils.tensorboard"]
    # and cgrad itself imports without tensorboard
    code = 'import sys; sys.modules["tensorboard"] = None; import cgrad, cgrad.utils; print("ok")'
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout == "ok\n"


def test_training_script_logs_as_torch(backend, tmp_path):
    """A tutorial-style loop: the loss, the weights' histograms and a grid of inputs per
    epoch, written by `import cgrad as torch` code and by torch, agree to float rounding."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((32, 4)).astype(np.float32)
    y = rng.standard_normal((32, 1)).astype(np.float32)
    w0 = rng.standard_normal((1, 4)).astype(np.float32) * 0.5

    def run(lib, logdir):
        model = lib.nn.Linear(4, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(w0))
            model.bias.zero_()
        opt = lib.optim.SGD(model.parameters(), lr=0.1)
        with lib.utils.tensorboard.SummaryWriter(logdir) as writer:
            for epoch in range(3):
                loss = lib.nn.functional.mse_loss(model(lib.tensor(X)), lib.tensor(y))
                opt.zero_grad()
                loss.backward()
                opt.step()
                writer.add_scalar("Loss/train", loss.item(), epoch)
                for name, p in model.named_parameters():
                    writer.add_histogram(name, p, epoch)
                    writer.add_histogram(name + ".grad", p.grad, epoch)
                writer.add_images("inputs", lib.tensor(X[:4].reshape(4, 1, 2, 2)).sigmoid(),
                                  epoch)

    run(cgrad, str(tmp_path / "c"))
    run(torch, str(tmp_path / "t"))
    c, t = _events(tmp_path / "c")["."], _events(tmp_path / "t")["."]
    assert len(c) == len(t) == 1 + 3 * 6
    for ce, te in zip(c[1:], t[1:]):
        (cv,), (tv,) = ce.summary.value, te.summary.value
        assert (ce.step, cv.tag) == (te.step, tv.tag)
        assert cv.WhichOneof("value") == tv.WhichOneof("value")
        if cv.HasField("histo"):
            np.testing.assert_allclose([cv.histo.min, cv.histo.max, cv.histo.sum],
                                       [tv.histo.min, tv.histo.max, tv.histo.sum],
                                       rtol=1e-5, atol=1e-6)
            assert cv.histo.num == tv.histo.num and sum(cv.histo.bucket) == sum(tv.histo.bucket)
        elif cv.HasField("image"):
            assert (cv.image.height, cv.image.width) == (tv.image.height, tv.image.width)
        else:
            np.testing.assert_allclose(cv.simple_value, tv.simple_value, rtol=1e-5)
