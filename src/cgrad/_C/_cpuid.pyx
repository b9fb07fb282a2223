"""The x86 CPUID instruction, for the feature flags an older kernel's /proc/cpuinfo does not
list yet (AVX10), which PyTorch's cpuinfo library reads from CPUID itself."""

cdef extern from *:
    """
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    #include <cpuid.h>
    static int cgrad_cpuid(unsigned leaf, unsigned sub, unsigned *r) {
        return __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]);
    }
    #elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
    #include <intrin.h>
    static int cgrad_cpuid(unsigned leaf, unsigned sub, unsigned *r) {
        int info[4];
        __cpuid(info, (int) (leaf & 0x80000000u));      /* the highest leaf of that range */
        if ((unsigned) info[0] < leaf)
            return 0;
        __cpuidex(info, (int) leaf, (int) sub);
        r[0] = info[0]; r[1] = info[1]; r[2] = info[2]; r[3] = info[3];
        return 1;
    }
    #else
    static int cgrad_cpuid(unsigned leaf, unsigned sub, unsigned *r) { return 0; }
    #endif
    """
    int cgrad_cpuid(unsigned leaf, unsigned sub, unsigned* r)


def cpuid(unsigned leaf, unsigned subleaf=0):
    """(eax, ebx, ecx, edx) of CPUID leaf/subleaf, or None where the CPU has no such leaf (or
    is not an x86)"""
    cdef unsigned r[4]
    if not cgrad_cpuid(leaf, subleaf, r):
        return None
    return r[0], r[1], r[2], r[3]
