"""libstdc++'s std::sort, std::partial_sort and std::nth_element replayed in Python: which
positions end up where, comparing with `less`. PyTorch's CPU sort, topk, quantile and mode
use them, and where values tie (or NaN breaks a plain <) their unstable orders decide which
index PyTorch returns. The Cython backend calls the C++ functions themselves
(cgrad._C.sorting); this is the NumPy backend's reference, slow (a Python loop per
comparison), so it is run only on rows whose order the ties decide.

Each function takes a list of values and returns the list of their original positions in the
order the algorithm leaves them. The code follows libstdc++'s bits/stl_algo.h and
bits/stl_heap.h step by step (introsort: median-of-three pivots, heapsort past 2 log2 n
levels, a final insertion sort of runs of 16)."""

_THRESHOLD = 16                        # libstdc++'s _S_threshold


class _Replay:
    """a list of (value, position) pairs and the algorithms' steps on ranges of it"""

    def __init__(self, values, less):
        self.a = [(v, i) for i, v in enumerate(values)]
        self.less = less

    def lt(self, p, q):
        return self.less(p[0], q[0])

    def positions(self):
        return [i for _, i in self.a]

    # ---- heaps (bits/stl_heap.h) -----------------------------------------------------------
    def adjust_heap(self, first, hole, length, value):
        a, lt = self.a, self.lt
        top = child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if lt(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2                        # __push_heap
        while hole > top and lt(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole, parent = parent, (parent - 1) // 2
        a[first + hole] = value

    def make_heap(self, first, last):
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):
            self.adjust_heap(first, parent, length, self.a[first + parent])

    def pop_heap(self, first, last, result):
        a = self.a
        value, a[result] = a[result], a[first]
        self.adjust_heap(first, 0, last - first, value)

    def heap_select(self, first, middle, last):
        self.make_heap(first, middle)
        for i in range(middle, last):
            if self.lt(self.a[i], self.a[first]):
                self.pop_heap(first, middle, i)

    def sort_heap(self, first, last):
        while last - first > 1:
            last -= 1
            self.pop_heap(first, last, last)

    # ---- introsort (bits/stl_algo.h) -------------------------------------------------------
    def partition_pivot(self, first, last):
        """the median of first + 1, the middle and last - 1 moved to first, then Hoare's
        unguarded partition of the rest around it; returns the cut"""
        a, lt = self.a, self.lt
        p, q, r = first + 1, first + (last - first) // 2, last - 1
        if lt(a[p], a[q]):
            med = q if lt(a[q], a[r]) else r if lt(a[p], a[r]) else p
        else:
            med = p if lt(a[p], a[r]) else r if lt(a[q], a[r]) else q
        a[first], a[med] = a[med], a[first]
        lo, hi = first + 1, last
        while True:
            while lt(a[lo], a[first]):
                lo += 1
            hi -= 1
            while lt(a[first], a[hi]):
                hi -= 1
            if not lo < hi:
                return lo
            a[lo], a[hi] = a[hi], a[lo]
            lo += 1

    def introsort_loop(self, first, last, depth):
        while last - first > _THRESHOLD:
            if depth == 0:
                self.heap_select(first, last, last)        # std::__partial_sort
                self.sort_heap(first, last)
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            self.introsort_loop(cut, last, depth)
            last = cut

    def linear_insert(self, i, bottom):
        """(unguarded in C++: bottom only keeps NaN's broken orders inside the list)"""
        a, value = self.a, self.a[i]
        while i > bottom and self.lt(value, a[i - 1]):
            a[i] = a[i - 1]
            i -= 1
        a[i] = value

    def insertion_sort(self, first, last):
        a = self.a
        for i in range(first + 1, last):
            if self.lt(a[i], a[first]):
                a.insert(first, a.pop(i))
            else:
                self.linear_insert(i, first)

    def sort(self, first, last):
        if last - first < 2:
            return
        self.introsort_loop(first, last, 2 * ((last - first).bit_length() - 1))
        if last - first > _THRESHOLD:
            self.insertion_sort(first, first + _THRESHOLD)
            for i in range(first + _THRESHOLD, last):      # __unguarded_insertion_sort
                self.linear_insert(i, first)
        else:
            self.insertion_sort(first, last)

    def nth_element(self, first, nth, last):
        """std::__introselect"""
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self.heap_select(first, nth + 1, last)
                self.a[first], self.a[nth] = self.a[nth], self.a[first]
                return
            depth -= 1
            cut = self.partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self.insertion_sort(first, last)


def std_sort(values, less):
    """positions in std::sort(values, less)'s order"""
    r = _Replay(values, less)
    r.sort(0, len(r.a))
    return r.positions()


def std_nth_element(values, nth, less):
    """positions in the order std::nth_element(values, nth, less) leaves them"""
    r = _Replay(values, less)
    r.nth_element(0, nth, len(r.a))
    return r.positions()


def std_topk(values, k, less, sorted=True):
    """the first k positions as PyTorch's topk leaves them (aten's TopKImpl.h):
    std::partial_sort where k * 64 <= n, else std::nth_element at k - 1 and, where sorted,
    std::sort of the k - 1 before it"""
    r = _Replay(values, less)
    n = len(r.a)
    if k * 64 <= n:
        r.heap_select(0, k, n)
        r.sort_heap(0, k)
    else:
        r.nth_element(0, k - 1, n)
        if sorted:
            r.sort(0, k - 1)
    return r.positions()[:k]
