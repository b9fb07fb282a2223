"""The profiler's events and their tables (torch.autograd.profiler_util).

While a profiler records, `recorder[0]` holds it: Op.apply times each op as an event named
like PyTorch's ATen op (MulBackward0's op is "aten::mul"), the backward engine times each
node ("autograd::engine::evaluate_function: MulBackward0", around "MulBackward0"), and
record_function adds the user's ranges. Times are wall-clock microseconds of this process's
thread; memory is the bytes of the arrays each op returned (cgrad does not see frees, so
there are no negative sizes as in PyTorch's tables).
"""
import collections
import itertools
import os
import re
import threading
import time

recorder = [None]      # the recording profiler's _Recorder, or None (read by Op.apply)

_clock = time.perf_counter_ns


def _format_time(time_us):
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_time_share(time_us, total_us):
    return "NaN" if total_us == 0 else f"{time_us * 100.0 / total_us:.2f}%"


def _format_memory(nbytes):
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if abs(nbytes) >= size:
            return f"{nbytes * 1.0 / size:.2f} {unit}"
    return f"{nbytes} B"


_op_names = {}


def op_event_name(op):
    """PyTorch's ATen name for an op: its grad_fn name without "Backward<n>", in snake case
    (MulBackward0 -> aten::mul, NllLossBackward0 -> aten::nll_loss)"""
    name = _op_names.get(op)
    if name is None:
        name = re.sub(r"Backward\d*$", "", op.grad_fn_name or op.__name__)
        name = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z0-9])(?=[A-Z][a-z])", "_", name).lower()
        name = _op_names[op] = "aten::" + name
    return name


class _TimesMixin:
    """The *_str forms and averages PyTorch's events share"""

    @property
    def cpu_time(self):
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    @property
    def self_cpu_time(self):
        return 0.0 if self.count == 0 else self.self_cpu_time_total / self.count

    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))
    device_time = device_time_total = self_device_time_total = 0.0
    device_memory_usage = self_device_memory_usage = 0
    flops = 0
    node_id = -1
    is_async = False
    overload_name = ""
    use_device = None


class FunctionEvent(_TimesMixin):
    """One timed range: an op, a backward node or a record_function"""

    def __init__(self, id, name, thread, start_us, end_us, input_shapes=None,
                 cpu_memory_usage=0, sequence_nr=-1):
        self.id, self.name, self.thread = id, name, thread
        self.start_us, self.end_us = start_us, end_us
        self.input_shapes = input_shapes if input_shapes is not None else []
        self.cpu_memory_usage = cpu_memory_usage
        self.sequence_nr = sequence_nr
        self.trace_name = name
        self.cpu_children = []
        self.cpu_parent = None
        self.stack = []
        self.count = 1

    key = property(lambda self: self.name)
    cpu_time_total = property(lambda self: self.end_us - self.start_us)

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    @property
    def time_range(self):
        return collections.namedtuple("Interval", "start end elapsed_us")(
            self.start_us, self.end_us, self.end_us - self.start_us)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} "
                f"cpu_time={self.cpu_time_str} start_us={self.start_us:g} "
                f"end_us={self.end_us:g} cpu_children={[c.id for c in self.cpu_children]} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg(_TimesMixin):
    """The events of one key (name, and input shapes if grouped by them), summed"""

    def __init__(self):
        self.key = None
        self.count = 0
        self.cpu_time_total = self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = self.self_cpu_memory_usage = 0
        self.input_shapes = None
        self.cpu_parent = None
        self.stack = None

    def add(self, other):
        if self.key is None:
            self.key, self.input_shapes = other.key, other.input_shapes
            self.cpu_parent = other.cpu_parent
        elif other.key != self.key:
            raise AssertionError(f"Expected keys to match, but got {self.key} vs {other.key}")
        self.count += other.count
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        return self

    __iadd__ = add

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of FunctionEvent (or FunctionEventAvg) with PyTorch's summaries"""

    def __init__(self, *args, use_device=None, profile_memory=False, with_flops=False):
        super().__init__(*args)
        self._profile_memory = profile_memory

    @property
    def self_cpu_time_total(self):
        return sum(e.self_cpu_time_total for e in self)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0,
                     group_by_overload_name=False):
        """One FunctionEventAvg per name (and input shapes), in first-seen order"""
        stats = {}
        for e in self:
            key = (e.key, str(e.input_shapes)) if group_by_input_shape else e.key
            stats.setdefault(key, FunctionEventAvg()).add(e)
        averages = EventList(stats.values(), profile_memory=self._profile_memory)
        if not group_by_input_shape:
            for avg in averages:
                avg.input_shapes = None
        return averages

    def total_average(self):
        total = FunctionEventAvg()
        for e in self:
            key = total.key
            total.key = e.key
            total.add(e)
            total.key = key
        total.key = "Total"
        return total

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False, time_unit=None):
        """PyTorch's text table of these events, sorted by the attribute sort_by (largest
        first): Name, Self CPU %, Self CPU, CPU total %, CPU total, CPU time avg, [CPU Mem,
        Self CPU Mem,] # of Calls[, Input Shapes]"""
        return _build_table(self, sort_by, header, row_limit, max_name_column_width,
                            max_shapes_column_width, self._profile_memory,
                            top_level_events_only, time_unit)

    def __str__(self):
        return self.table()

    def export_chrome_trace(self, path):
        """Chrome's trace format ("X" events, microseconds): chrome://tracing, Perfetto"""
        import json
        trace = {"traceEvents": [
            {"ph": "X", "cat": "cpu_op", "name": e.trace_name, "pid": os.getpid(), "tid": e.thread,
             "ts": e.start_us, "dur": e.cpu_time_total,
             "args": {"Input Dims": e.input_shapes} if e.input_shapes else {}}
            for e in self]}
        with open(path, "w") as f:
            json.dump(trace, f)


def _in_unit(time_us, unit):
    scale = {"s": 1e6, "ms": 1e3, "us": 1.0}.get(unit)
    return _format_time(time_us) if scale is None else f"{time_us / scale:.3f}{unit}"


def _build_table(events, sort_by, header, row_limit, max_name_width, max_shapes_width,
                 profile_memory, top_level_only, time_unit):
    if len(events) == 0:
        return ""
    if sort_by is not None:
        events = sorted(events, key=lambda e: getattr(e, sort_by.replace("cuda", "device")),
                        reverse=True)
    has_shapes = any(e.input_shapes for e in events)
    name_width = max(len(e.key) for e in events) + 4
    if max_name_width is not None:
        name_width = min(name_width, max_name_width)
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    widths = [name_width] + [12] * (len(headers) - 1)
    if has_shapes:
        headers.append("Input Shapes")
        shapes_width = max(len(str(e.input_shapes)) for e in events) + 4
        widths.append(min(shapes_width, max_shapes_width or shapes_width))
    row = "".join("{:>" + str(w) + "}  " for w in widths)
    rule = "".join("-" * w + "  " for w in widths)
    line_length = sum(w + 2 for w in widths) - 2
    total = sum(e.self_cpu_time_total for e in events)
    lines = []
    if header is not None:
        lines += ["=" * line_length, header]
    if top_level_only:
        lines += ["=" * line_length, "This report only display top-level ops statistics"]
    lines += [rule, row.format(*headers), rule]
    shown = 0
    for e in events:
        if shown == row_limit:
            break
        if top_level_only and e.cpu_parent is not None:
            continue
        shown += 1
        name = e.key
        if max_name_width is not None and len(name) >= max_name_width - 3:
            name = name[:max_name_width - 3] + "..."
        values = [name, _format_time_share(e.self_cpu_time_total, total),
                  _in_unit(e.self_cpu_time_total, time_unit),
                  _format_time_share(e.cpu_time_total, total),
                  _in_unit(e.cpu_time_total, time_unit), _in_unit(e.cpu_time, time_unit)]
        if profile_memory:
            values += [_format_memory(e.cpu_memory_usage), _format_memory(e.self_cpu_memory_usage)]
        values.append(e.count)
        if has_shapes:
            values.append(str(e.input_shapes)[:widths[-1]])
        lines.append(row.format(*values))
    lines += [rule, f"Self CPU time total: {_in_unit(total, time_unit)}"]
    return "".join(line + "\n" for line in lines)


def _shapes(args):
    """PyTorch's record_shapes entry: a tensor's sizes, [] for anything else"""
    return [list(a.shape) if hasattr(a, "_data") else [] for a in args]


class _Recorder:
    """The events of one recording, and the ranges open on each thread"""

    def __init__(self, record_shapes=False, profile_memory=False):
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.events = []
        self._open = {}             # thread id -> stack of open events
        self._ids = itertools.count()
        self._origin = _clock()
        self._reentry = set()       # threads whose next Op.apply is apply()'s own call

    def begin(self, name, input_shapes=None):
        thread = threading.get_ident()
        stack = self._open.setdefault(thread, [])
        now = (_clock() - self._origin) / 1000.0
        # the steps are one row of the table, as in PyTorch ("ProfilerStep*"), and keep
        # their numbers in the trace
        key = "ProfilerStep*" if name.startswith("ProfilerStep#") else name
        event = FunctionEvent(next(self._ids), key, thread, now, now, input_shapes)
        event.trace_name = name
        if stack:
            event.cpu_parent = stack[-1]
            stack[-1].cpu_children.append(event)
        stack.append(event)
        self.events.append(event)
        return event

    def end(self, event, nbytes=0):
        event.end_us = (_clock() - self._origin) / 1000.0
        event.cpu_memory_usage += nbytes
        stack = self._open.get(event.thread)
        if stack and stack[-1] is event:
            stack.pop()
        elif stack and event in stack:        # ranges closed out of order (record_function)
            stack.remove(event)
        parent = event.cpu_parent
        while nbytes and parent is not None:  # a range's memory includes its children's
            parent.cpu_memory_usage += nbytes
            parent = parent.cpu_parent

    def depth(self):
        """how many ranges are open on this thread"""
        return len(self._open.get(threading.get_ident(), ()))

    def unwind(self, depth):
        """end the ranges this thread opened above depth (a backward that raised)"""
        stack = self._open.get(threading.get_ident(), [])
        while len(stack) > depth:
            self.end(stack[-1])

    def reentered(self):
        """Whether this Op.apply / Function.apply call is apply()'s own (then not an event)"""
        thread = threading.get_ident()
        if thread in self._reentry:
            self._reentry.discard(thread)
            return True
        return False

    def apply(self, name, apply, args, kwargs={}):
        """apply(*args, **kwargs) timed as an event: Op.apply and Function.apply call this
        while recording, and it calls them back (reentered() tells them)"""
        event = self.begin(name, _shapes(args) if self.record_shapes else None)
        thread = threading.get_ident()
        self._reentry.add(thread)
        out = None
        try:
            out = apply(*args, **kwargs)
            return out
        finally:
            self._reentry.discard(thread)
            self.end(event, _owned_bytes(out) if self.profile_memory else 0)


def _owned_bytes(out):
    """bytes of the arrays an op returned that are not views of others"""
    outs = out if isinstance(out, tuple) else (out,)
    total = 0
    for t in outs:
        data = getattr(t, "_data", None)
        if data is not None and data.base is None:
            total += data.nbytes
    return total
