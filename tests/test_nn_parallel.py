"""nn.DataParallel, nn.parallel.DistributedDataParallel and nn.SyncBatchNorm as PyTorch's on a
machine without an accelerator and without a process group, against PyTorch."""
import warnings

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn

torch = pytest.importorskip("torch")

from test_nn_layers import DTYPES, _cg, _check_grads, _inputs, _raises_like_torch, _twin  # noqa: E402,E501


@pytest.mark.parametrize("kwargs", [{}, dict(device_ids=[0]), dict(device_ids=[0, 1],
                                                                     output_device=1, dim=1)])
def test_data_parallel_calls_its_module(backend, kwargs):
    c_dp = nn.DataParallel(nn.Linear(3, 2), **kwargs)
    t_dp = torch.nn.DataParallel(torch.nn.Linear(3, 2), **kwargs)
    assert repr(c_dp) == repr(t_dp)
    assert c_dp.device_ids == t_dp.device_ids == []
    for name in ("output_device", "dim", "src_device_obj"):
        assert hasattr(c_dp, name) == hasattr(t_dp, name)
    c_dp, t_dp = _twin(c_dp, t_dp, np.float64)
    assert list(c_dp.state_dict()) == ["module.weight", "module.bias"]
    assert isinstance(c_dp.module, nn.Linear)
    c, t = _inputs((4, 3), np.float64)
    c_out, t_out = c_dp(c), t_dp(t)
    assert c_out.grad_fn.name() == t_out.grad_fn.name()
    _check_grads(c_dp, t_dp, [c], [t], c_out, t_out, np.float64)
    # a plain module loads the wrapped one's state dict without the prefix
    plain = nn.Linear(3, 2)
    plain.load_state_dict({k[len("module."):]: v for k, v in c_dp.state_dict().items()})
    np.testing.assert_array_equal(plain.weight.detach().numpy(), c_dp.module.weight.detach().numpy())


def test_data_parallel_kwargs_and_functional_form():
    c_dp = nn.DataParallel(nn.Bilinear(2, 3, 1))
    a, b = cgrad.ones(2, 2), cgrad.ones(2, 3)
    np.testing.assert_array_equal(c_dp(a, input2=b).detach().numpy(),
                                  c_dp.module(a, b).detach().numpy())
    _raises_like_torch(lambda: nn.parallel.data_parallel(nn.Linear(2, 2), cgrad.ones(1, 2)),
                       lambda: torch.nn.parallel.data_parallel(torch.nn.Linear(2, 2),
                                                               torch.ones(1, 2)))


@pytest.mark.parametrize("module", ["Linear(2, 3)", "ReLU()"])
def test_distributed_data_parallel_needs_a_process_group(module):
    _raises_like_torch(lambda: nn.parallel.DistributedDataParallel(eval("nn." + module)),
                       lambda: torch.nn.parallel.DistributedDataParallel(
                           eval("torch.nn." + module)))
    assert nn.parallel.__all__ == [n for n in torch.nn.parallel.__all__
                                   if n in ("data_parallel", "DataParallel",
                                            "DistributedDataParallel")]
    for lib in (nn, torch.nn):
        with warnings.catch_warnings(record=True) as w, pytest.raises(ValueError):
            warnings.simplefilter("always")
            lib.parallel.DistributedDataParallelCPU(lib.Linear(2, 2))
        assert w[0].category is FutureWarning
        assert "DistributedDataParallelCPU` is deprecated" in str(w[0].message)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5), (2, 3, 2, 2), (2, 3, 1, 2, 2, 2)])
@pytest.mark.parametrize("kwargs", [{}, dict(momentum=None), dict(affine=False),
                                    dict(track_running_stats=False), dict(bias=False)])
def test_sync_batch_norm_as_batch_norm(backend, dtype, shape, kwargs):
    c_bn, t_bn = _twin(nn.SyncBatchNorm(3, **kwargs), torch.nn.SyncBatchNorm(3, **kwargs), dtype)
    assert repr(c_bn) == repr(t_bn)
    assert c_bn.process_group is None
    for training in (True, True, False):        # two batches update the running stats
        c_bn.train(training)
        t_bn.train(training)
        c, t = _inputs(shape, dtype, seed=len(shape) + training)
        _check_grads(c_bn, t_bn, [c], [t], c_bn(c), t_bn(t), dtype)
    for (name, cb), (_, tb) in zip(c_bn.named_buffers(), t_bn.named_buffers()):
        np.testing.assert_allclose(cb.numpy(), tb.numpy(), rtol=1e-5, err_msg=name)


def test_sync_batch_norm_errors():
    for x in ([3], [2, 0, 4]):
        for training in (True, False):
            c_bn, t_bn = nn.SyncBatchNorm(3).train(training), torch.nn.SyncBatchNorm(3).train(training)
            _raises_like_torch(lambda: c_bn(cgrad.ones(*x)), lambda: t_bn(torch.ones(*x)))


def test_convert_sync_batchnorm():
    def build(lib):
        seq = lib.nn.Sequential(lib.nn.Conv2d(3, 4, 1), lib.nn.BatchNorm2d(4),
                                lib.nn.Sequential(lib.nn.BatchNorm1d(
                                    4, affine=False, track_running_stats=False)),
                                lib.nn.BatchNorm3d(4, momentum=None, eps=1e-3, bias=False))
        seq[1].running_mean.fill_(2.0)
        seq[1].num_batches_tracked.fill_(5)
        seq[1].weight.requires_grad_(False)
        seq[1].qconfig = "q"
        return seq.eval()
    for lib in (cgrad, torch):
        seq = build(lib)
        old = seq[1]
        out = lib.nn.SyncBatchNorm.convert_sync_batchnorm(seq, process_group="pg")
        assert out is seq and out[1] is not old
        assert out[1].weight is old.weight and out[1].running_mean is old.running_mean
        assert out[1].num_batches_tracked is old.num_batches_tracked
        assert not out[1].training and out[1].qconfig == "q"
        assert out[1].process_group == "pg" and out[2][0].process_group == "pg"
    c, t = build(cgrad), build(torch)
    assert repr(nn.SyncBatchNorm.convert_sync_batchnorm(c)) == \
        repr(torch.nn.SyncBatchNorm.convert_sync_batchnorm(t))
    assert list(c.state_dict()) == list(t.state_dict())
    single = nn.SyncBatchNorm.convert_sync_batchnorm(nn.BatchNorm1d(3))
    assert type(single) is nn.SyncBatchNorm and single.training


def test_data_parallel_forward_is_profiled_as_torchs():
    names = []
    for lib in (cgrad, torch):
        dp = lib.nn.DataParallel(lib.nn.Linear(2, 2))
        x = lib.ones(1, 2)
        with lib.profiler.profile() as prof:
            dp(x)
        names.append([e.name for e in prof.events() if e.name.startswith("DataParallel")])
    assert names[0] == names[1] == ["DataParallel.forward"]
