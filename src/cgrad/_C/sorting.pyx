# distutils: language = c++
"""The order PyTorch's CPU sort leaves ties in: libstdc++'s std::sort (an unstable introsort)
of (key, index) pairs, comparing keys as PyTorch's sort, quantile and mode do. Built as C++ so
that it is std::sort itself; the NumPy backend replays it in Python."""
import numpy as np
from libc.stdint cimport int64_t

cdef extern from *:
    """
    #include <algorithm>
    #include <cstdint>
    #include <utility>
    #include <vector>
    template <typename K, typename Less>
    static void cgrad_sort_rows(const K* keys, int64_t* order, Py_ssize_t rows, Py_ssize_t n,
                                Less less) {
        std::vector<std::pair<K, int64_t>> a((size_t) n);
        for (Py_ssize_t r = 0; r < rows; r++) {
            for (Py_ssize_t i = 0; i < n; i++) a[i] = std::make_pair(keys[r * n + i], (int64_t) i);
            std::sort(a.begin(), a.end(),
                      [less](const std::pair<K, int64_t>& p, const std::pair<K, int64_t>& q) {
                          return less(p.first, q.first); });
            for (Py_ssize_t i = 0; i < n; i++) order[r * n + i] = a[i].second;
        }
    }
    /* compare: 0 ascending with NaN last, 1 descending with NaN first (PyTorch's
       KeyValueCompAsc / KeyValueCompDesc), 2 a plain < (its mode's) */
    template <typename K>
    static void cgrad_std_sort_rows(const K* keys, int64_t* order, Py_ssize_t rows,
                                    Py_ssize_t n, int compare) {
        if (compare == 0)
            cgrad_sort_rows(keys, order, rows, n, [](K a, K b) {
                return (!(a != a) && b != b) || a < b; });
        else if (compare == 1)
            cgrad_sort_rows(keys, order, rows, n, [](K a, K b) {
                return (a != a && !(b != b)) || a > b; });
        else
            cgrad_sort_rows(keys, order, rows, n, [](K a, K b) { return a < b; });
    }
    """
    void cgrad_std_sort_rows[K](const K* keys, int64_t* order, Py_ssize_t rows, Py_ssize_t n,
                                int compare) noexcept nogil


def sort_order(keys, int compare):
    """each row's positions in std::sort's order: keys a C-contiguous 2-D float64 or int64
    array (any float converts exactly to float64, any int or bool to int64, so the
    comparisons are the same)"""
    cdef Py_ssize_t rows = keys.shape[0], n = keys.shape[1]
    order = np.empty((rows, n), np.int64)
    if rows == 0 or n == 0:
        return order
    cdef int64_t[:, ::1] o = order
    cdef const double[:, ::1] kd
    cdef const int64_t[:, ::1] ki
    if keys.dtype == np.float64:
        kd = keys
        with nogil:
            cgrad_std_sort_rows(&kd[0, 0], &o[0, 0], rows, n, compare)
    else:
        ki = keys
        with nogil:
            cgrad_std_sort_rows(&ki[0, 0], &o[0, 0], rows, n, compare)
    return order
