/* The thread count of the handle that is running, read by every parallel
 * region (core/pool.c).
 *
 * The BLAS provider is kept single-threaded (linalg/gemm.c): our threads split
 * every GEMM into blocks fixed by its shape, so the bits never depend on the
 * thread count, and one pool means the cores are never oversubscribed. */
#include <unistd.h>

#include "internal.h"

static _Thread_local int cur_threads = 1;

void byol__set_threads(int n)
{
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    cur_threads = n;
}

int byol__num_threads(void) { return cur_threads; }
