/* The machine's multiply-add peak, for `make bench`'s "% of peak" column:
 * every thread runs independent chains of fused multiply-adds on registers
 * only (no loads or stores), so the figure is the arithmetic limit of the
 * cores, which no convolution can pass.
 *
 *   peak [threads] [seconds]
 * measures each kind for `seconds` (default 1) as the best of 5 runs and
 * prints one JSON line:
 *   {"threads": n, "fp32_gflops": x, "fp32_isa": "avx512f",
 *    "bf16_gflops": y, "bf16_isa": "avx512bf16"}
 * fp32 runs on the widest of AVX-512F, AVX2+FMA or scalar the CPU has;
 * bf16 on AMX tiles (tdpbf16ps) where the CPU and Linux allow them, else
 * on vdpbf16ps (bf16 pairs summed into fp32) where the CPU has
 * AVX512_BF16, else bf16_gflops is 0 and bf16_isa "none": the faster unit
 * libbyol's bf16 products run on. A FLOP is a multiply or an add, so one
 * fp32 lane of an FMA is 2, one fp32 lane of vdpbf16ps 4, one tdpbf16ps
 * of 16 x 16 sums over 32 products 16384. The choice is made at run time:
 * the program runs on any x86-64 CPU. */
#define _DEFAULT_SOURCE /* syscall */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include <omp.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* Independent accumulators per thread: enough to cover the FMA latency
 * (4 cycles) times the FMA ports (2) with room to spare. The loops over
 * them are unrolled so that they live in registers. */
enum { CHAINS = 12, ITERS = 1 << 16 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Each kernel runs ITERS rounds of CHAINS multiply-adds and returns a sum
 * of its accumulators, so the compiler keeps the work. */
typedef float (*kernel_fn)(void);

#ifdef HAVE_X86
static __attribute__((target("avx512f"))) float fp32_avx512(void)
{
    __m512 acc[CHAINS], x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    for (int i = 0; i < ITERS; i++)
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_fmadd_ps(acc[c], x, y);
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm512_add_ps(acc[0], acc[c]);
    return _mm512_reduce_add_ps(acc[0]);
}

static __attribute__((target("avx2,fma"))) float fp32_avx2(void)
{
    __m256 acc[CHAINS], x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm256_set1_ps((float)c);
    for (int i = 0; i < ITERS; i++)
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm256_fmadd_ps(acc[c], x, y);
    float out[8], s = 0;
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm256_add_ps(acc[0], acc[c]);
    _mm256_storeu_ps(out, acc[0]);
    for (int l = 0; l < 8; l++)
        s += out[l];
    return s;
}

static __attribute__((target("avx512f,avx512bf16"))) float bf16_avx512(void)
{
    __m512 acc[CHAINS];
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(0.5f), _mm512_set1_ps(0.25f));
    for (int c = 0; c < CHAINS; c++)
        acc[c] = _mm512_set1_ps((float)c);
    for (int i = 0; i < ITERS; i++)
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = _mm512_dpbf16_ps(acc[c], x, x);
    for (int c = 1; c < CHAINS; c++)
        acc[0] = _mm512_add_ps(acc[0], acc[c]);
    return _mm512_reduce_add_ps(acc[0]);
}

/* Four independent tile sums (tmm0-3) of the same two operand tiles: the
 * multiply unit, not the loads, is timed. */
enum { AMX_ITERS = 1 << 12 };

static __attribute__((target("amx-tile,amx-bf16"))) float bf16_amx(void)
{
    static const struct {
        unsigned char palette, start, reserved[14];
        unsigned short colsb[16];
        unsigned char rows[16];
    } cfg = { .palette = 1,
              .colsb = { 64, 64, 64, 64, 64, 64 },
              .rows = { 16, 16, 16, 16, 16, 16 } };
    _Alignas(64) unsigned short ones[16 * 32];
    _Alignas(64) float out[16 * 16];
    for (int i = 0; i < 16 * 32; i++)
        ones[i] = 0x3f80; /* 1.0 */
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ones, 64);
    _tile_loadd(5, ones, 64);
    for (int i = 0; i < AMX_ITERS; i++) {
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 5);
        _tile_dpbf16ps(2, 4, 5);
        _tile_dpbf16ps(3, 4, 5);
    }
    _tile_stored(0, out, 64);
    _tile_release();
    return out[0];
}

/* AMX-TILE and AMX-BF16 (CPUID leaf 7, EDX bits 24 and 22; read directly,
 * as compilers before clang 18 know no "amx" for __builtin_cpu_supports),
 * the OS saving tile state (XCR0 bits 17 and 18), and Linux's permission,
 * which it hands out only on request: without it a tile instruction raises
 * SIGILL. */
static int amx_usable(void)
{
#if defined(__linux__) && defined(SYS_arch_prctl)
    unsigned a, b, c, d, lo, hi;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || (~d & (1u << 22 | 1u << 24)))
        return 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    (void)hi;
    return (lo & (3u << 17)) == (3u << 17) &&
           syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
#else
    return 0;
#endif
}
#endif

static float fp32_scalar(void)
{
    float acc[CHAINS];
    for (int c = 0; c < CHAINS; c++)
        acc[c] = (float)c;
    for (int i = 0; i < ITERS; i++)
#pragma GCC unroll 12
        for (int c = 0; c < CHAINS; c++)
            acc[c] = acc[c] * 0.999999f + 1e-7f;
    float s = 0;
    for (int c = 0; c < CHAINS; c++)
        s += acc[c];
    return s;
}

/* Where the kernels' sums go, so that the compiler keeps their work. */
static volatile float kept;

/* GFLOP/s of kernel f on `threads` threads, each calling it until
 * `seconds` have passed; flops_per_call counts one call's FLOPs. */
static double gflops_once(kernel_fn f, double flops_per_call, int threads, double seconds)
{
    double total = 0;
    float sink = 0;
    f(); /* wake the vector units up before timing */
#pragma omp parallel num_threads(threads) reduction(+ : total, sink)
    {
        long calls = 0;
        float s = 0;
        double t0 = now(), t;
        do {
            s += f();
            calls++;
            t = now();
        } while (t - t0 < seconds);
        sink += s;
        total += (double)calls * flops_per_call / (t - t0);
    }
    kept = sink;
    return total / 1e9;
}

/* The best of 5 runs: a peak is what the cores can do, and a virtual
 * machine's neighbours only ever take from it. */
static double gflops(kernel_fn f, double flops_per_call, int threads, double seconds)
{
    double best = 0;
    for (int r = 0; r < 5; r++) {
        double g = gflops_once(f, flops_per_call, threads, seconds / 5);
        best = g > best ? g : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2;
    double seconds = argc > 2 ? atof(argv[2]) : 1.0;
    kernel_fn fp32 = fp32_scalar, bf16 = NULL;
    const char *fp32_isa = "scalar", *bf16_isa = "none";
    double bf16_flops = 0;
    int lanes = 1;
#ifdef HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        fp32 = fp32_avx512, fp32_isa = "avx512f", lanes = 16;
        if (__builtin_cpu_supports("avx512bf16")) {
            bf16 = bf16_avx512, bf16_isa = "avx512bf16";
            bf16_flops = 4 * (double)ITERS * CHAINS * 16;
        }
        if (bf16 && amx_usable()) {
            bf16 = bf16_amx, bf16_isa = "amx-bf16";
            bf16_flops = 4 * 16384 * (double)AMX_ITERS;
        }
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        fp32 = fp32_avx2, fp32_isa = "avx2", lanes = 8;
    }
#endif
    const double per_call = (double)ITERS * CHAINS * lanes;
    double g32 = gflops(fp32, 2 * per_call, threads, seconds);
    double g16 = bf16 ? gflops(bf16, bf16_flops, threads, seconds) : 0;
    printf("{\"threads\": %d, \"fp32_gflops\": %.1f, \"fp32_isa\": \"%s\", "
           "\"bf16_gflops\": %.1f, \"bf16_isa\": \"%s\"}\n",
           threads, g32, fp32_isa, g16, bf16_isa);
    return 0;
}
