"""utils.data: datasets, DataLoader batching, shuffling with a seeded generator, collation."""
import collections

import numpy as np
import pytest

import cgrad
from cgrad.utils.data import (BatchSampler, DataLoader, Dataset, IterableDataset,
                              RandomSampler, SequentialSampler, Subset, TensorDataset,
                              default_collate, random_split)


def _dataset(n=10):
    x = cgrad.arange(n * 2).float().view(n, 2)
    y = cgrad.arange(n)
    return TensorDataset(x, y)


def test_tensor_dataset():
    ds = _dataset()
    assert len(ds) == 10
    x, y = ds[3]
    assert x.tolist() == [6.0, 7.0] and y.item() == 3
    with pytest.raises(AssertionError, match="Size mismatch between tensors"):
        TensorDataset(cgrad.zeros(3), cgrad.zeros(4))


def test_sequential_batches_and_drop_last():
    loader = DataLoader(_dataset(), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [len(b[1]) for b in batches] == [4, 4, 2]
    assert isinstance(batches[0], list)                  # as PyTorch's default_collate
    assert batches[0][0].shape == (4, 2) and batches[0][1].tolist() == [0, 1, 2, 3]
    assert batches[2][1].dtype == cgrad.int64
    loader = DataLoader(_dataset(), batch_size=4, drop_last=True)
    assert len(loader) == 2 and [len(b[1]) for b in loader] == [4, 4]


def test_shuffle_with_a_seeded_generator_repeats():
    def order(seed):
        loader = DataLoader(_dataset(), batch_size=3, shuffle=True,
                            generator=cgrad.Generator().manual_seed(seed))
        return [[y.tolist() for _, y in loader] for _ in range(2)]     # two epochs
    a, b = order(0), order(0)
    assert a == b
    assert a[0] != a[1]                                 # a new permutation each epoch
    assert sorted(sum(a[0], [])) == list(range(10))      # every sample once
    assert order(1) != a


def test_shuffle_uses_the_global_seed_without_a_generator():
    def order():
        cgrad.manual_seed(3)
        return [y.tolist() for _, y in DataLoader(_dataset(), batch_size=10, shuffle=True)]
    assert order() == order()


def test_fast_tensor_dataset_path_equals_collating_samples():
    ds = _dataset()
    fast = list(DataLoader(ds, batch_size=4, shuffle=True,
                           generator=cgrad.Generator().manual_seed(2)))
    slow = list(DataLoader(ds, batch_size=4, shuffle=True, collate_fn=lambda b: default_collate(b),
                           generator=cgrad.Generator().manual_seed(2)))
    for (a, b), (c, d) in zip(fast, slow):
        assert cgrad.equal(a, c) and cgrad.equal(b, d)


def test_default_collate_types():
    batch = default_collate([(1.5, 2, True, "a", np.array([1.0, 2.0]), cgrad.tensor([3.0])),
                             (2.5, 3, False, "b", np.array([3.0, 4.0]), cgrad.tensor([4.0]))])
    f, i, b, s, arr, t = batch
    assert f.dtype == cgrad.float64 and f.tolist() == [1.5, 2.5]
    assert i.dtype == cgrad.int64 and b.dtype == cgrad.bool and s == ("a", "b")   # PyTorch's
    assert default_collate(["a", "b"]) == ["a", "b"]
    assert arr.shape == (2, 2) and t.shape == (2, 1)
    d = default_collate([{"x": 1, "y": cgrad.ones(2)}, {"x": 2, "y": cgrad.zeros(2)}])
    assert d["x"].tolist() == [1, 2] and d["y"].shape == (2, 2)
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3]
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal "
                                           "size"):
        default_collate([[1, 2], [1]])


def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    samples = [(1.5, 2, np.float32(3.0)), (2.5, 3, np.float32(4.0))]
    ours = default_collate(samples)
    theirs = torch.utils.data.default_collate(samples)
    for a, b in zip(ours, theirs):
        assert a.tolist() == b.tolist() and str(a.dtype)[6:] == str(b.dtype)[6:]


def test_custom_dataset_collate_fn_and_batch_size_none():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return {"x": float(i), "y": i * i}
    batches = list(DataLoader(Squares(), batch_size=2))
    assert batches[0]["y"].tolist() == [0, 1] and batches[2]["x"].tolist() == [4.0]
    singles = list(DataLoader(Squares(), batch_size=None))
    assert singles[3] == {"x": 3.0, "y": 9}
    joined = list(DataLoader(Squares(), batch_size=3, collate_fn=lambda b: [s["y"] for s in b]))
    assert joined == [[0, 1, 4], [9, 16]]


def test_iterable_dataset():
    class Count(IterableDataset):
        def __iter__(self):
            return iter(range(7))
    assert [b.tolist() for b in DataLoader(Count(), batch_size=3)] == [[0, 1, 2], [3, 4, 5], [6]]
    with pytest.raises(ValueError, match="expected unspecified shuffle"):
        DataLoader(Count(), shuffle=True)


def test_samplers_and_option_errors():
    assert list(SequentialSampler(range(3))) == [0, 1, 2]
    rs = RandomSampler(range(5), generator=cgrad.Generator().manual_seed(0))
    assert sorted(rs) == [0, 1, 2, 3, 4] and len(rs) == 5
    assert list(BatchSampler(range(5), 2, drop_last=False)) == [[0, 1], [2, 3], [4]]
    loader = DataLoader(_dataset(), batch_sampler=BatchSampler(SequentialSampler(range(10)), 5,
                                                               True))
    assert [y.tolist() for _, y in loader] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(_dataset(), sampler=SequentialSampler(range(10)), shuffle=True)
    with pytest.raises(ValueError, match="batch_size should be a positive integer value"):
        DataLoader(_dataset(), batch_size=0)


def test_random_split_and_subset():
    parts = random_split(range(10), [3, 7], generator=cgrad.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(list(parts[0]) + list(parts[1])) == list(range(10))
    fractions = random_split(range(10), [0.25, 0.75])
    assert [len(p) for p in fractions] == [3, 7]
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(range(10), [3, 3])
    sub = Subset(_dataset(), [9, 0])
    assert sub[0][1].item() == 9 and len(sub) == 2
    both = _dataset(3) + _dataset(2)
    assert len(both) == 5 and both[4][1].item() == 1


def test_loader_feeds_training(backend):
    cgrad.manual_seed(0)
    x = cgrad.randn(64, 3)
    y = x @ cgrad.tensor([[1.0], [-2.0], [0.5]])
    model = cgrad.nn.Linear(3, 1)
    opt = cgrad.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True,
                        generator=cgrad.Generator().manual_seed(0))
    for _ in range(30):
        for xb, yb in loader:
            opt.zero_grad()
            cgrad.nn.functional.mse_loss(model(xb), yb).backward()
            opt.step()
    np.testing.assert_allclose(model.weight.detach().numpy(), [[1.0, -2.0, 0.5]], atol=1e-3)


def test_stack_and_chain_datasets_as_torch():
    torch = pytest.importorskip("torch")
    for lib in (cgrad, torch):
        data = lib.utils.data
        a, b = data.TensorDataset(lib.arange(4)), list("wxyz")
        s = data.StackDataset(a, b)
        d = data.StackDataset(num=a, char=b)
        assert len(s) == len(d) == 4
        assert s[2][1] == "y" and int(s[2][0][0]) == 2 and d[1]["char"] == "x"
    for make in (lambda lib: lib.utils.data.StackDataset(),
                 lambda lib: lib.utils.data.StackDataset([1], [1, 2]),
                 lambda lib: lib.utils.data.StackDataset([1], b=[1])):
        _raises_like(make)

    class Stream(cgrad.utils.data.IterableDataset):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            return iter(range(self.n))

        def __len__(self):
            return self.n
    chain = cgrad.utils.data.ChainDataset([Stream(2), Stream(3)])
    assert list(chain) == [0, 1, 0, 1, 2] and len(chain) == 5
    with pytest.raises(AssertionError, match="only supports IterableDataset"):
        list(cgrad.utils.data.ChainDataset([[1, 2]]))


def _raises_like(make):
    torch = pytest.importorskip("torch")
    with pytest.raises(Exception) as t_err:
        make(torch)
    with pytest.raises(type(t_err.value)) as c_err:
        make(cgrad)
    assert str(c_err.value) == str(t_err.value)


@pytest.mark.parametrize("n, replicas, drop_last", [(10, 3, False), (10, 3, True), (9, 3, False),
                                                    (2, 4, False), (7, 2, True)])
def test_distributed_sampler_as_torch(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    ds = list(range(n))
    for shuffle in (False, True):
        parts = []
        for rank in range(replicas):
            c = cgrad.utils.data.DistributedSampler(ds, replicas, rank, shuffle=shuffle,
                                                    drop_last=drop_last)
            t = torch.utils.data.DistributedSampler(ds, replicas, rank, shuffle=shuffle,
                                                    drop_last=drop_last)
            assert len(c) == len(t) and len(list(c)) == len(c)
            if not shuffle:
                assert list(c) == list(t)
            parts.append(list(c))
        every = sorted(i for part in parts for i in part)
        assert set(every) <= set(ds) and len(every) == len(parts[0]) * replicas
        if not drop_last:
            assert set(every) == set(ds)            # padding repeats, nothing is lost
    s = cgrad.utils.data.DistributedSampler(ds, 1, 0)        # one replica: every index
    first = list(s)
    s.set_epoch(1)
    again = list(s)
    assert sorted(first) == sorted(again) == ds and (first != again or n < 3)
    for make in (lambda lib: lib.utils.data.DistributedSampler(ds, 2, 2),
                 lambda lib: lib.utils.data.DistributedSampler(ds, 2, -1),
                 lambda lib: lib.utils.data.DistributedSampler(ds)):    # no process group
        _raises_like(make)


def test_workers_take_batches_in_turn_and_see_their_worker_info():
    """num_workers > 0, emulated in the calling process to PyTorch's results: an
    IterableDataset splitting its range by get_worker_info() (PyTorch's docs' example) gives
    3, 5, 4, 6; one that does not is read once per worker; a map-style dataset's batch k is
    worker k % n's; worker_init_fn runs once per worker; outside a worker, None"""
    import math
    from cgrad.utils import data as D

    class Split(D.IterableDataset):
        def __init__(self, start, end):
            self.start, self.end = start, end

        def __iter__(self):
            info = D.get_worker_info()
            if info is None:
                return iter(range(self.start, self.end))
            per = int(math.ceil((self.end - self.start) / info.num_workers))
            s = self.start + info.id * per
            return iter(range(s, min(s + per, self.end)))

    assert [int(x) for x in D.DataLoader(Split(3, 7), num_workers=2)] == [3, 5, 4, 6]
    assert [int(x) for x in D.DataLoader(Split(3, 7), num_workers=0)] == [3, 4, 5, 6]

    class Whole(D.IterableDataset):
        def __iter__(self):
            return iter(range(5))
    assert [b.tolist() for b in D.DataLoader(Whole(), num_workers=2, batch_size=2)] == \
        [[0, 1], [0, 1], [2, 3], [2, 3], [4], [4]]

    class Tagged(D.Dataset):
        def __len__(self):
            return 7

        def __getitem__(self, i):
            return i * 10 + D.get_worker_info().id
    started = []
    loader = D.DataLoader(Tagged(), num_workers=3, batch_size=2, worker_init_fn=started.append)
    assert [b.tolist() for b in loader] == [[0, 10], [21, 31], [42, 52], [60]]
    assert started == [0, 1, 2] and D.get_worker_info() is None


def test_a_datasets_getitems_takes_a_whole_batch():
    from cgrad.utils import data as D

    class Batched(D.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return i

        def __getitems__(self, indices):
            return [100 + i for i in indices]
    assert [b.tolist() for b in D.DataLoader(Batched(), batch_size=4)] == \
        [[100, 101, 102, 103], [104, 105]]
    assert [b.tolist() for b in D.DataLoader(D.Subset(Batched(), [5, 4, 3]), batch_size=2)] == \
        [[105, 104], [103]]
    stacked = D.StackDataset(Batched(), Batched())
    assert [[t.tolist() for t in b] for b in D.DataLoader(stacked, batch_size=3)] == \
        [[[100, 101, 102], [100, 101, 102]], [[103, 104, 105], [103, 104, 105]]]


def test_dataloader_options_checked_and_fixed_as_pytorchs():
    from cgrad.utils import data as D
    ds = D.TensorDataset(cgrad.arange(6))
    for kwargs, message in (({"timeout": -1}, "timeout option should be non-negative"),
                            ({"prefetch_factor": 2}, "prefetch_factor option could only be"),
                            ({"num_workers": 1, "prefetch_factor": -1},
                             "prefetch_factor option should be non-negative"),
                            ({"persistent_workers": True}, "persistent_workers option needs"),
                            ({"multiprocessing_context": "fork"},
                             "multiprocessing_context can only be used")):
        with pytest.raises(ValueError, match=message):
            D.DataLoader(ds, **kwargs)
    loader = D.DataLoader(ds, batch_size=4, num_workers=2)
    assert (loader.prefetch_factor, loader.pin_memory, loader.timeout, loader.in_order) == \
        (2, False, 0, True)
    for name in ("batch_size", "sampler", "drop_last", "dataset"):
        with pytest.raises(ValueError, match=f"{name} attribute should not be set after "
                                             "DataLoader is initialized"):
            setattr(loader, name, None)
    assert len(iter(loader)) == 2 == len([b for b in loader])
    with pytest.raises(ValueError, match="Fraction at index 0 is not between 0 and 1"):
        D.random_split(range(10), [1.5, -0.5])
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        D.RandomSampler(range(3), replacement=1)

    class Two(D.IterableDataset):
        def __iter__(self):
            return iter(range(2))
    assert type(Two() + Two()).__name__ == "ChainDataset" and list(Two() + Two()) == [0, 1, 0, 1]
    with pytest.raises(AssertionError, match="ConcatDataset does not support IterableDataset"):
        D.ConcatDataset([Two()])


class _Pair(collections.abc.Sequence):
    def __init__(self, items):
        self.items = list(items)

    def __getitem__(self, i):
        return self.items[i]

    def __len__(self):
        return len(self.items)


def test_collate_and_convert_keep_container_types_as_pytorchs():
    """a defaultdict keeps its factory, a user's Sequence its type, NumPy strings stay strings
    (they became a tensor), a range becomes a list (it stayed a range)"""
    from cgrad.utils.data import default_convert
    dd = default_collate([collections.defaultdict(int, {"a": 1}),
                          collections.defaultdict(int, {"a": 2})])
    assert type(dd) is collections.defaultdict and dd["a"].tolist() == [1, 2] and dd["b"] == 0
    pair = default_collate([_Pair([1, 2]), _Pair([3, 4])])
    assert type(pair) is _Pair and [t.tolist() for t in pair] == [[1, 3], [2, 4]]
    assert default_collate([np.str_("a"), np.str_("b")]) == ["a", "b"]
    assert default_convert(range(3)) == [0, 1, 2]
    converted = default_convert(_Pair([np.ones(2)]))
    assert type(converted) is _Pair and isinstance(converted[0], cgrad.Tensor)


def test_dataloader_warnings_and_iterable_samplers_as_pytorchs():
    """more workers than CPUs: PyTorch's warning when made and at each iter; pin_memory
    without an accelerator: its warning at each iter; an IterableDataset's sampler and
    batch_sampler are PyTorch's objects (they were None)"""
    import os
    from cgrad.utils import data as D
    n = len(os.sched_getaffinity(0)) + 1
    with pytest.warns(UserWarning, match=f"This DataLoader will create {n} worker processes"):
        loader = D.DataLoader(list(range(4)), num_workers=n, pin_memory=True)
    with pytest.warns(UserWarning) as caught:
        assert [b.tolist() for b in loader] == [[0], [1], [2], [3]]
    messages = [str(w.message) for w in caught]
    assert any("worker processes in total" in m for m in messages)
    assert any("'pin_memory' argument is set as true but no accelerator" in m for m in messages)

    class Three(D.IterableDataset):
        def __iter__(self):
            return iter(range(3))
    loader = D.DataLoader(Three(), batch_size=2)
    assert type(loader.sampler).__name__ == "_InfiniteConstantSampler"
    assert isinstance(loader.batch_sampler, BatchSampler)
    assert [b.tolist() for b in loader] == [[0, 1], [2]]
