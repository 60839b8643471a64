/* CPU features, detected at run time: a kernel compiled for AVX-512 runs
 * only where the CPU and the operating system support it, whatever the
 * build machine had. */
#include "internal.h"

static int forced = -1;   /* -1: detect; 0 or 1: set by byol__cpu_force_avx512 */

static int detect_avx512(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    /* libgcc's check includes the OS enabling the ZMM state (XGETBV);
     * the init makes it valid even before constructors have run. */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

int byol__cpu_avx512(void)
{
    return forced >= 0 ? forced : detect_avx512();
}

void byol__cpu_force_avx512(int on)
{
    forced = on < 0 ? -1 : on > 0 && detect_avx512();
}
