/* Linear layer (forward, finite differences, accumulation) and the column
 * sums behind its bias gradient. */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

typedef struct lin_case {
    int64_t n, in, out;
    float *x, *w, *b, *y, *dy, *dw, *db;
} lin_case;

static void lin_fwd(void *p)
{
    lin_case *l = p;
    byol__linear_forward(l->n, l->in, l->out, l->x, l->w, l->b, l->y);
}

static void lin_bwd(void *p, float *dx, int accum)
{
    lin_case *l = p;
    byol__linear_backward(l->n, l->in, l->out, l->x, l->w, l->dy, dx, accum,
                          l->dw, l->b ? l->db : NULL);
}

static void lin_check(int bias)
{
    lin_case l = { 5, 7, 4, NULL, NULL, NULL, NULL, NULL, NULL, NULL };
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
        cmocka_unit_test(test_colsum),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
