"""A cache of freed large NumPy data buffers, handed back for the next request of the same size.

A training step allocates the same activation and gradient sizes every time. glibc serves
blocks of 32 MB and more with a fresh mmap (and smaller ones too, once it has trimmed its heap),
so every step page-faults and zeroes its big buffers again: a 10^7 float32 multiply took 6.0 ms
into a fresh array against 3.1 ms into an existing one. This module is a NumPy memory handler
(NEP 49) that keeps freed blocks of at least MIN_BYTES, up to a limit in total, and returns the
most recently freed block of the exact size asked for, still mapped and warm in cache.
Everything else, and every block it does not keep, goes to the handler it replaces (NumPy's).
NumPy records the handler on each array, so arrays made before or elsewhere free correctly.

Blocks of ALIGNED_MIN bytes and more start on a 64-byte boundary (a cache line, an AVX-512
register), as PyTorch's allocator does: glibc puts a big block 16 bytes past a page start, so
every 64-byte vector load of the kernels straddled two cache lines (the Adam step over 10^7
parameters ran 5.8 ms against 5.1 ms aligned). Only when the handler it replaces is NumPy's
own, whose big blocks are plain malloc/realloc/free ones: posix_memalign's blocks free and
realloc the same way. np.zeros keeps NumPy's calloc (untouched pages cost nothing); its
blocks, unaligned, are then not kept (cgrad's own zeros are np.empty + fill:
cgrad._memory.zeros). Blocks of 2 MiB and more are mappings of this module's own, on huge
pages, starting at one of 16 offsets past their 2 MiB boundary in turn (colours: see
CGRAD_COLOURS); a table of them gives free and realloc each one's mapping, and a kept one
serves a request up to a third smaller than itself."""
from cpython.pycapsule cimport PyCapsule_New, PyCapsule_GetPointer
from libc.stdint cimport uint8_t
from libc.string cimport memcpy, strncpy

cimport numpy as cnp

cnp.import_array()

cdef extern from "numpy/arrayobject.h":
    ctypedef struct PyDataMemAllocator:
        void* ctx
        void* (*malloc)(void* ctx, size_t size) noexcept nogil
        void* (*calloc)(void* ctx, size_t nelem, size_t elsize) noexcept nogil
        void* (*realloc)(void* ctx, void* ptr, size_t new_size) noexcept nogil
        void (*free)(void* ctx, void* ptr, size_t size) noexcept nogil
    ctypedef struct PyDataMem_Handler:
        char name[127]
        uint8_t version
        PyDataMemAllocator allocator
    object PyDataMem_SetHandler(object handler)
    object PyDataMem_GetHandler()

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_mutex_t:
        pass
    int pthread_mutex_init(pthread_mutex_t* m, void* attr)
    int pthread_mutex_lock(pthread_mutex_t* m)
    int pthread_mutex_unlock(pthread_mutex_t* m)

cdef enum:
    SLOTS = 64                  # blocks kept at most (a training step has a few dozen)
    MIN_BYTES = 1 << 20         # smaller blocks: glibc's free lists reuse them well
    ALIGNED_MIN = 4096          # blocks from here on start on a cache line

cdef extern from *:
    """
    #include <stdlib.h>
    #if defined(__linux__)
    #include <sys/mman.h>
    #endif
    /* Blocks of 2 MiB and more (hugepage set, as NumPy's madvise setting) are mappings of
       their own (cgrad_map_huge), on a 2 MiB boundary, with transparent huge pages asked for
       over their whole 2 MiB pages before anything touches them: with 4 KiB pages the Adam
       step over ten 10^6-float tensors (4 MB each, below NumPy's own 4 MiB threshold) took
       12.0 ms, with huge pages 9.1 ms (TLB misses, and the prefetchers stop at every 4 KiB
       page). From glibc's heap (posix_memalign, once its mmap threshold has risen) a block
       could land on pages already touched as 4 KiB ones, and a kept one stopped glibc
       trimming the heap below it. A block whose last huge page it fills but for an eighth
       of its size or less takes that page whole (its footprint); others keep 4 KiB pages at
       the tail (a 2 MiB + 4 KiB block would double on huge pages). */
    #if defined(_WIN32)
    #define CGRAD_CAN_ALIGN 0     /* _aligned_malloc's blocks need _aligned_free */
    #else
    #define CGRAD_CAN_ALIGN 1
    #endif
    #define CGRAD_HUGE_PAGE ((size_t) 1 << 21)
    #if defined(__linux__) && defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
    #define CGRAD_HUGE_PAGES 1
    #else
    #define CGRAD_HUGE_PAGES 0
    #endif
    /* Blocks on huge pages start CGRAD_COLOUR_STEP bytes apart past their 2 MiB boundary, in
       turn over the first 4 KiB (CGRAD_COLOURS starts): with every array at one offset, each
       stream of a kernel reading several maps to the same cache sets and 4 KiB-aliases the
       others' stores. A C copy of Adam's step over 10 x 10^6 float32 took 9.5-10.0 ms with
       its arrays at one offset, 8.9-9.4 spread 256 or 512 bytes apart (SGD's 7.6-7.8 ms,
       6.7-6.9), on the Xeon (AVX-512) host. */
    #define CGRAD_COLOURS 16
    #define CGRAD_COLOUR_STEP ((size_t) 256)
    #define CGRAD_COLOUR_ROOM (CGRAD_COLOURS * CGRAD_COLOUR_STEP)
    /* the bytes a block of `size` holds: its whole huge pages (see above), and room for a
       colour past them (which stays on 4 KiB pages) */
    static size_t cgrad_footprint(size_t size, int hugepage) {
    #if CGRAD_HUGE_PAGES
        if (hugepage && size >= CGRAD_HUGE_PAGE) {
            size_t whole = (size + CGRAD_HUGE_PAGE - 1) & ~(CGRAD_HUGE_PAGE - 1);
            return (whole - size <= size / 8 ? whole : size) + CGRAD_COLOUR_ROOM;
        }
    #endif
        return size;
    }
    /* a block of `size` bytes (2 MiB or more) as a mapping of its own on a 2 MiB boundary
       (mapped 2 MiB over, the excess unmapped), huge pages asked for over its whole 2 MiB
       pages, its length into *mapped; NULL if the system refuses */
    static void* cgrad_map_huge(size_t size, size_t* mapped) {
    #if CGRAD_HUGE_PAGES
        size_t len = (cgrad_footprint(size, 1) + 4095) & ~(size_t) 4095;
        char* p = (char*) mmap(NULL, len + CGRAD_HUGE_PAGE, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        char* a;
        if (p == (char*) MAP_FAILED)
            return NULL;
        a = (char*) (((size_t) p + CGRAD_HUGE_PAGE - 1) & ~(CGRAD_HUGE_PAGE - 1));
        if (a > p)
            munmap(p, a - p);
        if (p + len + CGRAD_HUGE_PAGE > a + len)
            munmap(a + len, p + len + CGRAD_HUGE_PAGE - (a + len));
        madvise(a, (len - CGRAD_COLOUR_ROOM) & ~(CGRAD_HUGE_PAGE - 1), MADV_HUGEPAGE);
        *mapped = len;
        return a;
    #else
        (void) size; (void) mapped;
        return NULL;
    #endif
    }
    static void cgrad_unmap_huge(void* block, size_t mapped) {
    #if CGRAD_HUGE_PAGES
        munmap(block, mapped);
    #else
        (void) block; (void) mapped;
    #endif
    }
    /* size bytes on a 64-byte boundary, or NULL (the caller then asks the base handler) */
    static void* cgrad_aligned_malloc(size_t size) {
    #if defined(_WIN32)
        (void) size;
        return NULL;
    #else
        void* p = NULL;
        if (posix_memalign(&p, 64, size) != 0)
            return NULL;
        return p;
    #endif
    }
    """
    void* cgrad_aligned_malloc(size_t size) noexcept nogil
    void* cgrad_map_huge(size_t size, size_t* mapped) noexcept nogil
    void cgrad_unmap_huge(void* block, size_t mapped) noexcept nogil
    size_t cgrad_footprint(size_t size, int hugepage) noexcept nogil
    const size_t CGRAD_COLOURS
    const size_t CGRAD_COLOUR_STEP
    const int CGRAD_CAN_ALIGN
    const int CGRAD_HUGE_PAGES
    const size_t CGRAD_HUGE_PAGE

cdef enum:
    COLOURED_MAX = 4096         # blocks of our own mappings recorded at most (a power of two);
                                # past three quarters of it, the base handler serves them

cdef struct Coloured:
    void* ptr                   # a block of our own mapping as handed out, a colour past its
                                # 2 MiB boundary (NULL: an empty entry)
    size_t size                 # the size last asked of it
    size_t mapped               # its mapping's length, from the boundary

cdef struct Slot:
    void* ptr
    size_t size
    size_t bytes                # what it holds (its mapping if ours, else its footprint),
                                # counted against the limit
    unsigned long long freed    # when it was freed: the newest match is taken, the oldest evicted

cdef Slot _slots[SLOTS]
cdef Coloured _coloured[COLOURED_MAX]   # open addressing, linear probing
cdef size_t _n_coloured = 0, _next_colour = 0
cdef size_t _cached = 0, _limit = 0
cdef unsigned long long _clock = 0, _hits = 0, _misses = 0
cdef pthread_mutex_t _lock     # NumPy may allocate and free outside the GIL
cdef PyDataMemAllocator _base  # the handler this one wraps
cdef bint _align = False       # _base is NumPy's default handler: big blocks aligned here
cdef bint _hugepage = True     # NumPy's madvise(MADV_HUGEPAGE) setting
cdef PyDataMem_Handler _handler
cdef object _base_capsule = None, _capsule = None

pthread_mutex_init(&_lock, NULL)


cdef inline size_t _footprint(size_t size) noexcept nogil:
    """the bytes a kept block of `size` holds (whole huge pages: see cgrad_footprint)"""
    return cgrad_footprint(size, _align and _hugepage)


# ---- blocks of our own mappings: a table of them, for free and realloc ----------------------
# (the lock is held in each, but _huge_block and _release, which take it)
cdef inline size_t _home(const void* ptr) noexcept nogil:
    cdef size_t a = <size_t> ptr
    return ((a >> 21) ^ (a >> 8)) & (COLOURED_MAX - 1)


cdef Py_ssize_t _find_coloured(const void* ptr) noexcept nogil:
    cdef size_t i = _home(ptr)
    while _coloured[i].ptr != NULL:
        if _coloured[i].ptr == ptr:
            return i
        i = (i + 1) & (COLOURED_MAX - 1)
    return -1


cdef void* _huge_block(size_t size) noexcept nogil:
    """a mapping of our own for a block of size (2 MiB or more), offset by the next colour and
    recorded; NULL where the record is full or the system refuses (the caller then asks the
    base handler)"""
    global _n_coloured, _next_colour
    cdef size_t i, mapped = 0
    cdef char* block
    cdef char* ptr
    if _n_coloured >= COLOURED_MAX // 4 * 3:       # (read again under the lock)
        return NULL
    block = <char*> cgrad_map_huge(size, &mapped)
    if block == NULL:
        return NULL
    pthread_mutex_lock(&_lock)
    if _n_coloured >= COLOURED_MAX // 4 * 3:
        pthread_mutex_unlock(&_lock)
        cgrad_unmap_huge(block, mapped)
        return NULL
    ptr = block + (_next_colour % CGRAD_COLOURS) * CGRAD_COLOUR_STEP
    _next_colour += 1
    i = _home(ptr)
    while _coloured[i].ptr != NULL:
        i = (i + 1) & (COLOURED_MAX - 1)
    _coloured[i].ptr = ptr
    _coloured[i].size = size
    _coloured[i].mapped = mapped
    _n_coloured += 1
    pthread_mutex_unlock(&_lock)
    return ptr


cdef bint _forget(void* ptr, size_t* mapped) noexcept nogil:
    """Take ptr out of the table, its mapping's length into mapped; False if it is not
    there."""
    global _n_coloured
    cdef Py_ssize_t found = _find_coloured(ptr)
    cdef size_t i, j, k
    if found < 0:
        return False
    i = j = <size_t> found
    mapped[0] = _coloured[i].mapped
    _coloured[i].ptr = NULL
    while True:                    # shift back the entries that probed past the hole
        j = (j + 1) & (COLOURED_MAX - 1)
        if _coloured[j].ptr == NULL:
            break
        k = _home(_coloured[j].ptr)
        if (i < j and i < k <= j) or (i > j and (k > i or k <= j)):
            continue               # (its home is after the hole: it stays)
        _coloured[i] = _coloured[j]
        _coloured[j].ptr = NULL
        i = j
    _n_coloured -= 1
    return True


cdef void _release(void* ptr, size_t size) noexcept nogil:
    """Give a block back (the lock not held): unmap one of ours, else the base handler's."""
    cdef size_t mapped = 0
    cdef bint ours = False
    if size >= MIN_BYTES and _n_coloured:        # (ours are 2 MiB and more)
        pthread_mutex_lock(&_lock)
        ours = _forget(ptr, &mapped)
        pthread_mutex_unlock(&_lock)
    if ours:
        cgrad_unmap_huge(<void*> (<size_t> ptr & ~(CGRAD_HUGE_PAGE - 1)), mapped)
    else:
        _base.free(_base.ctx, ptr, size)


cdef int _fitting(size_t size) noexcept nogil:
    """The kept slot of ours that holds size with the least room to spare, at most half
    more (a request up to a third smaller than the block), now recorded as size's; -1 if none
    (the lock is held). With sizes that change from step to step, an exact size rarely comes
    back, and each fresh mapping faults its pages in again: 2,000 arrays of 2-40 MiB took 11 s
    without this, 5.8 s with a quarter more, 2.4-2.5 s with half (RSS at the end alike)."""
    cdef int i, best = -1
    cdef Py_ssize_t j, found = -1
    cdef size_t room, least = 0
    for i in range(SLOTS):
        if _slots[i].ptr == NULL:
            continue
        j = _find_coloured(_slots[i].ptr)
        if j < 0:
            continue
        room = _coloured[j].mapped - (<size_t> _slots[i].ptr & (CGRAD_HUGE_PAGE - 1))
        if size <= room <= size + size // 2 and (best < 0 or room < least):
            best, least, found = i, room, j
    if found >= 0:
        _coloured[found].size = size
    return best


cdef void* _malloc(void* ctx, size_t size) noexcept nogil:
    global _cached, _hits, _misses
    cdef int i, best = -1
    cdef void* ptr
    if size >= MIN_BYTES:
        pthread_mutex_lock(&_lock)
        for i in range(SLOTS):
            if _slots[i].ptr != NULL and _slots[i].size == size and (
                    best < 0 or _slots[i].freed > _slots[best].freed):
                best = i
        if best < 0 and size >= CGRAD_HUGE_PAGE and _n_coloured:
            best = _fitting(size)
        if best >= 0:
            ptr = _slots[best].ptr
            _slots[best].ptr = NULL
            _cached -= _slots[best].bytes
            _hits += 1
            pthread_mutex_unlock(&_lock)
            return ptr
        _misses += 1
        pthread_mutex_unlock(&_lock)
    if _align and size >= ALIGNED_MIN:
        if CGRAD_HUGE_PAGES and _hugepage and size >= CGRAD_HUGE_PAGE:
            ptr = _huge_block(size)
        else:
            ptr = cgrad_aligned_malloc(size)
        if ptr != NULL:
            return ptr
    return _base.malloc(_base.ctx, size)


cdef void* _calloc(void* ctx, size_t nelem, size_t elsize) noexcept nogil:
    # zeros: fresh pages come zeroed (and untouched pages cost nothing), so no reuse here
    return _base.calloc(_base.ctx, nelem, elsize)


cdef void* _realloc(void* ctx, void* ptr, size_t new_size) noexcept nogil:
    # a block of our own mapping is no block of glibc's: moved by hand (NumPy reallocs
    # rarely: resize)
    cdef Py_ssize_t i = -1
    cdef size_t old_size = 0
    cdef void* fresh
    if ptr != NULL and _n_coloured:
        pthread_mutex_lock(&_lock)
        i = _find_coloured(ptr)
        if i >= 0:
            old_size = _coloured[i].size
        pthread_mutex_unlock(&_lock)
    if i < 0:
        return _base.realloc(_base.ctx, ptr, new_size)
    fresh = _malloc(ctx, new_size if new_size else 1)
    if fresh != NULL:
        memcpy(fresh, ptr, min(old_size, new_size))
        _free(ctx, ptr, old_size)
    return fresh


cdef bint _evict_oldest(Slot* out) noexcept nogil:
    """Take the oldest kept block out of the cache into out, for the caller to _release once
    it has let go of the lock (held here); False if none is kept."""
    global _cached
    cdef int i, old = -1
    for i in range(SLOTS):
        if _slots[i].ptr != NULL and (old < 0 or _slots[i].freed < _slots[old].freed):
            old = i
    if old < 0:
        return False
    out[0] = _slots[old]
    _cached -= _slots[old].bytes
    _slots[old].ptr = NULL
    return True


cdef int _empty_slot() noexcept nogil:
    cdef int i
    for i in range(SLOTS):
        if _slots[i].ptr == NULL:
            return i
    return -1


cdef size_t _held(const void* ptr, size_t size) noexcept nogil:
    """the bytes a block holds: its mapping if ours, else its footprint (the lock is held)"""
    cdef Py_ssize_t j = _find_coloured(ptr) if _n_coloured and size >= CGRAD_HUGE_PAGE else -1
    return _coloured[j].mapped if j >= 0 else _footprint(size)


cdef inline bint _keepable(const void* ptr, size_t size) noexcept nogil:
    # aligning, an unaligned block (np.zeros' calloc, a realloc) is not kept: a block handed
    # back is always aligned
    return (ptr != NULL and MIN_BYTES <= size and _footprint(size) <= _limit
            and not (_align and (<size_t> ptr) % 64))


def keeps(size_t address, size_t size):
    """Whether a freed block at this address and of this size would be kept (a test hook)."""
    return _keepable(<const void*> address, size)


cdef void _free(void* ctx, void* ptr, size_t size) noexcept nogil:
    global _clock, _cached
    cdef int i, k, evicted = 0
    cdef size_t bytes
    cdef Slot out[SLOTS + 1]           # blocks evicted for this one, released after the lock
    if _keepable(ptr, size):
        pthread_mutex_lock(&_lock)
        bytes = _held(ptr, size)
        if bytes <= _limit:            # (unless lowered by set_limit since the test above)
            while _cached + bytes > _limit and _evict_oldest(&out[evicted]):
                evicted += 1
            i = _empty_slot()
            if i < 0 and _evict_oldest(&out[evicted]):
                evicted += 1
                i = _empty_slot()
            _clock += 1
            _slots[i].ptr = ptr
            _slots[i].size = size
            _slots[i].bytes = bytes
            _slots[i].freed = _clock
            _cached += bytes
            pthread_mutex_unlock(&_lock)
            for k in range(evicted):
                _release(out[k].ptr, out[k].size)
            return
        pthread_mutex_unlock(&_lock)
    _release(ptr, size)


def install(size_t limit):
    """Make this the NumPy memory handler of the calling context (NumPy keeps one per
    contextvars context: a thread started later uses NumPy's own), keeping at most `limit`
    bytes of freed blocks. Installing again only changes the limit."""
    global _base_capsule, _capsule, _base
    cdef PyDataMem_Handler* base
    set_limit(limit)
    if _capsule is not None and PyDataMem_GetHandler() is _capsule:
        return
    if _base_capsule is None:
        _base_capsule = PyDataMem_GetHandler()
        base = <PyDataMem_Handler*> PyCapsule_GetPointer(_base_capsule, b"mem_handler")
        _base = base.allocator
        _set_alignment(base.name == b"default_allocator")
        strncpy(_handler.name, b"cgrad_buffer_cache", 127)
        _handler.version = 1
        _handler.allocator.ctx = NULL
        _handler.allocator.malloc = _malloc
        _handler.allocator.calloc = _calloc
        _handler.allocator.realloc = _realloc
        _handler.allocator.free = _free
        _capsule = PyCapsule_New(&_handler, b"mem_handler", NULL)
    PyDataMem_SetHandler(_capsule)


cdef _set_alignment(bint on):
    """Align big blocks (when the base handler is NumPy's own and the platform can), asking
    for huge pages where NumPy does (its setting at install)."""
    global _align, _hugepage
    _align = on and CGRAD_CAN_ALIGN
    try:
        from numpy._core.multiarray import _get_madvise_hugepage
    except ImportError:          # NumPy 1.x
        try:
            from numpy.core.multiarray import _get_madvise_hugepage
        except ImportError:
            return               # keep asking for huge pages, as NumPy's default does
    _hugepage = _get_madvise_hugepage()


def after_fork_in_child():
    """A fork copies the lock as it was: the child starts with a fresh one (its one thread
    holds nothing)."""
    pthread_mutex_init(&_lock, NULL)


def set_limit(size_t limit):
    """Keep at most `limit` bytes of freed blocks (0: keep none; the kept ones are freed)."""
    global _limit
    cdef Slot out[SLOTS]
    cdef int k, evicted = 0
    with nogil:
        pthread_mutex_lock(&_lock)
        _limit = limit
        while _cached > _limit and _evict_oldest(&out[evicted]):
            evicted += 1
        pthread_mutex_unlock(&_lock)
        for k in range(evicted):
            _release(out[k].ptr, out[k].size)


def clear():
    """Give every kept block back."""
    cdef size_t limit = _limit
    set_limit(0)
    set_limit(limit)


def info():
    """{"blocks", "bytes", "limit", "hits", "misses"}: what is kept now, and how many requests
    of at least MIN_BYTES the cache served and missed since import."""
    cdef int i, blocks = 0
    with nogil:
        pthread_mutex_lock(&_lock)
        for i in range(SLOTS):
            blocks += _slots[i].ptr != NULL
        pthread_mutex_unlock(&_lock)
    return {"blocks": blocks, "bytes": _cached, "limit": _limit, "hits": _hits,
            "misses": _misses, "coloured": _n_coloured, "min_bytes": MIN_BYTES,
            "aligned_min": ALIGNED_MIN if _align else None,
            "huge_min": CGRAD_HUGE_PAGE if _align and _hugepage and CGRAD_HUGE_PAGES else None}
