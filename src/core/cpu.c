/* CPU features, detected at run time: a kernel compiled for AVX-512 or
 * AMX runs only where the CPU and the operating system support it, whatever
 * the build machine had.
 *
 * BYOL_CPU_DISABLE, a comma-separated list of "avx512", "avx512bf16" and
 * "amx", turns features off as if the CPU lacked them (each turns off the
 * ones after it too), so the fallbacks can run on a CPU that has them. It
 * is read once, at the first question. */
#define _DEFAULT_SOURCE /* syscall */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "internal.h"

static int forced = -1;     /* -1: detect; 0 or 1: set by byol__cpu_force_avx512 */
static int amx_off;         /* set by byol__cpu_force_amx(0) */

/* Is feature listed in BYOL_CPU_DISABLE? */
static int disabled(const char *feature)
{
    const char *s = getenv("BYOL_CPU_DISABLE");
    size_t n = strlen(feature);
    while (s && *s) {
        size_t len = strcspn(s, ",");
        if (len == n && !strncmp(s, feature, n))
            return 1;
        s += len + (s[len] == ',');
    }
    return 0;
}

/* Bit 0: AVX-512F, bit 1: AVX512_BF16 (with the BW and VL subsets its
 * conversions use), as the CPU, the OS and BYOL_CPU_DISABLE allow.
 * Computed once; two threads racing compute the same value. */
static int detected(void)
{
    static atomic_int features = -1;
    int known = atomic_load(&features);
    if (known >= 0)
        return known;
    int f = 0;
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's check includes the OS enabling the ZMM state (XGETBV);
     * the init makes it valid even before constructors have run. */
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && !disabled("avx512")) {
        f = 1;
        if (__builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512vl") && !disabled("avx512bf16"))
            f |= 2;
    }
#endif
    atomic_store(&features, f);
    return f;
}

/* Does the CPU have AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and
 * 22), and does the OS save tile state (XCR0 bits 17 and 18)? Read from
 * CPUID, as compilers before clang 18 know no "amx" for
 * __builtin_cpu_supports. Asked only where AVX-512F was found, which
 * implies XGETBV. */
static int amx_cpu(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (~d & (1u << 22 | 1u << 24)))
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & (3u << 17)) == (3u << 17);
#else
    return 0;
#endif
}

/* May this process use AMX tile data? Linux hands out the 8 KiB of tile
 * state only on request (arch_prctl ARCH_REQ_XCOMP_PERM for
 * XFEATURE_XTILEDATA); a tile instruction without it raises SIGILL. The
 * permission is the whole process's (it also raises the smallest signal
 * stack Linux accepts), so it is asked for only when a bf16 product is
 * about to run; asking again is harmless. */
static int amx_permitted(void)
{
#if defined(__linux__) && defined(__x86_64__) && defined(SYS_arch_prctl)
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */,
                   18 /* XFEATURE_XTILEDATA */) == 0;
#else
    return 0;
#endif
}

int byol__cpu_avx512(void)
{
    return forced >= 0 ? forced : detected() & 1;
}

int byol__cpu_bf16(void)
{
    return byol__cpu_avx512() && (detected() & 2);
}

int byol__cpu_amx(void)
{
    static atomic_int usable = -1;
    if (!byol__cpu_bf16() || amx_off)
        return 0;
    int u = atomic_load(&usable);
    if (u < 0) {
        u = !disabled("amx") && amx_cpu() && amx_permitted();
        atomic_store(&usable, u);
    }
    return u;
}

void byol__cpu_force_amx(int on)
{
    amx_off = on == 0;
}

void byol__cpu_force_avx512(int on)
{
    forced = on < 0 ? -1 : on > 0 && (detected() & 1);
}
