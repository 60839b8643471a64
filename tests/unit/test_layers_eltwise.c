/* Element-wise layers: ReLU and the residual add (its backward is
 * byol__copy_grad). */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

/* Values at least 0.1 away from 0, so ReLU's kink is never crossed. */
static void push_from_zero(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] < 0 ? x[i] - 0.1f : x[i] + 0.1f;
}

typedef struct ew_case {
    int64_t len;
    float *x, *x2, *y, *dy;
} ew_case;

static void relu_fwd(void *p)
{
    ew_case *e = p;
    byol__relu_forward(e->len, e->x, e->y);
}

static void relu_bwd(void *p, float *dx, int accum)
{
    ew_case *e = p;
    byol__relu_forward(e->len, e->x, e->y);
    byol__relu_backward(e->len, e->y, e->dy, dx, accum);
}

static void test_relu(void **state)
{
    (void)state;
    ew_case e = { 100000, NULL, NULL, NULL, NULL };   /* parallel path */
    size_t n = (size_t)e.len;
    e.x = frand(n, 1, 1.0f);
    push_from_zero(e.x, n);
    e.y = fbuf(n);
    e.dy = frand(n, 2, 1.0f);
    relu_fwd(&e);
    for (size_t i = 0; i < n; i++)
        assert_true(e.y[i] == (e.x[i] > 0 ? e.x[i] : 0.0f));
    float *dx = fbuf(n);
    relu_bwd(&e, dx, 0);
    fd_param ps[] = { { "x", e.x, n, dx } };
    fd_check("relu", relu_fwd, &e, e.y, e.dy, n, ps, 1);
    check_accum("relu", relu_bwd, &e, n);
    /* NaN propagates as in PyTorch; in place is allowed. */
    e.x[0] = NAN;
    byol__relu_forward(e.len, e.x, e.x);
    assert_true(isnan(e.x[0]));
    free(e.x); free(e.y); free(e.dy); free(dx);
}

static void add_fwd(void *p)
{
    ew_case *e = p;
    byol__add_forward(e->len, e->x, e->x2, 0, e->y);
}

static void add_bwd(void *p, float *dx, int accum)
{
    ew_case *e = p;
    byol__copy_grad(e->len, e->dy, dx, accum);
}

static void test_add(void **state)
{
    (void)state;
    ew_case e = { 70000, NULL, NULL, NULL, NULL };
    size_t n = (size_t)e.len;
    e.x = frand(n, 1, 1.0f);
    e.x2 = frand(n, 2, 1.0f);
    e.y = fbuf(n);
    e.dy = frand(n, 3, 1.0f);
    float *da = fbuf(n), *db = fbuf(n);
    add_bwd(&e, da, 0);
    add_bwd(&e, db, 0);
    fd_param ps[] = { { "a", e.x, n, da }, { "b", e.x2, n, db } };
    fd_check("add", add_fwd, &e, e.y, e.dy, n, ps, 2);
    for (size_t i = 0; i < n; i++)
        assert_true(e.y[i] == e.x[i] + e.x2[i]);
    check_accum("copy_grad", add_bwd, &e, n);
    /* The fused ReLU: exactly relu(a + b), in place over an input too, and
     * NaN passes as through byol__relu_forward. */
    e.x[5] = NAN;
    byol__add_forward(e.len, e.x, e.x2, 0, e.y);
    byol__relu_forward(e.len, e.y, e.y);
    byol__add_forward(e.len, e.x, e.x2, 1, e.x);
    assert_memory_equal(e.x, e.y, n * sizeof(float));
    assert_true(isnan(e.x[5]));
    free(e.x); free(e.x2); free(e.y); free(e.dy); free(da); free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_add),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
