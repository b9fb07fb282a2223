"""torch.autograd.profiler: the profile context manager and record_function.

`with profile() as prof:` times every op, backward node and record_function range run in
it (see profiler_util); `prof.key_averages().table(sort_by="self_cpu_time_total")` prints
PyTorch's table. cgrad.profiler.profile (schedules, activities, trace handlers) builds on it.
"""
import functools

from .profiler_util import (EventList, FunctionEvent, FunctionEventAvg, _Recorder,  # noqa: F401
                            recorder)

__all__ = ["EventList", "FunctionEvent", "FunctionEventAvg", "profile", "record_function"]


class profile:
    """Records the ops run inside it (PyTorch's autograd profiler). use_cuda / use_device
    name devices cgrad does not have; with_stack, with_flops and with_modules are accepted
    and record nothing more."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None, record_shapes=False,
                 with_flops=False, profile_memory=False, with_stack=False, with_modules=False,
                 use_kineto=False, use_cpu=True, experimental_config=None, acc_events=False,
                 custom_trace_id_callback=None):
        if use_cuda or use_device not in (None, "cpu"):
            raise AssertionError(f"cgrad has no device {use_device or 'cuda'}: it profiles "
                                 "the CPU only")
        self.enabled = enabled
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack, self.with_flops, self.with_modules = with_stack, with_flops, with_modules
        self.acc_events = acc_events
        self.entered = False
        self._recorder = None
        self._previous = None
        self.function_events = None

    def __enter__(self):
        if not self.enabled:
            return self
        if self.entered:
            raise RuntimeError("Profiler context manager is not reentrant")
        self.entered = True
        if self._recorder is None or not self.acc_events:
            self._recorder = _Recorder(self.record_shapes, self.profile_memory)
        self._previous = recorder[0]
        recorder[0] = self._recorder
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if not self.enabled:
            return False
        recorder[0] = self._previous
        self.entered = False
        rec = self._recorder
        rec.unwind(0)
        self.function_events = EventList(sorted(rec.events, key=lambda e: e.start_us),
                                         profile_memory=self.profile_memory)
        return False

    def _check_finished(self):
        if self.function_events is None:
            raise RuntimeError("Profiler didn't finish running")

    def events(self):
        self._check_finished()
        return self.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        self._check_finished()
        return self.function_events.key_averages(group_by_input_shape, group_by_stack_n)

    def total_average(self):
        self._check_finished()
        return self.function_events.total_average()

    @property
    def self_cpu_time_total(self):
        self._check_finished()
        return self.function_events.self_cpu_time_total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False):
        self._check_finished()
        return self.function_events.table(sort_by, row_limit, max_src_column_width,
                                          max_name_column_width, max_shapes_column_width,
                                          header, top_level_events_only)

    def export_chrome_trace(self, path):
        self._check_finished()
        return self.function_events.export_chrome_trace(path)

    def __str__(self):
        self._check_finished()
        return str(self.function_events)

    def __repr__(self):
        return ("<unfinished torch.autograd.profile>" if self.function_events is None
                else str(self))


class record_function:
    """A named range in the profile (a context manager, or a decorator): its ops become its
    children, and it is a row of the table. Costs nothing when no profiler records."""

    def __init__(self, name, args=None):
        self.name = name
        self.args = args
        self.run_callbacks_on_exit = True
        self._event = None
        self._recorder = None

    def __enter__(self):
        rec = recorder[0]
        if rec is not None:
            self._recorder = rec
            self._event = rec.begin(self.name)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        if self._event is not None:
            self._recorder.end(self._event)
            self._event = self._recorder = None
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with record_function(self.name, self.args):
                return fn(*args, **kwargs)
        return wrapper
