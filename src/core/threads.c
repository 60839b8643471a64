/* One thread count for our OpenMP loops and for the BLAS provider.
 *
 * Our parallel regions never call BLAS and BLAS never calls us, so the two
 * pools take turns and, set to the same count, never oversubscribe the
 * cores. The CBLAS interface has no thread-count call, so the provider's own
 * setter is looked up at run time (OpenBLAS, BLIS); a provider without one
 * (the reference CBLAS) is single-threaded anyway. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <unistd.h>

#include "internal.h"

static _Thread_local int cur_threads = 1;
static int blas_threads = -1;   /* last count given to the provider */

static void blas_set_threads(int n)
{
    typedef void (*setter)(int);
    static const char *const names[] = {
        "openblas_set_num_threads", "bli_thread_set_num_threads",
        "goto_set_num_threads"
    };
    if (n == blas_threads)
        return;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        void *sym = dlsym(RTLD_DEFAULT, names[i]);
        if (sym) {
            setter fn;
            *(void **)&fn = sym;
            fn(n);
            break;
        }
    }
    blas_threads = n;
}

void byol__set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    cur_threads = n;
    blas_set_threads(n);
}

int byol__num_threads(void) { return cur_threads; }
