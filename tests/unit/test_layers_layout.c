/* NCHW <-> NHWC conversion and flatten (forward, gradient, accumulation). */
#include "layers_util.h"

#include "core/internal.h"
#include "nn/kernels.h"

static void test_layout(void **state)
{
    (void)state;
    const int64_t n = 2, c = 37, h = 5, w = 9;   /* not multiples of a tile */
    const size_t len = (size_t)(n * c * h * w);
    float *x = frand(len, 5, 1.0f), *y = fbuf(len), *z = fbuf(len);
    byol__nchw_to_nhwc(n, c, h, w, x, y);
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t a = 0; a < h; a++)
                for (int64_t b = 0; b < w; b++)
                    assert_true(y[nhwc(h, w, c, i, a, b, ch)] ==
                                x[((i * c + ch) * h + a) * w + b]);
    byol__nhwc_to_nchw(n, c, h, w, y, z);
    assert_memory_equal(x, z, len * sizeof(float));
    /* Flatten of NHWC is PyTorch's flatten of the NCHW tensor. */
    byol__flatten_forward(n, h, w, c, y, z);
    assert_memory_equal(x, z, len * sizeof(float));
    free(x); free(y); free(z);
}

typedef struct flat_case {
    int64_t n, h, w, c;
    float *x, *y, *dy;
} flat_case;

static void flat_fwd(void *p)
{
    flat_case *f = p;
    byol__flatten_forward(f->n, f->h, f->w, f->c, f->x, f->y);
}

static void flat_bwd(void *p, float *dx, int accum)
{
    flat_case *f = p;
    byol__flatten_backward(f->n, f->h, f->w, f->c, f->dy, dx, accum);
}

static void test_flatten_grad(void **state)
{
    (void)state;
    flat_case f = { 2, 3, 4, 5, NULL, NULL, NULL };
    size_t len = (size_t)(f.n * f.h * f.w * f.c);
    f.x = frand(len, 1, 1.0f);
    f.y = fbuf(len);
    f.dy = frand(len, 2, 1.0f);
    float *dx = fbuf(len);
    flat_bwd(&f, dx, 0);
    fd_param ps[] = { { "x", f.x, len, dx } };
    fd_check("flatten", flat_fwd, &f, f.y, f.dy, len, ps, 1);
    check_accum("flatten dx", flat_bwd, &f, len);
    free(f.x); free(f.y); free(f.dy); free(dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_flatten_grad),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
