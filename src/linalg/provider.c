/* What libbyol needs from whichever CBLAS provider it was linked with,
 * beyond cblas_sgemm: that it runs single-threaded (our threads split every
 * GEMM, see gemm.c) and that it uses optimised kernels on this CPU.
 *
 * Both are provider calls or settings outside the CBLAS interface, so they
 * are looked up at run time; a provider without them (the reference CBLAS)
 * is single-threaded and has a single code path anyway. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "core/internal.h"
#include "linalg/linalg.h"

typedef int (*get_fn)(void);
typedef void (*set_fn)(int);
static get_fn blas_get;
static set_fn blas_set;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* AMD family of this CPU (0 if not AMD or not x86). */
static unsigned amd_family(void)
{
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541u /* "Auth"enticAMD */)
        return 0;
    __get_cpuid(1, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf;
    return family == 0xf ? family + ((a >> 20) & 0xff) : family;
#else
    return 0;
#endif
}

/* BLIS 0.9 (Debian bookworm) identifies AMD CPUs up to family 19h; on later
 * ones (Zen 5 and newer) it falls back to its reference kernels, 4x slower.
 * Its Zen 3 kernels (AVX2 + FMA, which these CPUs have) are the right ones
 * there. BLIS reads BLIS_ARCH_TYPE once, at its first call, so this must
 * run before any BLIS call; a value the user set is never replaced. */
static void point_blis_at_its_kernels(void)
{
    if (!dlsym(RTLD_DEFAULT, "bli_arch_query_id") || getenv("BLIS_ARCH_TYPE"))
        return;
    if (amd_family() >= 0x1a && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        setenv("BLIS_ARCH_TYPE", "zen3", 0);
        byol__log(BYOL_LOG_INFO, "BLIS does not know this CPU (AMD family %xh); "
                  "BLIS_ARCH_TYPE=zen3 selects its AVX2 kernels", amd_family());
    }
}

static void setup(void)
{
    static const char *const names[][2] = {
        { "openblas_get_num_threads", "openblas_set_num_threads" },
        { "bli_thread_get_num_threads", "bli_thread_set_num_threads" },
    };
    point_blis_at_its_kernels();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *g = dlsym(RTLD_DEFAULT, names[i][0]);
        void *s = dlsym(RTLD_DEFAULT, names[i][1]);
        if (g && s) {
            *(void **)&blas_get = g;
            *(void **)&blas_set = s;
            return;
        }
    }
}

void byol__gemm_prepare(void)
{
    /* Cheap when already single-threaded: one call to the getter. */
    pthread_once(&once, setup);
    if (blas_get && blas_get() != 1)
        blas_set(1);
}
