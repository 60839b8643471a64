/* GEMM (byol__gemm, byol__gemm_limited) against a direct double reference:
 * transposes, padded leading dimensions, splits by a size limit, threaded
 * blocks (the same bits for 1 and 2 threads) and an empty k; libbyol's
 * own AVX-512 kernel against the same reference and the CBLAS provider;
 * and the bf16 GEMM against a double reference of bf16-rounded operands. */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

static void gemm_ref(int ta, int tb, int64_t m, int64_t n, int64_t k,
                     float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, float beta, const float *c0, int64_t ldc,
                     double *out)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0;
            for (int64_t p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            double cv = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j];
            out[i * n + j] = alpha * s + cv;
        }
}

static void gemm_case(int64_t limit, int ta, int tb, int64_t m, int64_t n,
                      int64_t k, int64_t pad, float beta)
{
    /* Padded leading dimensions, so a small limit also cuts by rows. */
    int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    int64_t ar = ta ? k : m, br = tb ? n : k;
    float *a = frand((size_t)(ar * lda), 1, 1.0f);
    float *b = frand((size_t)(br * ldb), 2, 1.0f);
    float *c = frand((size_t)(m * ldc), 3, 1.0f);
    double *ref = dbuf((size_t)(m * n));
    if (beta == 0.0f)
        ffill(c, (size_t)(m * ldc), NAN);
    gemm_ref(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c, ldc, ref);
    byol__gemm_limited(limit, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c,
                       ldc);
    float *got = fbuf((size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        memcpy(got + i * n, c + i * ldc, (size_t)n * sizeof(float));
    char msg[96];
    snprintf(msg, sizeof msg, "gemm limit=%lld ta=%d tb=%d beta=%g",
             (long long)limit, ta, tb, beta);
    assert_close_d(msg, got, ref, (size_t)(m * n), REF_TOL);
    free(a); free(b); free(c); free(ref); free(got);
}

static void test_gemm_split(void **state)
{
    (void)state;
    const int64_t limits[] = { 3, 4, 1000 };
    for (int l = 0; l < 3; l++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                gemm_case(limits[l], ta, tb, 7, 5, 9, 0, 0.0f);
                gemm_case(limits[l], ta, tb, 7, 5, 9, 2, 0.5f);
                gemm_case(limits[l], ta, tb, 1, 8, 3, 1, 1.0f);
            }
    gemm_case(INT32_MAX, 0, 1, 33, 17, 65, 3, 1.0f);
}

static void test_gemm_empty_k(void **state)
{
    (void)state;
    float c[6] = { 1, 2, 3, 4, 5, NAN };
    float a[1] = { 0 }, b[1] = { 0 };
    byol__gemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 2.0f, c, 3);
    assert_true(c[0] == 2.0f && c[4] == 10.0f);
    byol__gemm(0, 0, 2, 3, 0, 1.0f, a, 1, b, 3, 0.0f, c, 3);
    for (int i = 0; i < 6; i++)
        assert_true(c[i] == 0.0f);
}

/* byol__gemm's threaded blocks: right, and the same bits for 1 and 2
 * threads (the provider's own threading would not give that). */
static void test_gemm_blocked(void **state)
{
    (void)state;
    const int64_t shapes[][3] = { { 300, 200, 150 }, { 40, 700, 300 } };
    for (int s = 0; s < 2; s++) {
        int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], blk;
        assert_true(byol__gemm_blocks(m, n, k, &blk) > 1);
        float *a = frand((size_t)(k * m), 1, 1.0f), *b = frand((size_t)(k * n), 2, 1.0f);
        float *c1 = frand((size_t)(m * n), 3, 1.0f), *c2 = fbuf((size_t)(m * n));
        double *ref = dbuf((size_t)(m * n));
        memcpy(c2, c1, (size_t)(m * n) * sizeof(float));
        gemm_ref(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c1, n, ref);
        byol__set_threads(1);
        byol__gemm(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c1, n);
        byol__set_threads(2);
        byol__gemm(1, 0, m, n, k, 1.0f, a, m, b, n, 0.5f, c2, n);
        assert_close_d("gemm blocked", c2, ref, (size_t)(m * n), REF_TOL);
        assert_memory_equal(c1, c2, (size_t)(m * n) * sizeof(float));
        free(a); free(b); free(c1); free(c2); free(ref);
    }
}


/* One product on byol__sgemm_avx512 and on the provider (the CPU feature
 * forced off), against the double reference. C has 3 padding columns per
 * row holding a sentinel that the masked stores must leave alone. */
static void own_case(int ta, int64_t m, int64_t n, int64_t k, int64_t lda_pad,
                     float beta)
{
    const int64_t lda = (ta ? m : k) + lda_pad, ldc = n + 3;
    float *a = frand((size_t)((ta ? k : m) * lda), 11, 1.0f);
    float *b = frand((size_t)(k * n), 12, 1.0f);
    float *c = frand((size_t)(m * ldc), 13, 1.0f);
    float *cb = fbuf((size_t)(m * ldc)), *got = fbuf((size_t)(m * n));
    double *ref = dbuf((size_t)(m * n));
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = n; j < ldc; j++)
            c[i * ldc + j] = 42.0f;
    if (beta == 0.0f)
        for (int64_t i = 0; i < m; i++)
            ffill(c + i * ldc, (size_t)n, NAN);
    memcpy(cb, c, (size_t)(m * ldc) * sizeof(float));
    gemm_ref(ta, 0, m, n, k, 0.75f, a, lda, b, n, beta, c, ldc, ref);
    assert_int_equal(byol__sgemm_avx512(ta, 0, m, n, k, 0.75f, a, lda, b, n,
                                        beta, c, ldc), 1);
    byol__cpu_force_avx512(0);
    byol__gemm_serial(ta, 0, m, n, k, 0.75f, a, lda, b, n, beta, cb, ldc);
    byol__cpu_force_avx512(-1);
    char msg[96];
    snprintf(msg, sizeof msg, "own sgemm ta=%d m=%lld n=%lld k=%lld lda=%lld beta=%g", ta,
             (long long)m, (long long)n, (long long)k, (long long)lda, beta);
    for (int pass = 0; pass < 2; pass++) {
        const float *out = pass ? cb : c;
        for (int64_t i = 0; i < m; i++) {
            memcpy(got + i * n, out + i * ldc, (size_t)n * sizeof(float));
            for (int64_t j = n; j < ldc; j++)
                assert_true(out[i * ldc + j] == 42.0f);
        }
        assert_close_d(msg, got, ref, (size_t)(m * n), REF_TOL);
    }
    free(a); free(b); free(c); free(cb); free(got); free(ref);
}

/* Every tile height (1..14 rows and a second tile), panel edges at 16 and
 * 32 columns, two column blocks (n > 256), k across two depth blocks
 * (k > 256), A read in place by rows and by columns, rows 4 KiB apart
 * (copied before use), and more rows than one pass over B takes (1024). The provider's answer is checked too, so a wrong
 * reference would show as both failing. */
static void test_gemm_own_kernel(void **state)
{
    (void)state;
    if (!byol__cpu_avx512()) {
        print_message("      skipped: this CPU has no AVX-512F (or BYOL_CPU_DISABLE)\n");
        float c = 1.0f, a = 1.0f, b = 1.0f;
        assert_int_equal(byol__sgemm_avx512(0, 0, 1, 1, 1, 1.0f, &a, 1, &b, 1, 0.0f, &c, 1), 0);
        return;
    }
    const int64_t ns[] = { 1, 15, 16, 17, 31, 32, 33, 70, 300 };
    for (int ta = 0; ta < 2; ta++) {
        for (int64_t m = 1; m <= 29; m += ta ? 7 : 1)
            own_case(ta, m, 33, 9, 0, 0.0f);
        for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
            own_case(ta, 15, ns[j], 20, 1, 0.5f);
        own_case(ta, 30, 64, 600, 0, 0.0f);
        own_case(ta, 17, 40, 257, 3, 1.0f);
    }
    own_case(0, 20, 48, 300, 1100 - 300, 0.5f);   /* lda 1100: rows copied */
    own_case(0, 2100, 40, 20, 0, 1.0f);           /* rows in three passes over B */
    own_case(1, 1030, 33, 9, 0, 0.0f);
}

/* What the kernel leaves to the provider: a transposed B, a CPU without
 * AVX-512F. C stays untouched each time. */
static void test_gemm_own_declines(void **state)
{
    (void)state;
    float a[1100] = { 0 }, b[4] = { 0 }, c[1100];
    ffill(c, 1100, 7.0f);
    assert_int_equal(byol__sgemm_avx512(0, 1, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), 0);
    byol__cpu_force_avx512(0);
    assert_int_equal(byol__sgemm_avx512(0, 0, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2), 0);
    byol__cpu_force_avx512(-1);
    for (int i = 0; i < 1100; i++)
        assert_true(c[i] == 7.0f);
}

/* byol__transpose16_32 for every size from 1 x 1 to 16 x 16, on AVX-512
 * where the CPU has it and element by element: the turned block, and
 * nothing written past `rows` entries of a destination row or past row
 * `cols`. */
static void test_transpose16(void **state)
{
    (void)state;
    uint32_t src[16 * 20], dst[17 * 18];
    for (int i = 0; i < 16 * 20; i++)
        src[i] = 1000u + (uint32_t)i;
    for (int avx = byol__cpu_avx512(); avx >= 0; avx--) {
        byol__cpu_force_avx512(avx ? -1 : 0);
        for (int rows = 1; rows <= 16; rows++)
            for (int cols = 1; cols <= 16; cols++) {
                for (int i = 0; i < 17 * 18; i++)
                    dst[i] = 7u;
                byol__transpose16_32(src, 20, rows, cols, dst, 18);
                for (int i = 0; i < 17; i++)
                    for (int p = 0; p < 18; p++) {
                        uint32_t want = i < cols && p < rows ? src[p * 20 + i] : 7u;
                        if (dst[i * 18 + p] != want)
                            fail_msg("transpose%s rows=%d cols=%d: dst[%d][%d] = %u, want %u",
                                     avx ? " (AVX-512)" : "", rows, cols, i, p,
                                     dst[i * 18 + p], want);
                    }
            }
    }
    byol__cpu_force_avx512(-1);
}

/* ---- bf16 operands (nn/gemm_bf16.c) ------------------------------------ */

/* f rounded to bf16 (nearest even; finite inputs), as a double. */
static double bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* C = op(A) op(B) + beta C against double sums of the operands rounded to
 * bf16: products of bf16 are exact, so only the fp32 sums round, by at
 * most (k + 1) 2^-24 of the sum of |terms| per entry. A wrong rounding
 * (truncation instead of nearest, or none) or a wrong index is far above
 * that. */
static void bf16_case(int ta, int tb, int64_t m, int64_t n, int64_t k, float beta)
{
    const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 2;
    float *a = frand((size_t)((ta ? k : m) * lda), (uint32_t)(m + 3 * k), 1.0f);
    float *b = frand((size_t)((tb ? n : k) * ldb), (uint32_t)(n + 5 * k), 1.0f);
    float *c = frand((size_t)(m * ldc), (uint32_t)(m * n), 1.0f);
    float *c0 = fbuf((size_t)(m * ldc));
    memcpy(c0, c, (size_t)(m * ldc) * sizeof(float));
    byol__gemm_bf16_serial(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = beta == 0.0f ? 0.0 : (double)beta * c0[i * ldc + j], mag = fabs(s);
            for (int64_t p = 0; p < k; p++) {
                double t = bf16_round(ta ? a[p * lda + i] : a[i * lda + p]) *
                           bf16_round(tb ? b[j * ldb + p] : b[p * ldb + j]);
                s += t;
                mag += fabs(t);
            }
            if (fabs(c[i * ldc + j] - s) > (double)(k + 2) * 0x1p-24 * mag)
                fail_msg("bf16 gemm (%s) ta=%d tb=%d m=%lld n=%lld k=%lld beta=%g: "
                         "c[%lld][%lld] = %.9g, want %.9g", byol__cpu_amx() ? "AMX" : "vdpbf16ps",
                         ta, tb, (long long)m, (long long)n, (long long)k, beta, (long long)i,
                         (long long)j, (double)c[i * ldc + j], s);
        }
    for (int64_t i = 0; i < m; i++)   /* the padding of C untouched */
        for (int64_t j = n; j < ldc; j++)
            assert_true(c[i * ldc + j] == c0[i * ldc + j]);
    free(a), free(b), free(c), free(c0);
}

/* Every transpose, odd k, k past one 512-deep panel, n past one 256-wide
 * panel, m past one 128-row panel, n not a multiple of 16 (alone, and
 * after a full panel); beta 0, 1 and 0.5; on AMX tiles where the CPU has
 * them and on vdpbf16ps. */
static void gemm_bf16_cases(int amx)
{
    (void)amx;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            bf16_case(ta, tb, 5, 16, 7, 0.0f);
            bf16_case(ta, tb, 37, 48, 64, 1.0f);
            bf16_case(ta, tb, 130, 32, 33, 0.5f);
            bf16_case(ta, tb, 20, 272, 40, 0.0f);
            bf16_case(ta, tb, 17, 32, 1030, 0.0f);
            bf16_case(ta, tb, 9, 24, 10, 1.0f);
            bf16_case(ta, tb, 140, 270, 515, 0.0f);
        }
}

static void test_gemm_bf16(void **state)
{
    (void)state;
    on_bf16_units(gemm_bf16_cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_split),
        cmocka_unit_test(test_gemm_empty_k),
        cmocka_unit_test(test_gemm_blocked),
        cmocka_unit_test(test_gemm_own_kernel),
        cmocka_unit_test(test_gemm_own_declines),
        cmocka_unit_test(test_transpose16),
        cmocka_unit_test(test_gemm_bf16),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
