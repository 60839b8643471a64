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

/* The add's backward with a fused ReLU against its unfused passes: the
 * ReLU's backward into a gradient buffer, then byol__copy_grad into each
 * input's gradient, bit for bit, for every accumulation, with the first
 * gradient over dy (in place) and with both inputs one (x + x); y holds
 * zeros of both signs, negatives and a NaN. */
static void add_relu_case(int accum_a, int accum_b, int in_place, int same)
{
    const int64_t len = 40000;
    const size_t n = (size_t)len;
    float *y = frand(n, 7, 1.0f), *dy = frand(n, 8, 1.0f);
    float *a0 = frand(n, 9, 1.0f), *b0 = frand(n, 10, 1.0f);
    y[1] = 0.0f, y[2] = -0.0f, y[3] = NAN;
    float *want_a = fbuf(n), *want_b = fbuf(n), *g = fbuf(n);
    memcpy(want_a, a0, n * sizeof(float));
    memcpy(want_b, b0, n * sizeof(float));
    byol__relu_backward(len, y, dy, g, 0);
    byol__copy_grad(len, g, want_a, accum_a);
    byol__copy_grad(len, g, same ? want_a : want_b, same || accum_b);
    float *da = in_place ? dy : fbuf(n), *db = same ? da : fbuf(n);
    if (!in_place)
        memcpy(da, a0, n * sizeof(float));
    if (!same)
        memcpy(db, b0, n * sizeof(float));
    byol__add_relu_backward(len, y, dy, da, accum_a, db, same || accum_b);
    assert_memory_equal(da, want_a, n * sizeof(float));
    if (!same)
        assert_memory_equal(db, want_b, n * sizeof(float));
    if (!in_place)
        free(da);
    if (!same)
        free(db);
    free(y); free(dy); free(a0); free(b0); free(want_a); free(want_b); free(g);
}

static void test_add_relu_backward(void **state)
{
    (void)state;
    for (int accum_a = 0; accum_a < 2; accum_a++)
        for (int accum_b = 0; accum_b < 2; accum_b++)
            add_relu_case(accum_a, accum_b, 0, 0);
    add_relu_case(0, 0, 1, 0);   /* da over dy: its first write */
    add_relu_case(0, 1, 0, 1);   /* x + x */
    add_relu_case(1, 1, 0, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_add_relu_backward),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
