/* Linear layer (forward, finite differences, accumulation) and the column
 * sums behind its bias gradient. */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

typedef struct lin_case {
    int64_t n, in, out;
    float *x, *w, *b, *y, *dy, *dw, *db;
    int bf16;
} lin_case;

static void lin_fwd(void *p)
{
    lin_case *l = p;
    byol__linear_forward(l->n, l->in, l->out, l->x, l->w, l->b, l->y, l->bf16);
}

static void lin_bwd(void *p, float *dx, int accum)
{
    lin_case *l = p;
    byol__linear_backward(l->n, l->in, l->out, l->x, l->w, l->dy, dx, accum,
                          l->dw, l->b ? l->db : NULL, l->bf16);
}

static void lin_check(int bias)
{
    lin_case l = { 5, 7, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0 };
    size_t nx = 35, nw = 28, ny = 20;
    l.x = frand(nx, 1, 1.0f);
    l.w = frand(nw, 2, 1.0f);
    l.b = bias ? frand(4, 3, 1.0f) : NULL;
    l.y = fbuf(ny);
    l.dy = frand(ny, 4, 1.0f);
    l.dw = fbuf(nw);
    l.db = fbuf(4);
    ffill(l.dw, nw, 0.0f);
    ffill(l.db, 4, 0.0f);
    double ref[20];
    for (int64_t i = 0; i < 5; i++)
        for (int64_t o = 0; o < 4; o++) {
            double s = bias ? l.b[o] : 0.0;
            for (int64_t k = 0; k < 7; k++)
                s += (double)l.x[i * 7 + k] * l.w[o * 7 + k];
            ref[i * 4 + o] = s;
        }
    lin_fwd(&l);
    assert_close_d("linear forward", l.y, ref, ny, REF_TOL);
    float *dx = fbuf(nx);
    lin_bwd(&l, dx, 0);
    fd_param ps[] = { { "x", l.x, nx, dx }, { "w", l.w, nw, l.dw },
                      { "b", l.b, 4, l.db } };
    fd_check(bias ? "linear+bias" : "linear", lin_fwd, &l, l.y, l.dy, ny, ps,
             bias ? 3 : 2);
    check_accum("linear dx", lin_bwd, &l, nx);
    free(l.x); free(l.w); free(l.b); free(l.y); free(l.dy); free(l.dw);
    free(l.db); free(dx);
}

static void test_linear(void **state)
{
    (void)state;
    lin_check(1);
    lin_check(0);
}

/* nn.precision=bf16: the three products with bf16 operands
 * (gemm_bf16.c), against double references, on AMX tiles where the CPU
 * has them and on vdpbf16ps. bf16 keeps 8 significant bits, so each
 * product is off by up to 2^-8 relative; the sums stay within 1e-2 of the
 * largest value, and further than fp32's 1e-5 (the rounding did happen).
 * The forward's bits are the same on 1 and 3 threads (64 x 512 x 256 is
 * cut into blocks). */
static void lin_bf16_case(int64_t n, int64_t in, int64_t out)
{
    lin_case l = { n, in, out, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1 };
    size_t nx = (size_t)(n * in), nw = (size_t)(out * in), ny = (size_t)(n * out);
    l.x = frand(nx, 11, 1.0f);
    l.w = frand(nw, 12, 1.0f);
    l.b = frand((size_t)out, 13, 1.0f);
    l.y = fbuf(ny);
    l.dy = frand(ny, 14, 1.0f);
    l.dw = fbuf(nw);
    l.db = fbuf((size_t)out);
    ffill(l.dw, nw, 0.0f);
    ffill(l.db, (size_t)out, 0.0f);
    double *y = dbuf(ny), *dx = dbuf(nx), *dw = dbuf(nw);
    for (int64_t i = 0; i < n; i++)
        for (int64_t o = 0; o < out; o++) {
            y[i * out + o] = l.b[o];
            for (int64_t k = 0; k < in; k++) {
                y[i * out + o] += (double)l.x[i * in + k] * l.w[o * in + k];
                dx[i * in + k] += (double)l.dy[i * out + o] * l.w[o * in + k];
                dw[o * in + k] += (double)l.dy[i * out + o] * l.x[i * in + k];
            }
        }
    float *gx = fbuf(nx);
    lin_fwd(&l);
    lin_bwd(&l, gx, 0);
    assert_close_d("linear bf16 forward", l.y, y, ny, 1e-2);
    assert_close_d("linear bf16 dx", gx, dx, nx, 1e-2);
    assert_close_d("linear bf16 dw", l.dw, dw, nw, 1e-2);
    float *yf = to_float(y, ny);
    assert_true(tu_rel_err(l.y, yf, ny, &(double){ 0 }) > 1e-5);
    check_accum("linear bf16 dx", lin_bwd, &l, nx);
    /* the same bits on 1 and 3 threads */
    float *y1 = fbuf(ny);
    byol__set_threads(1);
    lin_fwd(&l);
    memcpy(y1, l.y, ny * sizeof(float));
    byol__set_threads(3);
    lin_fwd(&l);
    byol__set_threads(2);
    assert_memory_equal(y1, l.y, ny * sizeof(float));
    free(y1);
    free(l.x); free(l.w); free(l.b); free(l.y); free(l.dy); free(l.dw);
    free(l.db); free(y); free(dx); free(dw); free(gx); free(yf);
}

static void linear_bf16_cases(int amx)
{
    (void)amx;
    lin_bf16_case(6, 96, 32);    /* head-like: few rows, wide */
    lin_bf16_case(70, 33, 48);   /* odd in: padded pairs, dx 33 wide */
    lin_bf16_case(64, 512, 256); /* several blocks */
}

static void test_linear_bf16(void **state)
{
    (void)state;
    on_bf16_units(linear_bf16_cases);
}

static void test_colsum(void **state)
{
    (void)state;
    const int64_t shapes[][2] = { { 5000, 3 }, { 70, 1000 }, { 9000, 130 } };
    for (int s = 0; s < 3; s++) {
        int64_t m = shapes[s][0], c = shapes[s][1];
        float *x = frand((size_t)(m * c), 1, 1.0f), *db = frand((size_t)c, 2, 1.0f);
        double *ref = dbuf((size_t)c);
        for (int64_t j = 0; j < c; j++) {
            ref[j] = db[j];
            for (int64_t i = 0; i < m; i++)
                ref[j] += x[i * c + j];
        }
        byol__colsum_add(m, c, x, db);
        assert_close_d("colsum_add", db, ref, (size_t)c, REF_TOL);
        free(x); free(db); free(ref);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_linear),
        cmocka_unit_test(test_linear_bf16),
        cmocka_unit_test(test_colsum),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
