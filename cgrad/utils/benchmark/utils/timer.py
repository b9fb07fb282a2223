"""Timer, as torch.utils.benchmark.Timer: timeit.Timer underneath, with a warm-up, the thread
count set for the run, and Measurements (replicates, median, IQR) as results."""
import enum
import textwrap
import timeit

import numpy as np

from . import common

__all__ = ["Timer", "timer", "Language"]


def timer():
    """the clock: timeit's (cgrad runs on the CPU only, so there is nothing to synchronize)"""
    return timeit.default_timer()


class Language(enum.Enum):
    PYTHON = 0
    CPP = 1


class Timer:
    """Times a Python statement: stmt runs in a namespace made by setup and globals ("torch"
    is cgrad there unless globals say otherwise). label, sub_label, description and env name
    the measurement for printing and for Compare; num_threads is cgrad's thread count while
    stmt runs (1 by default, as PyTorch's)."""
    _timer_cls = timeit.Timer

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None,
                 label=None, sub_label=None, description=None, env=None, num_threads=1,
                 language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        if language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError("cgrad's Timer times Python statements only (no C++)")
        if language not in (Language.PYTHON, "py", "python"):
            raise ValueError(f"Invalid language `{language}`.")
        if global_setup:
            raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most likely "
                             "this code can simply be moved to `setup`.")
        import cgrad
        self._globals = dict(globals or {})
        self._globals.setdefault("torch", cgrad)
        self._language = Language.PYTHON
        stmt, setup = _dedent(stmt), _dedent(setup)
        self._timer = self._timer_cls(stmt=stmt, setup=setup, timer=timer,
                                      globals=self._globals)
        self._task_spec = common.TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup,
                                          label=label, sub_label=sub_label,
                                          description=description, env=env,
                                          num_threads=num_threads)

    def _timeit(self, number):
        return max(self._timer.timeit(number), 1e-9)   # a zero time would divide by zero

    def timeit(self, number=1000000):
        """timeit.Timer.timeit's semantics: stmt run `number` times, after a warm-up of
        number // 100 (at least 2) runs; one measurement"""
        with common.set_torch_threads(self._task_spec.num_threads):
            self._timeit(max(number // 100, 2))
            return common.Measurement(number, [self._timeit(number)], self._task_spec)

    def repeat(self, repeat=-1, number=-1):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def collect_callgrind(self, number=100, *, repeats=None, collect_baseline=True,
                          retain_out_file=False):
        raise NotImplementedError("cgrad's Timer measures wall time only (no Callgrind)")

    def _estimate_block_size(self, min_run_time):
        """the smallest power of 10 of runs per block whose time dwarfs the timer's overhead
        (1e4 times) and is at least min_run_time / 1000, or exceeds min_run_time"""
        with common.set_torch_threads(self._task_spec.num_threads):
            overhead = float(np.median([self._timeit(0) for _ in range(5)]))
            number = 1
            while True:
                taken = self._timeit(number)
                if overhead / taken <= 1e-4 and taken >= min_run_time / 1000:
                    break
                if taken > min_run_time or number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def _measurement_loop(self, number, stop, min_run_time, max_run_time=None, callback=None):
        """blocks of `number` runs until min_run_time has passed and stop(times) agrees, or
        max_run_time has passed"""
        total, can_stop, times = 0.0, False, []
        with common.set_torch_threads(self._task_spec.num_threads):
            while total < min_run_time or not can_stop:
                spent = self._timeit(number)
                times.append(spent)
                total += spent
                if callback:
                    callback(number, spent)
                can_stop = stop(times)
                if max_run_time and total > max_run_time:
                    break
        return times

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """replicates of a block of runs (its size from _estimate_block_size) until
        min_run_time seconds have been spent in them"""
        number = self._estimate_block_size(min_run_time)
        times = self._measurement_loop(number, lambda times: True, min_run_time,
                                       callback=callback)
        return common.Measurement(number, times, self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0,
                           callback=None):
        """as blocked_autorange, but going on (past min_run_time, up to max_run_time) until
        there are more than 3 blocks and their IQR / median is below threshold"""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop(times):
            return len(times) > 3 and common.Measurement(
                number, times, self._task_spec).meets_confidence(threshold=threshold)
        times = self._measurement_loop(number, stop, min_run_time, max_run_time, callback)
        return common.Measurement(number, times, self._task_spec)


def _dedent(code):
    """dedented, without a leading newline or trailing whitespace"""
    code = textwrap.dedent(code)
    return (code[1:] if code[:1] == "\n" else code).rstrip()
