/* CPU features, detected at run time: a kernel compiled for AVX-512 runs
 * only where the CPU and the operating system support it, whatever the
 * build machine had.
 *
 * BYOL_CPU_DISABLE, a comma-separated list of "avx512" and "avx512bf16",
 * turns features off as if the CPU lacked them (turning avx512 off turns
 * avx512bf16 off too), so the fallbacks can run on a CPU that has them. It
 * is read once, at the first question. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int forced = -1;   /* -1: detect; 0 or 1: set by byol__cpu_force_avx512 */

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

/* Bit 0: AVX-512F, bit 1: AVX512_BF16, as the CPU and BYOL_CPU_DISABLE
 * allow. Computed once; two threads racing compute the same value. */
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
        if (__builtin_cpu_supports("avx512bf16") && !disabled("avx512bf16"))
            f |= 2;
    }
#endif
    atomic_store(&features, f);
    return f;
}

int byol__cpu_avx512(void)
{
    return forced >= 0 ? forced : detected() & 1;
}

int byol__cpu_bf16(void)
{
    return byol__cpu_avx512() && (detected() & 2);
}

void byol__cpu_force_avx512(int on)
{
    forced = on < 0 ? -1 : on > 0 && (detected() & 1);
}
