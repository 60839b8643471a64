/* Internal helpers shared by every module: errors, memory, threads, RNG.
 * Nothing here is exported; all names carry the byol__ prefix. */
#ifndef BYOL_INTERNAL_H
#define BYOL_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include "byol/byol_common.h"

#if defined(__GNUC__)
#define BYOL__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define BYOL__PRINTF(a, b)
#endif

/* Records a formatted message as this thread's last error and returns code,
 * so a failure site reads: return byol__err(BYOL_E_SHAPE, "...", ...); */
int byol__err(int code, const char *fmt, ...) BYOL__PRINTF(2, 3);

/* Memory through the allocator hook. Every block is 64-byte aligned and
 * remembers which allocator made it, so byol__free/byol_free are always
 * right even if the hook was changed in between. Returns NULL on failure
 * and sets no error: the caller names what it was allocating. */
void *byol__malloc(size_t size);
void *byol__calloc(size_t count, size_t size);
void byol__free(void *ptr);
char *byol__strdup(const char *s);
/* size = a * b with overflow check; returns 0 and sets *out on success. */
int byol__mul_size(size_t a, size_t b, size_t *out);

/* v as the shortest %g text that strtod reads back exactly (at most 24
 * bytes with the NUL: "-2.2250738585072014e-308"). NaN and infinities
 * print as "nan", "inf". */
void byol__format_double(char *buf, size_t len, double v);

/* Log through the user's callback (silent by default). */
void byol__log(int level, const char *fmt, ...) BYOL__PRINTF(2, 3);

/* Threads for our own loops (core/pool.c), which also run the BLAS in blocks.
 * The count is set per call site by the handle that runs (byol__set_threads)
 * and read by the kernels that start parallel regions. */
void byol__set_threads(int n);
int byol__num_threads(void);
/* Below this many elements an element-wise loop runs on one thread: a
 * parallel region costs more than it saves (biases, BatchNorm vectors). */
#define BYOL__PAR_MIN 32768

/* A parallel region: fn(ctx, thread, threads) on each of `threads` threads
 * (the caller is thread 0), returning when all are done. Fewer threads run
 * it when no more can be started, and a region started inside a region runs
 * on its caller alone (threads = 1): so fn must take any count. */
typedef void (*byol__task_fn)(void *ctx, int thread, int threads);
void byol__run(int threads, byol__task_fn fn, void *ctx);
/* Inside a region: waits until every thread of the region has called it. */
void byol__sync(void);
/* [begin, end) of [0, n) for one of `threads` threads, as OpenMP's static
 * schedule splits it (contiguous, the first n % threads take one more). */
void byol__share(int64_t n, int thread, int threads, int64_t *begin, int64_t *end);
/* fn(ctx, begin, end) over [0, n) split as byol__share does, on the
 * handle's threads when par is nonzero (else on the caller alone). */
typedef void (*byol__range_fn)(void *ctx, int64_t begin, int64_t end);
void byol__parallel_for(int64_t n, int par, byol__range_fn fn, void *ctx);

/* Does this CPU (and OS) run AVX-512F code? Detected at run time. Tests and
 * benchmarks may turn the AVX-512 kernels off (0), back on where the CPU
 * has them (1) or return to detection (-1) with byol__cpu_force_avx512;
 * not thread-safe, meant for a program's set-up. */
int byol__cpu_avx512(void);
void byol__cpu_force_avx512(int on);
/* Does it run AVX512_BF16 code (vdpbf16ps)? Never where byol__cpu_avx512()
 * says no. Does it run AMX-BF16 tiles (and has Linux granted their state:
 * the first question asks for it)? Never where byol__cpu_bf16() says no.
 * All answer no for what BYOL_CPU_DISABLE lists (cpu.c).
 * byol__cpu_force_amx(0) turns the tiles off, any other value returns to
 * detection; as byol__cpu_force_avx512, for a program's set-up. */
int byol__cpu_bf16(void);
int byol__cpu_amx(void);
void byol__cpu_force_amx(int on);

/* Counter-based RNG (Philox-4x32-10): the stream for (seed, a, b, c) is a
 * pure function of those values, so draws never depend on thread order. */
typedef struct byol__rng {
    uint32_t key[2];
    uint32_t ctr[4];
    uint32_t buf[4];
    int pos;
} byol__rng;
void byol__rng_init(byol__rng *r, uint64_t seed, uint32_t a, uint32_t b, uint32_t c);
uint32_t byol__rng_u32(byol__rng *r);
double byol__rng_uniform(byol__rng *r);      /* [0, 1) with 53 bits */
double byol__rng_normal(byol__rng *r);       /* standard normal */
/* a[0..n-1] in a uniform random order (Fisher-Yates from the last element,
 * one uniform draw per swap). */
void byol__rng_shuffle(byol__rng *r, int64_t *a, int64_t n);

/* ---- UTF-8 (utf8.c) ---- */
/* Length of the well-formed UTF-8 sequence at s (avail > 0 bytes readable),
 * or 0 if it is malformed (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF). */
size_t byol__utf8_seq(const unsigned char *s, size_t avail);
/* 1 if the len bytes at s are well-formed UTF-8, else 0. */
int byol__utf8_valid(const char *s, size_t len);

#endif
