# distutils: language = c++
"""The orders PyTorch's CPU sort and topk leave ties in: libstdc++'s std::sort (an unstable
introsort), std::partial_sort and std::nth_element of (key, index) pairs, comparing keys as
PyTorch's sort, topk, quantile and mode do. Built as C++ so that they are the std functions
themselves; the NumPy backend replays them in Python (cgrad/backends/_stdsort.py)."""
import numpy as np
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #include <algorithm>
    #include <cstdint>
    #include <utility>
    #include <vector>
    /* what each row gets: 0 std::sort; else PyTorch's topk of k (TopKImpl.h):
       std::partial_sort where k * 64 <= n, else std::nth_element at k - 1 and, where sorted,
       std::sort of the k - 1 before it */
    template <typename K, typename Less>
    static void cgrad_sort_rows(const K* keys, int64_t* order, Py_ssize_t rows, Py_ssize_t n,
                                Py_ssize_t k, int sorted, Less less) {
        typedef std::pair<K, int64_t> P;
        std::vector<P> a((size_t) n);
        auto comp = [less](const P& p, const P& q) { return less(p.first, q.first); };
        Py_ssize_t out = k ? k : n;
        for (Py_ssize_t r = 0; r < rows; r++) {
            for (Py_ssize_t i = 0; i < n; i++) a[i] = std::make_pair(keys[r * n + i], (int64_t) i);
            if (!k) {
                std::sort(a.begin(), a.end(), comp);
            } else if (k * 64 <= n) {
                std::partial_sort(a.begin(), a.begin() + k, a.end(), comp);
            } else {
                std::nth_element(a.begin(), a.begin() + k - 1, a.end(), comp);
                if (sorted) std::sort(a.begin(), a.begin() + k - 1, comp);
            }
            for (Py_ssize_t i = 0; i < out; i++) order[r * out + i] = a[i].second;
        }
    }
    /* compare: 0 ascending with NaN last, 1 descending with NaN first (PyTorch's
       KeyValueCompAsc / KeyValueCompDesc, and topk's), 2 a plain < (its mode's) */
    template <typename K>
    static void cgrad_std_sort_rows(const K* keys, int64_t* order, Py_ssize_t rows,
                                    Py_ssize_t n, Py_ssize_t k, int sorted, int compare) {
        if (compare == 0)
            cgrad_sort_rows(keys, order, rows, n, k, sorted, [](K a, K b) {
                return (!(a != a) && b != b) || a < b; });
        else if (compare == 1)
            cgrad_sort_rows(keys, order, rows, n, k, sorted, [](K a, K b) {
                return (a != a && !(b != b)) || a > b; });
        else
            cgrad_sort_rows(keys, order, rows, n, k, sorted, [](K a, K b) { return a < b; });
    }
    """
    void cgrad_std_sort_rows[K](const K* keys, int64_t* order, Py_ssize_t rows, Py_ssize_t n,
                                Py_ssize_t k, int sorted, int compare) noexcept nogil


def sort_order(keys, int compare, Py_ssize_t k=0, bint sorted=True):
    """each row's positions in std::sort's order (k = 0), or the first k of PyTorch's topk
    (see above): keys a C-contiguous 2-D float64 or int64 array (any float converts exactly
    to float64, any int or bool to int64, so the comparisons are the same)"""
    cdef Py_ssize_t rows = keys.shape[0], n = keys.shape[1]
    order = np.empty((rows, k if k else n), np.int64)
    if order.size == 0:
        return order
    cdef int64_t[:, ::1] o = order
    cdef const double[:, ::1] kd
    cdef const int64_t[:, ::1] ki
    if keys.dtype == np.float64:
        kd = keys
        with nogil:
            cgrad_std_sort_rows(&kd[0, 0], &o[0, 0], rows, n, k, sorted, compare)
    else:
        ki = keys
        with nogil:
            cgrad_std_sort_rows(&ki[0, 0], &o[0, 0], rows, n, k, sorted, compare)
    return order
