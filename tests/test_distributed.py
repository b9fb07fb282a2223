"""cgrad.distributed: a world of one process, against torch.distributed with a one-rank gloo
group (values, DistributedDataParallel training, DistributedSampler, errors)."""
import importlib

import numpy as np
import pytest

import cgrad

torch = pytest.importorskip("torch")
import torch.distributed  # noqa: E402  (after the skip)
from test_data import _raises_like as _same_error  # noqa: E402


@pytest.fixture
def groups():
    """a one-process default group in each library, destroyed after the test"""
    torch.distributed.init_process_group("gloo", store=torch.distributed.HashStore(), rank=0,
                                         world_size=1)
    cgrad.distributed.init_process_group("gloo", rank=0, world_size=1)
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()
        cgrad.distributed.destroy_process_group()


def test_without_a_group_as_torch():
    for lib in (torch, cgrad):
        assert lib.distributed.is_available() and not lib.distributed.is_initialized()
    for call in (lambda lib: lib.distributed.get_rank(),
                 lambda lib: lib.distributed.get_world_size(),
                 lambda lib: lib.distributed.barrier(),
                 lambda lib: lib.distributed.all_reduce(lib.ones(2)),
                 lambda lib: lib.distributed.destroy_process_group(),
                 lambda lib: lib.nn.parallel.DistributedDataParallel(lib.nn.Linear(2, 2)),
                 lambda lib: lib.utils.data.DistributedSampler(list(range(4)))):
        _same_error(call)


def test_collectives_of_one_process_as_torch(groups):
    for lib in (torch, cgrad):
        d = lib.distributed
        assert (d.get_rank(), d.get_world_size(), d.get_backend()) == (0, 1, "gloo")
        x = lib.tensor([1., -2.])
        for op in (d.ReduceOp.SUM, d.ReduceOp.AVG, d.ReduceOp.MAX, d.ReduceOp.PRODUCT):
            assert d.all_reduce(x, op=op) is None and x.tolist() == [1., -2.]
        work = d.all_reduce(x, async_op=True)
        assert work.wait() and work.is_completed()
        gathered = [lib.zeros(2)]
        d.all_gather(gathered, x)
        out = lib.zeros(2)
        d.all_gather_single(out, x)
        with pytest.warns(FutureWarning, match="all_gather_single"):
            d.all_gather_into_tensor(out, x)
        d.broadcast(x, 0)
        d.barrier()
        assert gathered[0].tolist() == out.tolist() == x.tolist() == [1., -2.]
        objects = [None]
        d.all_gather_object(objects, {"loss": 0.5})
        assert objects == [{"loss": 0.5}]
        assert d.new_group([0]).size() == 1
    for call in (lambda lib: lib.distributed.all_gather([lib.zeros(2), lib.zeros(2)],
                                                        lib.ones(2)),
                 lambda lib: lib.distributed.broadcast(lib.ones(2), 1),
                 lambda lib: lib.distributed.send(lib.ones(2), 0),
                 lambda lib: lib.distributed.init_process_group("gloo", rank=0, world_size=1)):
        _same_error(call)


def test_ddp_training_with_a_distributed_sampler_as_torch(groups):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3)).astype(np.float32)
    Y = rng.standard_normal((12, 1)).astype(np.float32)
    W = rng.standard_normal((1, 3)).astype(np.float32)
    results = {}
    for lib in (torch, cgrad):
        model = lib.nn.Linear(3, 1)
        with lib.no_grad():
            model.weight.copy_(lib.tensor(W))
            model.bias.zero_()
        ddp = lib.nn.parallel.DistributedDataParallel(model)
        data = lib.utils.data.TensorDataset(lib.tensor(X), lib.tensor(Y))
        # (the DDP tutorials' import path)
        sampler = importlib.import_module(f"{lib.__name__}.utils.data.distributed") \
            .DistributedSampler(data, shuffle=False)
        loader = lib.utils.data.DataLoader(data, batch_size=4, sampler=sampler)
        opt = lib.optim.SGD(ddp.parameters(), lr=0.1)
        losses = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            for x, y in loader:
                opt.zero_grad()
                loss = lib.nn.functional.mse_loss(ddp(x), y)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        with ddp.no_sync():
            pass
        results[lib] = (losses, model.weight.detach().numpy().copy(), list(ddp.state_dict()),
                        sampler.num_replicas, sampler.rank)
    (lt, wt, kt, nt, rt), (lc, wc, kc, nc, rc) = results[torch], results[cgrad]
    np.testing.assert_allclose(lc, lt, rtol=1e-5)
    np.testing.assert_allclose(wc, wt, rtol=1e-5, atol=1e-6)
    assert kc == kt == ["module.weight", "module.bias"] and (nc, rc) == (nt, rt) == (1, 0)


def test_world_from_the_environment_as_torch(monkeypatch):
    for unset in ("RANK", "WORLD_SIZE"):
        monkeypatch.delenv(unset, raising=False)
    for args in ({}, {"rank": 0}):
        _same_error(lambda lib: lib.distributed.init_process_group("gloo", **args))
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")                 # torchrun --nproc_per_node=1
    cgrad.distributed.init_process_group("gloo")
    try:
        assert cgrad.distributed.get_world_size() == 1
    finally:
        cgrad.distributed.destroy_process_group()


def test_only_a_world_of_one_process():
    with pytest.raises(RuntimeError, match="one process only"):
        cgrad.distributed.init_process_group("gloo", rank=0, world_size=2)
    with pytest.raises(RuntimeError, match="NCCL"):
        cgrad.distributed.init_process_group("nccl", rank=0, world_size=1)
    assert not cgrad.distributed.is_initialized()
