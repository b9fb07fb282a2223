"""Compare, as torch.utils.benchmark.Compare: Measurements merged by TaskSpec, one table per
label, a row per (num_threads, env, sub_label or stmt) and a column per description, the
medians in one unit; optionally trimmed to their significant figures and colorized."""
import enum
import math

from . import common

__all__ = ["Colorize", "Compare"]

BEST = "\033[92m"
GOOD = "\033[34m"
BAD = "\033[2m\033[91m"
VERY_BAD = "\033[31m"
BOLD = "\033[1m"
TERMINATE = "\033[0m"


class Colorize(enum.Enum):
    NONE = "none"
    COLUMNWISE = "columnwise"
    ROWWISE = "rowwise"


def _leading_digits(x):
    return math.ceil(common._log10_f32(x))


class _Column:
    """one description's cells: a fixed-point format wide enough for the column's largest
    median, with the decimals the least precise cell supports when trimming"""
    def __init__(self, grouped, time_scale, trim, highlight_warnings):
        self.grouped = grouped                           # per thread group: (cells, ...)
        cells = [m for group in grouped for m in group if m is not None]
        self.trim = trim
        self.highlight = highlight_warnings and any(m.has_warnings for m in cells)
        digits = [_leading_digits(m.median / time_scale) for m in cells]
        decimals = min(max(m.significant_figures - d, 0) for d, m in zip(digits, cells)) \
            if trim else 1
        width = max(digits) + decimals + (1 if decimals else 0)
        self.template = f"{{:>{width}.{decimals}f}}{{:>{7 if self.highlight else 0}}}"

    def cell(self, value, sigfigs, spread):
        if value is None:
            return " " * len(self.cell(1, sigfigs, None))
        if self.trim:
            value = common.trim_sigfig(value, sigfigs)
        return self.template.format(value, f" (! {spread * 100:.0f}%)"
                                    if self.highlight and spread is not None else "")


def _color(segment, value, best):
    if value <= best * 1.01 or value <= best + 100e-9:
        return BEST + BOLD + segment + TERMINATE * 2
    if value <= best * 1.1:
        return GOOD + BOLD + segment + TERMINATE * 2
    if value >= best * 5:
        return VERY_BAD + BOLD + segment + TERMINATE * 2
    if value >= best * 2:
        return BAD + segment + TERMINATE * 2
    return segment


class _Table:
    """the rendering of one label's Measurements"""
    def __init__(self, results, colorize, trim, highlight_warnings):
        if len({r.label for r in results}) != 1:
            raise AssertionError("All results must share the same label")
        self.results, self.colorize, self.highlight = results, colorize, highlight_warnings
        self.label = results[0].label
        self.unit, self.scale = common.select_unit(min(r.median for r in results))
        row_keys = common.ordered_unique(self._row_key(r) for r in results)
        row_keys.sort(key=lambda k: k[:2])             # by threads and env; stable otherwise
        self.column_keys = common.ordered_unique(r.description for r in results)
        grid = {(self._row_key(r), r.description): r for r in results}
        self.rows = [[grid.get((k, c)) for c in self.column_keys] for k in row_keys]
        self.row_keys = row_keys
        envs = {r.env for r in results}
        self.render_env = len(envs) > 1
        self.env_width = max(len(e) for e in envs) if self.render_env else 0
        # rows group by thread count; a column's best value is per group
        self.group_of, groups = [], []
        for i, (threads, _, _) in enumerate(row_keys):
            if not i or threads != row_keys[i - 1][0]:
                groups.append([])
            groups[-1].append(self.rows[i])
            self.group_of.append(len(groups) - 1)
        self.columns = [_Column([tuple(row[j] for row in g) for g in groups], self.scale, trim,
                                highlight_warnings) for j in range(len(self.column_keys))]

    @staticmethod
    def _row_key(m):
        return m.num_threads, m.env, m.as_row_name

    def _row_strings(self, i):
        row, (_, env, name) = self.rows[i], self.row_keys[i]
        starts_group = i == 0 or self.group_of[i] != self.group_of[i - 1]
        prior_env = "" if starts_group else self.row_keys[i - 1][1]
        shown_env = f"({env})" if self.render_env and env != prior_env else ""
        strings = ["  " + shown_env.ljust(self.env_width + 4) + name]
        for m, col in zip(row, self.columns):
            strings.append(col.cell(None, 1, None) if m is None else col.cell(
                m.median / self.scale, m.significant_figures,
                m.iqr / m.median if m.has_warnings else None))
        return strings

    def _best(self, i):
        """the value each cell of row i is colored against"""
        if self.colorize == Colorize.ROWWISE:
            return [min(m.median for m in self.rows[i] if m is not None)] * len(self.columns)
        if self.colorize == Colorize.COLUMNWISE:
            return [min((m.median for m in col.grouped[self.group_of[i]] if m is not None),
                        default=None) for col in self.columns]
        return [None] * len(self.columns)

    def render(self):
        strings = [[""] + self.column_keys] + [self._row_strings(i)
                                               for i in range(len(self.rows))]
        n = max(len(s) for s in strings)
        strings = [s + [""] * (n - len(s)) for s in strings]
        widths = [max(len(s) for s in col) for col in zip(*strings)]
        lines = ["  |  ".join(s.center(w) for s, w in zip(strings[0], widths))]
        overall = len(lines[0])
        for i, s in enumerate(strings[1:]):
            if i == 0 or self.group_of[i] != self.group_of[i - 1]:
                lines.append(f"{self.row_keys[i][0]} threads: ".ljust(overall, "-"))
            cells = [s[0].ljust(widths[0])]
            for text, width, m, best in zip(s[1:], widths[1:], self.rows[i], self._best(i)):
                text = text.center(width)
                if self.colorize != Colorize.NONE and m is not None and best is not None:
                    text = _color(text, m.median, best)
                cells.append(text)
            lines.append("  |  ".join(cells))
        warned = self.highlight and any(r.has_warnings for r in self.results)
        body = "\n".join(lines)
        return (f"[{(' ' + (self.label or '') + ' ').center(overall - 2, '-')}]\n{body}\n\n"
                f"Times are in {common.unit_to_english(self.unit)}s ({self.unit}).\n"
                + ("(! XX%) Measurement has high variance, where XX is the IQR / median * "
                   "100.\n" if warned else ""))


class Compare:
    """A table of many Measurements (print() or str()): see the module's docstring"""
    def __init__(self, results):
        self._results = []
        self.extend_results(results)
        self._trim_significant_figures = False
        self._colorize = Colorize.NONE
        self._highlight_warnings = False

    def __str__(self):
        return "\n".join(self._render())

    def extend_results(self, results):
        """more Measurements to show (anything else raises ValueError)"""
        for r in results:
            if not isinstance(r, common.Measurement):
                raise ValueError(f"Expected an instance of `Measurement`, got {type(r)} "
                                 "instead.")
        self._results.extend(results)

    def trim_significant_figures(self):
        self._trim_significant_figures = True

    def colorize(self, rowwise=False):
        """color each cell against its column's best (or its row's, if rowwise)"""
        self._colorize = Colorize.ROWWISE if rowwise else Colorize.COLUMNWISE

    def highlight_warnings(self):
        self._highlight_warnings = True

    def print(self):
        print(str(self))

    def _render(self):
        by_label = {}
        for r in common.Measurement.merge(self._results):
            by_label.setdefault(r.label, []).append(r)
        return [_Table(group, self._colorize, self._trim_significant_figures,
                       self._highlight_warnings).render() for group in by_label.values()]
