"""DataLoader: batches of a dataset's samples, in order or shuffled, collated into Tensors."""
import collections
import copy
import numbers
import os
import random
import warnings

import numpy as np

from ... import _dtype, random as _random
from ...creation import tensor as _tensor
from ...tensor import Tensor
from .dataset import IterableDataset, TensorDataset, _items
from .sampler import BatchSampler, RandomSampler, SequentialSampler, _InfiniteConstantSampler


def default_convert(data):
    """NumPy arrays and numbers (and those inside containers) as Tensors; everything else
    unchanged (strings, and arrays of them, too); containers rebuilt as _rebuilt_* does"""
    if isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "biuf":
        return Tensor._make(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuilt_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuilt_sequence(data, [default_convert(d) for d in data])
    return data


def _rebuilt_mapping(data, values):
    """values (a dict of data's keys) in data's own mapping type, as PyTorch's collate
    rebuilds it: a copy updated for a mutable mapping (a defaultdict keeps its factory), the
    type called on values otherwise, a plain dict where that fails"""
    try:
        if isinstance(data, collections.abc.MutableMapping):
            clone = copy.copy(data)
            clone.update(values)
            return clone
        return type(data)(values)
    except TypeError:
        return values


def _rebuilt_sequence(data, items):
    """items in data's own sequence type, as _rebuilt_mapping (a list where that fails: a
    range)"""
    try:
        if isinstance(data, collections.abc.MutableSequence):
            clone = copy.copy(data)
            for i, item in enumerate(items):
                clone[i] = item
            return clone
        return type(data)(items)
    except TypeError:
        return list(items)


def default_collate(batch):
    """A list of samples as one batch: Tensors and arrays stacked along a new dim 0, Python
    floats as a float64 tensor and ints as int64 (as PyTorch), strings as they come (a
    sequence); tuples, lists and dicts collated element by element (tuples become lists,
    other containers keep their types: _rebuilt_*)."""
    elem = batch[0]
    if isinstance(elem, Tensor):
        from ..._functions import stack
        return stack(batch, 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind not in "biuf":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, "
                            f"numbers, dicts or lists; found {elem.dtype}")
        return Tensor._make(np.stack(batch))
    if isinstance(elem, np.generic) and elem.dtype.kind in "biuf":   # (np.str_: a str below)
        return Tensor._make(np.asarray(batch))
    if isinstance(elem, bool):
        return _tensor(batch)
    if isinstance(elem, float):
        return _tensor(batch, dtype=_dtype.float64)
    if isinstance(elem, numbers.Integral):
        return _tensor(batch)
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return _rebuilt_mapping(elem, {k: default_collate([d[k] for d in batch]) for k in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        columns = [default_collate(s) for s in zip(*batch)]     # (strings stay a tuple)
        return columns if isinstance(elem, tuple) else _rebuilt_sequence(elem, columns)
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, "
                    f"dicts or lists; found {type(elem)}")


class WorkerInfo:
    """What a dataset's code sees from get_worker_info() in a DataLoader's worker: its id,
    num_workers, seed and dataset, as PyTorch's"""
    __slots__ = ("id", "num_workers", "seed", "dataset")

    def __init__(self, id, num_workers, seed, dataset):
        for name, value in (("id", id), ("num_workers", num_workers), ("seed", seed),
                            ("dataset", dataset)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise RuntimeError(f"Cannot assign attributes to {type(self).__name__} objects")

    def __repr__(self):
        return (f"WorkerInfo(id={self.id}, num_workers={self.num_workers}, seed={self.seed}, "
                f"dataset={self.dataset!r})")


_current_worker = [None]


def get_worker_info():
    """The WorkerInfo of the DataLoader worker whose work is running, else None (the main
    process's answer). cgrad's workers take turns in the calling process: see DataLoader."""
    return _current_worker[0]


class _Worker:
    """One of num_workers emulated workers: its WorkerInfo, set while its work runs, and its
    own random states, seeded as PyTorch seeds a worker process's (cgrad's generator and
    Python's random with seed = base + id, NumPy's legacy generator with its SeedSequence
    words of base and id), swapped in while its work runs: a dataset's random augmentation
    draws what it would in PyTorch's worker, and the main stream does not move"""

    def __init__(self, info):
        self.info = info
        base = info.seed - info.id
        self._states = ((info.seed, _random.Generator().manual_seed(info.seed)._draws),
                        random.Random(info.seed).getstate(),
                        _numpy_state(np.random.SeedSequence(
                            [info.id, base & 0xFFFFFFFF, base >> 32, 0]).generate_state(4)))

    def run(self, fn, *args):
        previous, _current_worker[0] = _current_worker[0], self.info
        main = _random_states()
        _set_random_states(self._states)
        try:
            return fn(*args)
        finally:
            self._states = _random_states()
            _set_random_states(main)
            _current_worker[0] = previous


def _random_states():
    """the global random states: cgrad's generator (its seed and its draws object, whole:
    its NumPy side stream too), Python's random and NumPy's legacy generator"""
    g = _random.default_generator
    return (g._seed, g._draws), random.getstate(), np.random.get_state()


def _set_random_states(states):
    g = _random.default_generator
    g._seed, g._draws = states[0]
    random.setstate(states[1])
    np.random.set_state(states[2])


def _numpy_state(seed_words):
    """np.random.seed(seed_words)'s state, without touching the global one"""
    return np.random.RandomState(seed_words).get_state()


def _check_worker_number(n):
    """PyTorch's warning for more workers than the CPUs this process may run on"""
    checked = hasattr(os, "sched_getaffinity")            # (the cpuset this process has)
    cpus = len(os.sched_getaffinity(0)) if checked else os.cpu_count()
    if cpus is None or n > cpus:
        unchecked = "" if checked else " (`cpuset` is not taken into account)"
        suggested = ("DataLoader is not able to compute a suggested max number of worker in "
                     "current system." if cpus is None else
                     f"Our suggested max number of worker in current system is {cpus}"
                     f"{unchecked}, which is smaller than what this DataLoader is going to "
                     "create.")
        warnings.warn(f"This DataLoader will create {n} worker processes in total. {suggested} "
                      "Please be aware that excessive worker creation might get DataLoader "
                      "running slow or even freeze, lower the worker number to avoid potential "
                      "slowness/freeze if necessary.", stacklevel=3)


class _DataLoaderIter:
    """A DataLoader's iterator: its batches, and len() as the loader's"""

    def __init__(self, loader, batches):
        self._loader, self._batches = loader, batches

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._batches)

    def __len__(self):
        return len(self._loader)


# set once a DataLoader is made: PyTorch's ValueError (they would not take effect)
_FIXED = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterates over dataset in batches of batch_size (None: single samples), shuffled
    each epoch with shuffle=True (from generator if given, else the global generator), the
    last short batch dropped with drop_last.

    Loads in the calling process. num_workers > 0 is emulated there, to PyTorch's results:
    the workers take the batches in turn (batch k is worker k % num_workers's), each running
    worker_init_fn first and seeing its WorkerInfo from get_worker_info(); an IterableDataset
    is iterated once per worker (each worker's copy yields its own batches, as PyTorch's,
    unless the dataset splits its data by get_worker_info()), their batches interleaved."""
    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device="",
                 in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in "
                             "multiprocessing.let num_workers > 0 to enable multiprocessing, "
                             "otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if multiprocessing_context is not None and num_workers == 0:
            raise ValueError("multiprocessing_context can only be used with multi-process "
                             f"loading (num_workers > 0), but got num_workers={num_workers}")
        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.generator = generator
        self._workers = None                   # (kept across epochs with persistent_workers)
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified sampler "
                                 "or batch_sampler option")
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        if sampler is None:                    # (an IterableDataset's: never read here)
            sampler = _InfiniteConstantSampler() if self._iterable else \
                RandomSampler(dataset, generator=generator) if shuffle else \
                SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._auto_collation = batch_sampler is not None or (self._iterable and
                                                             batch_size is not None)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._initialized = True
        if num_workers:
            _check_worker_number(num_workers)           # (here and at each iter, as PyTorch)

    def __setattr__(self, name, value):
        if self._initialized and name in _FIXED:
            raise ValueError(f"{name} attribute should not be set after "
                             f"{type(self).__name__} is initialized")
        super().__setattr__(name, value)

    def __iter__(self):
        # PyTorch's iterator draws its base seed (the workers' seeds: base + id) from the
        # generator at once, workers or not; reused persistent workers keep theirs
        base = None
        if not (self.persistent_workers and self._workers is not None):
            base = int(_random.generator(self.generator).integers(0, 2 ** 63, wide=True))
        if self.num_workers:
            _check_worker_number(self.num_workers)
            batches = self._iter_workers(base)
        elif self._iterable:
            batches = self._iter_iterable(iter(self.dataset))
        else:
            batches = self._iter_map(self._index_batches())
        if self.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        return _DataLoaderIter(self, batches)

    def _index_batches(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetch(self, indices):
        """the collated batch (or sample, without auto-collation) at indices, as PyTorch's
        fetcher: a dataset's __getitems__ takes a whole batch's indices"""
        if not self._auto_collation:
            return self.collate_fn(self.dataset[indices])
        return self.collate_fn(_items(self.dataset, indices))

    def _iter_map(self, index_batches):
        # a TensorDataset batch is one gather per tensor: the same values as stacking the
        # samples one by one, without the per-sample work
        fast = (type(self.dataset) is TensorDataset and self.collate_fn is default_collate
                and not any(t.requires_grad for t in self.dataset.tensors))   # (StackBackward0)
        for indices in index_batches:
            if fast:
                idx = Tensor._make(np.asarray(indices, dtype=np.int64))
                yield [t[idx] for t in self.dataset.tensors]
            else:
                yield self._fetch(indices)

    def _iter_iterable(self, samples):
        if self.batch_size is None:
            for sample in samples:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in samples:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def _started_workers(self, base):
        """the workers, each having run worker_init_fn (once per epoch, or once with
        persistent_workers); seeded base + id, base drawn by __iter__ as PyTorch's"""
        if self._workers is None or not self.persistent_workers:
            workers = [_Worker(WorkerInfo(i, self.num_workers, base + i, self.dataset))
                       for i in range(self.num_workers)]
            if self.worker_init_fn is not None:
                for w in workers:
                    w.run(self.worker_init_fn, w.info.id)
            self._workers = workers
        return self._workers

    def _iter_workers(self, base):
        workers = self._started_workers(base)
        if not self._iterable:             # batch k from worker k % n, in order
            for k, indices in enumerate(self._index_batches()):
                yield workers[k % len(workers)].run(self._fetch, indices)
            return
        # each worker iterates the dataset itself; their batches taken in turn, a worker
        # that ran out skipped from then on
        active = [(w, w.run(lambda: self._iter_iterable(iter(self.dataset)))) for w in workers]
        while active:
            for entry in list(active):
                worker, batches = entry
                try:
                    yield worker.run(next, batches)
                except StopIteration:
                    active.remove(entry)

    def __len__(self):
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return len(self.sampler)
