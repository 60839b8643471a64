/* Helpers shared by the bench programs (bench_net.c, bench_mpi.c): a
 * monotonic clock and fixed-seed input data, so that both feed the trainer
 * the same kind of views. Static inline: each program includes it once. */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <time.h>

static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Fixed-seed standard normal numbers (splitmix64 + Box-Muller). */
static inline uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline void fill_normal(float *x, int64_t n, uint64_t seed)
{
    const double two_pi = 6.283185307179586;
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = ((double)(splitmix64(&seed) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
        double u2 = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0;        /* [0, 1) */
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(two_pi * u2));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(two_pi * u2));
    }
}

#endif
