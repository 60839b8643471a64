/* Unit tests of the optimizers and schedules (src/optim/optim.h).
 *
 * Expected values come from outside the code under test:
 * - schedules: the closed forms of the reference (section 4.2 and 3) with
 *   cos() values written as decimal constants, and DM's published step counts
 *   (312,784 steps and 3,127 warmup steps for 1000 epochs at B = 4096);
 * - LARS, SGD and AdamW: small examples worked by hand; every expected value is
 *   written out below as the double arithmetic that produced it. Inputs were
 *   chosen so the norms come out round (|p| = 1, |u| = 0.5, ...). The inputs are
 *   stored as float, so results agree to float rounding: a 1e-6 absolute
 *   tolerance on O(1) values, far below any formula error (the smallest one
 *   these examples can detect moves a value by more than 1e-3);
 * - determinism: 1, 2 and 3 threads must give identical bits, and the blocked
 *   LARS norms must match a plain double sum to 1e-12;
 * - allocation: every allocation of create failing in turn gives BYOL_E_NOMEM
 *   with nothing left allocated;
 * - the table (byol__optim_create): what trainer.c's make_optimizer built
 *   before issue 9 from each optim.* setting, written out below as option
 *   structs (since issue 13, optim.wd_exclude=auto leaves biases and norms
 *   out for LARS only); the optimizer the table makes from the setting must
 *   step to the same bits as the one made directly from those options, and
 *   each case also names options that step differently, so a table that
 *   ignored the setting would fail;
 * - optim.wd_exclude: three steps of each optimizer, with each choice,
 *   against its rule as torch.optim's documentation (SGD, AdamW) and DM
 *   (LARS) write it, worked in double by code of the test's own. */
#include "test_util.h"

#include "core/internal.h"
#include "optim/optim.h"

/* The optimizers; the order of the per-kind tables below. */
enum { OPT_LARS, OPT_SGD, OPT_ADAMW };

#define TOL 1e-6

static void assert_near(const char *what, size_t i, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s[%zu] = %.9g, want %.9g (tol %.1g)", what, i, got, want, tol);
}

static void assert_all_near(const char *what, const float *got, const double *want,
                            size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_near(what, i, got[i], want[i], TOL);
}

static void set_f(float *dst, const double *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)src[i];
}

/* ---- schedules ----------------------------------------------------------- */

static void test_lr_schedule(void **state)
{
    (void)state;
    const int64_t K = 1000, W = 100;
    const double peak = 3.2;
    /* warmup: peak*k/W, lr(0) = 0 exactly */
    assert_true(byol__lr_at(0, K, W, peak) == 0.0);
    assert_near("lr", 50, byol__lr_at(50, K, W, peak), 1.6, 1e-15);
    assert_near("lr", 99, byol__lr_at(99, K, W, peak), 3.2 * 0.99, 1e-15);
    /* warmup ends exactly at W: cosine at 0 gives peak */
    assert_near("lr", 100, byol__lr_at(W, K, W, peak), 3.2, 1e-15);
    /* K/2 = 500: 0.5*(1 + cos(pi*400/900)), cos(80 deg) = 0.17364817766693035 */
    assert_near("lr", 500, byol__lr_at(500, K, W, peak),
                3.2 * 0.5 * (1 + 0.17364817766693035), 1e-14);
    /* the middle of the decay, k = W + (K-W)/2 = 550: cos(pi/2) = 0 -> peak/2 */
    assert_near("lr", 550, byol__lr_at(550, K, W, peak), 1.6, 1e-14);
    /* k = K - 1: 0.5*(1 + cos(pi*899/900)) = 0.5*(1 - cos(pi/900)),
     * cos(0.2 deg) = 0.99999390765779038 */
    assert_near("lr", 999, byol__lr_at(999, K, W, peak),
                3.2 * 0.5 * (1 - 0.99999390765779038), 1e-14);
    /* exactly 0 at K and beyond */
    assert_true(byol__lr_at(K, K, W, peak) == 0.0);
    assert_true(byol__lr_at(K + 7, K, W, peak) == 0.0);
    /* no warmup: lr(0) = peak; negative k counts as 0 */
    assert_near("lr", 0, byol__lr_at(0, K, 0, peak), 3.2, 1e-15);
    assert_true(byol__lr_at(-5, K, W, peak) == 0.0);
    /* K == W: warmup, then 0 (DM would divide 0/0) */
    assert_near("lr", 5, byol__lr_at(5, 10, 10, 1.0), 0.5, 1e-15);
    assert_true(byol__lr_at(10, 10, 10, 1.0) == 0.0);
    assert_true(byol__lr_at(12, 10, 10, 1.0) == 0.0);
}

static void test_tau_schedule(void **state)
{
    (void)state;
    const int64_t K = 1000;
    const double tb = 0.996;
    assert_true(byol__tau_at(0, K, tb) == tb);
    assert_true(byol__tau_at(-3, K, tb) == tb);
    /* K/4: 1 - 0.004*(cos(pi/4) + 1)/2, cos(pi/4) = 0.7071067811865476 */
    assert_near("tau", 250, byol__tau_at(250, K, tb),
                1 - 0.004 * (0.7071067811865476 + 1) / 2, 1e-15);
    /* K/2: cos(pi/2) = 0 -> 1 - 0.004/2 = 0.998 */
    assert_near("tau", 500, byol__tau_at(500, K, tb), 0.998, 1e-15);
    assert_true(byol__tau_at(K, K, tb) == 1.0);
    assert_true(byol__tau_at(K + 100, K, tb) == 1.0);
    assert_true(byol__tau_at(0, 0, tb) == 1.0);
    /* tau rises monotonically */
    for (int64_t k = 1; k <= K; k++)
        assert_true(byol__tau_at(k, K, tb) >= byol__tau_at(k - 1, K, tb));
}

static void test_scaling_and_step_counts(void **state)
{
    (void)state;
    /* the paper's headline: base 0.2 at B = 4096 -> 3.2 */
    assert_near("scaled", 0, byol__scaled_lr(0.2, 4096), 3.2, 1e-15);
    assert_near("scaled", 1, byol__scaled_lr(2.0, 256), 2.0, 1e-15);
    /* DM on ImageNet (N = 1,281,167): 1000 epochs at B = 4096 -> 312,784
     * steps, 10 warmup epochs -> 3,127 (reference sections 3 and 4.2) */
    int64_t steps = -1;
    assert_byol_ok(byol__steps_for_epochs(1000, 1281167, 4096, &steps));
    assert_int_equal(steps, 312784);
    assert_byol_ok(byol__steps_for_epochs(10, 1281167, 4096, &steps));
    assert_int_equal(steps, 3127);
    assert_byol_ok(byol__steps_for_epochs(0, 50000, 256, &steps));
    assert_int_equal(steps, 0);
    assert_int_equal(byol__steps_for_epochs(1, 100, 0, &steps), BYOL_E_RANGE);
    assert_int_equal(byol__steps_for_epochs(-1, 100, 10, &steps), BYOL_E_RANGE);
    assert_int_equal(byol__steps_for_epochs(INT64_MAX / 2, 3, 1, &steps), BYOL_E_RANGE);
    assert_int_equal(byol__steps_for_epochs(1, 1, 1, NULL), BYOL_E_INVALID_ARG);
}

/* ---- LARS ------------------------------------------------------------------ */

/* Buffer of 14 floats: weight w [0,4), bias b [4,6), BN gamma n [6,8), a zero
 * weight z [8,11), a weight whose update is zero q [11,13), and element 13
 * that no span covers. */
#define L_COUNT 14
static const byol__param_span lars_spans[5] = {
    { 0, 4, 0 },
    { 4, 2, BYOL_TENSOR_BIAS },
    { 6, 2, BYOL_TENSOR_NORM },
    { 8, 3, 0 },
    { 11, 2, 0 },
};

static void test_lars_hand_example(void **state)
{
    (void)state;
    /* eta 0.25, momentum 0.9, wd 0.125 (exact in binary), DM (no clip) */
    byol__lars_opts o = { 0.25, 0.9, 0.125, 0, 1 };
    byol__optim *s = NULL;
    assert_byol_ok(byol__lars_create(&o, L_COUNT, &s));
    const double p0[L_COUNT] = { 0.6, 0, 0, 0.8, 0.5, -0.5, 1, 1, 0, 0, 0, 1, 2, 42 };
    const double g1[L_COUNT] = { 0.225, 0, 0.4, -0.1, 0.2, 0.4, 0.5, -0.25,
                                 0.3, 0, -0.6, -0.125, -0.25, 7 };
    const double g2[L_COUNT] = { -0.075, 1.2, 0, 1.5, -0.1, 0.3, 0.1, 0.2,
                                 0.1, 0.2, 0.2, 0.5, 0, 7 };
    float p[L_COUNT], g[L_COUNT], p_init[L_COUNT];
    set_f(p, p0, L_COUNT);
    memcpy(p_init, p, sizeof p);
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    assert_int_equal(st.nbuf, 1);
    assert_int_equal(st.count, L_COUNT);
    assert_string_equal(st.name[0], "momentum");
    assert_int_equal(*st.steps, 0);

    /* Step 0 with lr = 0 (DM's lr(0)): no weight moves, mu1 = u0.
     * w: u = g + 0.125 p = {0.225+0.075, 0, 0.4, -0.1+0.1} = {0.3, 0, 0.4, 0};
     *    |p| = sqrt(0.36+0.64) = 1, |u| = sqrt(0.09+0.16) = 0.5,
     *    r = 0.25*1/0.5 = 0.5, mu1 = 0.5 u = {0.15, 0, 0.2, 0}
     * b, n (excluded): no decay, r = 1: mu1 = g
     * z: |p| = 0 -> r = 1, u = g + 0.125*0 = g: mu1 = {0.3, 0, -0.6}
     * q: u = {-0.125+0.125*1, -0.25+0.125*2} = 0, |u| = 0 -> r = 1 (no 0/0):
     *    mu1 = 0 */
    set_f(g, g1, L_COUNT);
    assert_byol_ok(byol__optim_step(s, lars_spans, 5, p, g, 0.0));
    assert_memory_equal(p, p_init, sizeof p);
    const double mu1[L_COUNT] = { 0.15, 0, 0.2, 0, 0.2, 0.4, 0.5, -0.25,
                                  0.3, 0, -0.6, 0, 0, 0 };
    assert_all_near("lars mu1", st.buf[0], mu1, L_COUNT);
    assert_int_equal(*st.steps, 1);

    /* Step 1 with lr = 0.5 (weights are still p0).
     * w: u = {-0.075+0.075, 1.2, 0, 1.5+0.1} = {0, 1.2, 0, 1.6}, |u| = 2,
     *    r = 0.25*1/2 = 0.125, r u = {0, 0.15, 0, 0.2},
     *    mu2 = 0.9 mu1 + r u = {0.135, 0.15, 0.18, 0.2}, p2 = p0 - 0.5 mu2
     * b: mu2 = {0.9*0.2-0.1, 0.9*0.4+0.3} = {0.08, 0.66},
     *    p2 = {0.5-0.04, -0.5-0.33}
     * n: mu2 = {0.9*0.5+0.1, 0.9*(-0.25)+0.2} = {0.55, -0.025},
     *    p2 = {1-0.275, 1+0.0125}
     * z: still zero, r = 1: mu2 = {0.27+0.1, 0.2, -0.54+0.2} = {0.37, 0.2, -0.34},
     *    p2 = -0.5 mu2
     * q: u = {0.5+0.125, 0+0.25} = {0.625, 0.25}, |p| = sqrt(5),
     *    |u| = sqrt(0.390625+0.0625) = sqrt(0.453125), r = 0.25 sqrt(5)/|u|,
     *    mu2 = r u, p2 = {1, 2} - 0.5 mu2 */
    set_f(g, g2, L_COUNT);
    assert_byol_ok(byol__optim_step(s, lars_spans, 5, p, g, 0.5));
    const double rq = 0.25 * sqrt(5.0) / sqrt(0.453125);
    const double mu2[L_COUNT] = { 0.135, 0.15, 0.18, 0.2, 0.08, 0.66, 0.55, -0.025,
                                  0.37, 0.2, -0.34, rq * 0.625, rq * 0.25, 0 };
    const double p2[L_COUNT] = { 0.6 - 0.0675, -0.075, -0.09, 0.8 - 0.1,
                                 0.46, -0.83, 0.725, 1.0125,
                                 -0.185, -0.1, 0.17,
                                 1 - 0.5 * rq * 0.625, 2 - 0.5 * rq * 0.25, 42 };
    assert_all_near("lars mu2", st.buf[0], mu2, L_COUNT);
    assert_all_near("lars p2", p, p2, L_COUNT);
    assert_true(p[13] == 42.0f); /* outside every span: untouched */
    assert_int_equal(*st.steps, 2);
    byol__optim_destroy(s);
}

/* One LARS step on w = {0.6, 0, 0, 0.8}, g = {0.225, 0, 0.4, -0.1} (so
 * u = {0.3, 0, 0.4, 0} and the unclipped ratio is 0.5); returns mu and p. */
static void lars_one_step(int clip, double lr, float *mu, float *p)
{
    byol__lars_opts o = { 0.25, 0.9, 0.125, clip, 1 };
    byol__optim *s = NULL;
    assert_byol_ok(byol__lars_create(&o, 4, &s));
    const double p0[4] = { 0.6, 0, 0, 0.8 }, g0[4] = { 0.225, 0, 0.4, -0.1 };
    float g[4];
    set_f(p, p0, 4);
    set_f(g, g0, 4);
    byol__param_span sp = { 0, 4, 0 };
    assert_byol_ok(byol__optim_step(s, &sp, 1, p, g, lr));
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    memcpy(mu, st.buf[0], 4 * sizeof(float));
    byol__optim_destroy(s);
}

static void test_lars_clip_lr(void **state)
{
    (void)state;
    float mu[4], p[4];
    /* DM, lr 0.25: r = 0.5, mu = {0.15, 0, 0.2, 0}, p = p0 - 0.25 mu */
    lars_one_step(0, 0.25, mu, p);
    assert_all_near("noclip mu", mu, (const double[]){ 0.15, 0, 0.2, 0 }, 4);
    assert_all_near("noclip p", p, (const double[]){ 0.5625, 0, -0.05, 0.8 }, 4);
    /* clip, lr 0.25: min(0.5/0.25, 1) = 1, mu = u, p = p0 - 0.25 u */
    lars_one_step(1, 0.25, mu, p);
    assert_all_near("clip mu", mu, (const double[]){ 0.3, 0, 0.4, 0 }, 4);
    assert_all_near("clip p", p, (const double[]){ 0.525, 0, -0.1, 0.8 }, 4);
    /* clip, lr 1: min(0.5/1, 1) = 0.5, mu = 0.5 u, p = p0 - mu */
    lars_one_step(1, 1.0, mu, p);
    assert_all_near("clip1 mu", mu, (const double[]){ 0.15, 0, 0.2, 0 }, 4);
    assert_all_near("clip1 p", p, (const double[]){ 0.45, 0, -0.2, 0.8 }, 4);
    /* clip, lr 0: r/lr -> inf, min(., 1) = 1: mu = u, weights unchanged */
    lars_one_step(1, 0.0, mu, p);
    assert_all_near("clip0 mu", mu, (const double[]){ 0.3, 0, 0.4, 0 }, 4);
    assert_all_near("clip0 p", p, (const double[]){ 0.6, 0, 0, 0.8 }, 4);
}

static void test_lars_ratio_has_no_epsilon(void **state)
{
    (void)state;
    /* DM adds no epsilon to |u| (lightly and solo-learn add 1e-8). With a tiny
     * gradient it matters: wd 0, p = {0.6, 0.8}, g = {3e-7, 4e-7}: |p| = 1,
     * |u| = 5e-7, r = 0.25/5e-7 = 5e5, r u = {0.15, 0.2} (an epsilon of 1e-8
     * would give 5/5.1 of that), and lr 1: p = {0.45, 0.6}. */
    byol__lars_opts o = { 0.25, 0.9, 0, 0, 1 };
    byol__optim *s = NULL;
    assert_byol_ok(byol__lars_create(&o, 2, &s));
    float p[2] = { 0.6f, 0.8f }, g[2] = { 3e-7f, 4e-7f };
    byol__param_span sp = { 0, 2, 0 };
    assert_byol_ok(byol__optim_step(s, &sp, 1, p, g, 1.0));
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    assert_all_near("tiny mu", st.buf[0], (const double[]){ 0.15, 0.2 }, 2);
    assert_all_near("tiny p", p, (const double[]){ 0.45, 0.6 }, 2);
    byol__optim_destroy(s);
}

/* ---- SGD --------------------------------------------------------------------- */

/* Weight w [0,2) and bias b [2,3); lr 0.1, momentum 0.9, wd 0.1.
 * g1 = {0.5, 0.25 | 0.2}, g2 = {-0.5, 1 | -0.4}, p0 = {1, -2 | 0.5}. */
static const byol__param_span sgd_spans[2] = { { 0, 2, 0 }, { 2, 1, BYOL_TENSOR_BIAS } };
static const double sgd_p0[3] = { 1, -2, 0.5 };
static const double sgd_g1[3] = { 0.5, 0.25, 0.2 };
static const double sgd_g2[3] = { -0.5, 1, -0.4 };

static void sgd_two_steps(const byol__sgd_opts *o, const double *want_p1,
                          const double *want_buf1, const double *want_p2,
                          const double *want_buf2)
{
    byol__optim *s = NULL;
    assert_byol_ok(byol__sgd_create(o, 3, &s));
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    float p[3], g[3];
    set_f(p, sgd_p0, 3);
    set_f(g, sgd_g1, 3);
    assert_byol_ok(byol__optim_step(s, sgd_spans, 2, p, g, 0.1));
    assert_all_near("sgd p1", p, want_p1, 3);
    if (want_buf1)
        assert_all_near("sgd buf1", st.buf[0], want_buf1, 3);
    set_f(g, sgd_g2, 3);
    assert_byol_ok(byol__optim_step(s, sgd_spans, 2, p, g, 0.1));
    assert_all_near("sgd p2", p, want_p2, 3);
    if (want_buf2)
        assert_all_near("sgd buf2", st.buf[0], want_buf2, 3);
    assert_int_equal(*st.steps, 2);
    byol__optim_destroy(s);
}

static void test_sgd_momentum(void **state)
{
    (void)state;
    /* Decay on the weight only (bias excluded).
     * w step 1: d = {0.5+0.1*1, 0.25+0.1*(-2)} = {0.6, 0.05}; buf = d (first
     *   step); p1 = {1-0.06, -2-0.005} = {0.94, -2.005}
     * w step 2: d = {-0.5+0.094, 1-0.2005} = {-0.406, 0.7995};
     *   buf = {0.54-0.406, 0.045+0.7995} = {0.134, 0.8445};
     *   p2 = {0.94-0.0134, -2.005-0.08445} = {0.9266, -2.08945}
     * b: d = 0.2, buf = 0.2, p1 = 0.48; d = -0.4, buf = 0.18-0.4 = -0.22,
     *   p2 = 0.48+0.022 = 0.502 */
    byol__sgd_opts o = { 0.9, 0, 0.1, 0, 1 };
    sgd_two_steps(&o, (const double[]){ 0.94, -2.005, 0.48 },
                  (const double[]){ 0.6, 0.05, 0.2 },
                  (const double[]){ 0.9266, -2.08945, 0.502 },
                  (const double[]){ 0.134, 0.8445, -0.22 });
}

static void test_sgd_nesterov(void **state)
{
    (void)state;
    /* Nesterov, decay on every tensor (bias too).
     * w step 1: d = {0.6, 0.05}, buf = d, step = d + 0.9 buf = {1.14, 0.095},
     *   p1 = {0.886, -2.0095}
     * w step 2: d = {-0.5+0.0886, 1-0.20095} = {-0.4114, 0.79905};
     *   buf = {0.54-0.4114, 0.045+0.79905} = {0.1286, 0.84405};
     *   step = d + 0.9 buf = {-0.4114+0.11574, 0.79905+0.759645}
     *        = {-0.29566, 1.558695}; p2 = {0.886+0.029566, -2.0095-0.1558695}
     * b step 1: d = 0.2+0.05 = 0.25, buf = 0.25, step = 0.475, p1 = 0.4525
     * b step 2: d = -0.4+0.04525 = -0.35475, buf = 0.225-0.35475 = -0.12975,
     *   step = -0.35475-0.116775 = -0.471525, p2 = 0.4525+0.0471525 */
    byol__sgd_opts o = { 0.9, 0, 0.1, 1, 0 };
    sgd_two_steps(&o, (const double[]){ 0.886, -2.0095, 0.4525 },
                  (const double[]){ 0.6, 0.05, 0.25 },
                  (const double[]){ 0.915566, -2.1653695, 0.4996525 },
                  (const double[]){ 0.1286, 0.84405, -0.12975 });
}

static void test_sgd_dampening_and_plain(void **state)
{
    (void)state;
    /* Dampening 0.5, no decay: PyTorch's first buffer is the undampened
     * gradient (a zero-initialised buffer would give 0.5 g).
     * w: buf1 = {0.5, 0.25}, p1 = {0.95, -2.025};
     *    buf2 = {0.45-0.25, 0.225+0.5} = {0.2, 0.725}, p2 = {0.93, -2.0975}
     * b: buf1 = 0.2, p1 = 0.48; buf2 = 0.18-0.2 = -0.02, p2 = 0.482 */
    byol__sgd_opts damp = { 0.9, 0.5, 0, 0, 0 };
    sgd_two_steps(&damp, (const double[]){ 0.95, -2.025, 0.48 },
                  (const double[]){ 0.5, 0.25, 0.2 },
                  (const double[]){ 0.93, -2.0975, 0.482 },
                  (const double[]){ 0.2, 0.725, -0.02 });
    /* No momentum: p -= 0.1 (g + 0.1 p), no buffer.
     * w: d1 = {0.6, 0.05}, p1 = {0.94, -2.005}; d2 = {-0.406, 0.7995},
     *    p2 = {0.9806, -2.08495}
     * b: d1 = 0.25, p1 = 0.475; d2 = -0.4+0.0475 = -0.3525, p2 = 0.51025 */
    byol__sgd_opts plain = { 0, 0, 0.1, 0, 0 };
    sgd_two_steps(&plain, (const double[]){ 0.94, -2.005, 0.475 }, NULL,
                  (const double[]){ 0.9806, -2.08495, 0.51025 }, NULL);
    byol__optim *s = NULL;
    assert_byol_ok(byol__sgd_create(&plain, 3, &s));
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    assert_int_equal(st.nbuf, 0);
    byol__optim_destroy(s);
}

/* ---- AdamW ----------------------------------------------------------------- */

static void test_adamw(void **state)
{
    (void)state;
    /* betas (0.9, 0.999), eps 0.01 (large, so eps inside the sqrt or before
     * the bias correction would show), wd 0.1, bias excluded from decay.
     * Weight p0 = {1, -0.5}, g1 = {0.1, -0.2}, g2 = {0.3, 0.1};
     * bias p0 = 0.25, g1 = 0.5, g2 = -0.5. lr 0.01 then 0.02. */
    byol__adamw_opts o = { 0.9, 0.999, 0.01, 0.1, 1 };
    byol__optim *s = NULL;
    assert_byol_ok(byol__adamw_create(&o, 3, &s));
    byol__param_span sp[2] = { { 0, 2, 0 }, { 2, 1, BYOL_TENSOR_BIAS } };
    float p[3] = { 1, -0.5f, 0.25f }, g[3] = { 0.1f, -0.2f, 0.5f };
    const double eps = 0.01;

    /* t = 1: m = 0.1 g, v = 0.001 g^2; step size 0.01/(1-0.9) = 0.1;
     * sqrt(v)/sqrt(1-0.999) = |g|; weight decay factor 1 - 0.01*0.1 = 0.999 */
    assert_byol_ok(byol__optim_step(s, sp, 2, p, g, 0.01));
    const double m1[3] = { 0.01, -0.02, 0.05 };
    const double v1[3] = { 0.001 * 0.01, 0.001 * 0.04, 0.001 * 0.25 };
    const double p1[3] = { 1 * 0.999 - 0.1 * 0.01 / (0.1 + eps),
                           -0.5 * 0.999 - 0.1 * -0.02 / (0.2 + eps),
                           0.25 - 0.1 * 0.05 / (0.5 + eps) };
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    assert_int_equal(st.nbuf, 2);
    assert_string_equal(st.name[0], "exp_avg");
    assert_string_equal(st.name[1], "exp_avg_sq");
    assert_all_near("adamw m1", st.buf[0], m1, 3);
    assert_all_near("adamw v1", st.buf[1], v1, 3);
    assert_all_near("adamw p1", p, p1, 3);

    /* t = 2: bias corrections 1-0.81 = 0.19 and 1-0.998001 = 0.001999;
     * step size 0.02/0.19; decay factor 1 - 0.02*0.1 = 0.998 */
    g[0] = 0.3f, g[1] = 0.1f, g[2] = -0.5f;
    assert_byol_ok(byol__optim_step(s, sp, 2, p, g, 0.02));
    const double m2[3] = { 0.9 * 0.01 + 0.1 * 0.3, 0.9 * -0.02 + 0.1 * 0.1,
                           0.9 * 0.05 + 0.1 * -0.5 };
    const double v2[3] = { 0.999 * v1[0] + 0.001 * 0.09, 0.999 * v1[1] + 0.001 * 0.01,
                           0.999 * v1[2] + 0.001 * 0.25 };
    double p2[3];
    for (int i = 0; i < 3; i++) {
        double decay = i < 2 ? 0.998 : 1.0;
        double denom = sqrt(v2[i]) / sqrt(0.001999) + eps;
        p2[i] = p1[i] * decay - (0.02 / 0.19) * m2[i] / denom;
    }
    assert_all_near("adamw m2", st.buf[0], m2, 3);
    assert_near("adamw v2", 0, st.buf[1][0], v2[0], 1e-9);
    assert_near("adamw v2", 1, st.buf[1][1], v2[1], 1e-9);
    assert_near("adamw v2", 2, st.buf[1][2], v2[2], 1e-9);
    assert_all_near("adamw p2", p, p2, 3);
    assert_int_equal(*st.steps, 2);
    byol__optim_destroy(s);
}

/* ---- determinism across thread counts ------------------------------------ */

/* Sizes cover: more than MAX_BLOCKS * BLOCK elements (blocks longer than
 * BLOCK), several blocks, a ragged last block, and tensors below PAR_MIN. */
#define D_NSPANS 6
static const int64_t d_sizes[D_NSPANS] = { 1100007, 70001, 33000, 5, 40000, 1000 };
static const uint32_t d_flags[D_NSPANS] = { 0, 0, 0, 0, BYOL_TENSOR_BIAS, BYOL_TENSOR_NORM };

static int64_t det_spans(byol__param_span *sp)
{
    int64_t off = 0;
    for (int i = 0; i < D_NSPANS; i++) {
        sp[i].offset = off + 3;  /* a gap before each tensor */
        sp[i].numel = d_sizes[i];
        sp[i].flags = d_flags[i];
        off = sp[i].offset + sp[i].numel;
    }
    return off;
}

/* Creates kind with its defaults, except a LARS eta and a Nesterov SGD with
 * bias/norm exclusion, so every code path runs. */
static int any_create(byol__optim **o, int kind, int64_t count)
{
    if (kind == OPT_LARS) {
        byol__lars_opts lo = { 0.02, 0.9, 1e-3, 0, 1 };
        return byol__lars_create(&lo, count, o);
    }
    if (kind == OPT_SGD) {
        byol__sgd_opts so = { 0.9, 0, 5e-4, 1, 1 };
        return byol__sgd_create(&so, count, o);
    }
    return byol__adamw_create(NULL, count, o);
}

/* Three steps of optimizer `kind` with `threads` threads; returns the params
 * and the state buffers concatenated (count * (1 + nbuf) floats). */
static float *run_optimizer(int kind, int threads, int64_t *out_len)
{
    byol__param_span sp[D_NSPANS];
    int64_t count = det_spans(sp);
    float *p = malloc((size_t)count * sizeof(float));
    float *g = malloc((size_t)count * sizeof(float));
    assert_non_null(p);
    assert_non_null(g);
    tu_fill(p, (size_t)count, 11, 1.0f);
    byol__set_threads(threads);
    byol__optim *opt = NULL;
    assert_byol_ok(any_create(&opt, kind, count));
    for (int k = 0; k < 3; k++) {
        tu_fill(g, (size_t)count, 100 + (uint32_t)k, 0.1f);
        assert_byol_ok(byol__optim_step(opt, sp, D_NSPANS, p, g, 0.1 * k));
    }
    byol__set_threads(1);
    byol__optim_state st;
    byol__optim_get_state(opt, &st);
    int64_t len = count * (1 + st.nbuf);
    float *out = malloc((size_t)len * sizeof(float));
    assert_non_null(out);
    memcpy(out, p, (size_t)count * sizeof(float));
    for (int b = 0; b < st.nbuf; b++)
        memcpy(out + count * (1 + b), st.buf[b], (size_t)count * sizeof(float));
    byol__optim_destroy(opt);
    free(p);
    free(g);
    *out_len = len;
    return out;
}

static void test_same_bits_any_thread_count(void **state)
{
    (void)state;
    for (int kind = OPT_LARS; kind <= OPT_ADAMW; kind++) {
        int64_t n1, n2, n3;
        float *a = run_optimizer(kind, 1, &n1);
        float *b = run_optimizer(kind, 2, &n2);
        float *c = run_optimizer(kind, 3, &n3);
        assert_int_equal(n1, n2);
        assert_int_equal(n1, n3);
        if (memcmp(a, b, (size_t)n1 * sizeof(float)) != 0 ||
            memcmp(a, c, (size_t)n1 * sizeof(float)) != 0)
            fail_msg("optimizer %d: results differ between 1, 2 and 3 threads", kind);
        free(a);
        free(b);
        free(c);
    }
}

static void test_lars_norms_bits(void **state)
{
    (void)state;
    /* The norms are where a thread-dependent reduction would show first (the
     * rounded float updates can hide a last-bit change of the ratio). */
    const int64_t n = 1100007;
    float *p = malloc((size_t)n * sizeof(float)), *g = malloc((size_t)n * sizeof(float));
    assert_non_null(p);
    assert_non_null(g);
    tu_fill(p, (size_t)n, 5, 1.0f);
    tu_fill(g, (size_t)n, 6, 0.5f);
    double pp[4], uu[4];
    for (int t = 1; t <= 4; t++) {
        byol__set_threads(t);
        byol__lars_norms(n, p, g, 0.01, &pp[t - 1], &uu[t - 1]);
    }
    byol__set_threads(1);
    for (int t = 1; t < 4; t++) {
        assert_memory_equal(&pp[t], &pp[0], sizeof(double));
        assert_memory_equal(&uu[t], &uu[0], sizeof(double));
    }
    double rp = 0, ru = 0;   /* plain sequential sums */
    for (int64_t i = 0; i < n; i++) {
        double u = (double)g[i] + 0.01 * (double)p[i];
        rp += (double)p[i] * p[i];
        ru += u * u;
    }
    assert_near("sum p^2", 0, pp[0] / rp, 1.0, 1e-12);
    assert_near("sum u^2", 0, uu[0] / ru, 1.0, 1e-12);
    free(p);
    free(g);
}

/* ---- checkpoint round trip -------------------------------------------------- */

static void test_state_restore_continues_exactly(void **state)
{
    (void)state;
    /* Copying params, moment buffers and the step count into a fresh AdamW
     * (whose bias correction reads the step) must continue bit for bit. */
    enum { N = 64 };
    byol__param_span sp = { 0, N, 0 };
    float pa[N], pb[N], g[N];
    tu_fill(pa, N, 1, 1.0f);
    byol__optim *a = NULL, *b = NULL;
    assert_byol_ok(byol__adamw_create(NULL, N, &a));
    assert_byol_ok(byol__adamw_create(NULL, N, &b));
    for (int k = 0; k < 3; k++) {
        tu_fill(g, N, 10 + (uint32_t)k, 1.0f);
        assert_byol_ok(byol__optim_step(a, &sp, 1, pa, g, 1e-3));
    }
    byol__optim_state sa, sb;
    byol__optim_get_state(a, &sa);
    byol__optim_get_state(b, &sb);
    memcpy(pb, pa, sizeof pa);
    for (int i = 0; i < sa.nbuf; i++)
        memcpy(sb.buf[i], sa.buf[i], (size_t)N * sizeof(float));
    *sb.steps = *sa.steps;
    tu_fill(g, N, 20, 1.0f);
    assert_byol_ok(byol__optim_step(a, &sp, 1, pa, g, 1e-3));
    assert_byol_ok(byol__optim_step(b, &sp, 1, pb, g, 1e-3));
    assert_memory_equal(pa, pb, sizeof pa);
    assert_memory_equal(sa.buf[0], sb.buf[0], N * sizeof(float));
    assert_memory_equal(sa.buf[1], sb.buf[1], N * sizeof(float));
    /* ... and without the step count it would not (t = 1 vs t = 5). */
    byol__optim *c = NULL;
    assert_byol_ok(byol__adamw_create(NULL, N, &c));
    byol__optim_state sc;
    byol__optim_get_state(c, &sc);
    memcpy(sc.buf[0], sb.buf[0], N * sizeof(float));
    memcpy(sc.buf[1], sb.buf[1], N * sizeof(float));
    float pc[N];
    memcpy(pc, pb, sizeof pb);
    assert_byol_ok(byol__optim_step(b, &sp, 1, pb, g, 1e-3));
    assert_byol_ok(byol__optim_step(c, &sp, 1, pc, g, 1e-3));
    assert_true(memcmp(pb, pc, sizeof pb) != 0);
    byol__optim_destroy(a);
    byol__optim_destroy(b);
    byol__optim_destroy(c);
}

/* ---- bad input changes nothing ------------------------------------------- */

static void test_bad_calls(void **state)
{
    (void)state;
    byol__optim *s = NULL;
    assert_byol_ok(byol__lars_create(NULL, 10, &s));
    float p[10], g[10], p_before[10];
    tu_fill(p, 10, 3, 1.0f);
    tu_fill(g, 10, 4, 1.0f);
    memcpy(p_before, p, sizeof p);
    byol__param_span ok = { 0, 4, 0 };
    byol__param_span outside[2] = { { 0, 4, 0 }, { 8, 3, 0 } };   /* 8 + 3 > 10 */
    byol__param_span overlap[2] = { { 0, 4, 0 }, { 3, 2, 0 } };
    byol__param_span negative[1] = { { -1, 2, 0 } };
    assert_int_equal(byol__optim_step(s, outside, 2, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, overlap, 2, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, negative, 1, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, &ok, 1, NULL, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, &ok, 1, p, NULL, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, NULL, 1, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(NULL, &ok, 1, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__optim_step(s, &ok, 1, p, g, -0.1), BYOL_E_RANGE);
    assert_int_equal(byol__optim_step(s, &ok, 1, p, g, NAN), BYOL_E_NONFINITE);
    assert_int_equal(byol__optim_step(s, &ok, 1, p, g, INFINITY), BYOL_E_NONFINITE);
    assert_true(strstr(byol_last_error(), "lars") != NULL);
    /* nothing moved: params, momentum, step count */
    assert_memory_equal(p, p_before, sizeof p);
    byol__optim_state st;
    byol__optim_get_state(s, &st);
    for (int i = 0; i < 10; i++)
        assert_true(st.buf[0][i] == 0.0f);
    assert_int_equal(*st.steps, 0);
    /* an empty table is a valid no-op step */
    assert_byol_ok(byol__optim_step(s, NULL, 0, p, g, 0.1));
    assert_memory_equal(p, p_before, sizeof p);
    byol__optim_destroy(s);

    byol__optim *sg = NULL;
    byol__optim *ad = NULL;
    byol__sgd_opts so = byol__sgd_defaults();
    assert_byol_ok(byol__sgd_create(&so, 10, &sg));
    assert_int_equal(byol__optim_step(sg, outside, 2, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol__adamw_create(NULL, 10, &ad));
    assert_int_equal(byol__optim_step(ad, overlap, 2, p, g, 0.1), BYOL_E_INVALID_ARG);
    assert_memory_equal(p, p_before, sizeof p);
    byol__optim_destroy(sg);
    byol__optim_destroy(ad);
}

static void test_bad_options(void **state)
{
    (void)state;
    byol__optim *l = (byol__optim *)&l;   /* must come back NULL */
    byol__lars_opts lo = byol__lars_defaults();
    lo.eta = -1;
    assert_int_equal(byol__lars_create(&lo, 4, &l), BYOL_E_RANGE);
    assert_null(l);
    lo = byol__lars_defaults();
    lo.momentum = NAN;
    assert_int_equal(byol__lars_create(&lo, 4, &l), BYOL_E_RANGE);
    lo = byol__lars_defaults();
    lo.exclude_bias_norm = 2;
    assert_int_equal(byol__lars_create(&lo, 4, &l), BYOL_E_RANGE);
    assert_int_equal(byol__lars_create(NULL, -1, &l), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__lars_create(NULL, 4, NULL), BYOL_E_INVALID_ARG);

    byol__optim *s = NULL;
    byol__sgd_opts so = { 0, 0, 0, 1, 0 };   /* Nesterov without momentum */
    assert_int_equal(byol__sgd_create(&so, 4, &s), BYOL_E_RANGE);
    so = (byol__sgd_opts){ 0.9, 0.1, 0, 1, 0 };   /* Nesterov with dampening */
    assert_int_equal(byol__sgd_create(&so, 4, &s), BYOL_E_RANGE);
    so = (byol__sgd_opts){ 0.9, 0, -1e-4, 0, 0 };
    assert_int_equal(byol__sgd_create(&so, 4, &s), BYOL_E_RANGE);
    assert_null(s);

    byol__optim *a = NULL;
    byol__adamw_opts ao = byol__adamw_defaults();
    ao.beta1 = 1.0;
    assert_int_equal(byol__adamw_create(&ao, 4, &a), BYOL_E_RANGE);
    ao = byol__adamw_defaults();
    ao.eps = 0;
    assert_int_equal(byol__adamw_create(&ao, 4, &a), BYOL_E_RANGE);
    assert_null(a);

    /* the documented defaults */
    lo = byol__lars_defaults();
    assert_true(lo.eta == 1e-3 && lo.momentum == 0.9 && lo.weight_decay == 1.5e-6 &&
                lo.clip_lr == 0 && lo.exclude_bias_norm == 1);
    ao = byol__adamw_defaults();
    assert_true(ao.beta1 == 0.9 && ao.beta2 == 0.999 && ao.eps == 1e-8 &&
                ao.weight_decay == 1e-2 && ao.exclude_bias_norm == 0);
}

/* ---- allocation failures ----------------------------------------------------- */

/* Creates and destroys optimizer `kind` (defaults); returns create's status
 * after checking that a failed create leaves its result NULL. */
static int create_destroy(int kind, int64_t count)
{
    byol__optim *o = (byol__optim *)&o;
    int rc = kind == OPT_LARS  ? byol__lars_create(NULL, count, &o)
             : kind == OPT_SGD ? byol__sgd_create(NULL, count, &o)
                               : byol__adamw_create(NULL, count, &o);
    if (rc != BYOL_OK)
        assert_null(o);
    byol__optim_destroy(o);
    return rc;
}

static int create_destroy_arg(void *kind) { return create_destroy(*(int *)kind, 1000); }

static void test_allocation_failures(void **state)
{
    (void)state;
    const long expected_allocs[3] = { 2, 2, 3 };   /* struct + moment buffers */
    for (int kind = OPT_LARS; kind <= OPT_ADAMW; kind++) {
        assert_int_equal(tu_each_allocation_fails(create_destroy_arg, &kind, NULL),
                         expected_allocs[kind]);
        /* a buffer too large for size_t or memory fails cleanly too */
        assert_int_equal(create_destroy(kind, INT64_MAX), BYOL_E_NOMEM);
    }
}

/* ---- the table: byol__optim_create ---------------------------------------- */

static byol_config *config_of(const char *settings)
{
    byol_config *cfg = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_byol_ok(byol_config_parse(cfg, settings));
    return cfg;
}

/* The moment buffers each optimizer keeps, by kind. */
static const struct {
    const char *name;
    int32_t nbuf;
    const char *bufs[2];
} named[3] = {
    { "lars", 1, { "momentum", NULL } },
    { "sgd", 1, { "momentum_buffer", NULL } },
    { "adamw", 2, { "exp_avg", "exp_avg_sq" } },
};

/* o is a fresh optimizer of kind over count floats: its buffers by name,
 * zeroed, and no step taken. */
static void assert_fresh(byol__optim *o, int kind, int64_t count)
{
    byol__optim_state st;
    byol__optim_get_state(o, &st);
    assert_int_equal(st.nbuf, named[kind].nbuf);
    assert_int_equal(st.count, count);
    assert_int_equal(*st.steps, 0);
    for (int b = 0; b < 2; b++) {
        if (!named[kind].bufs[b]) {
            assert_null(st.name[b]);
            continue;
        }
        assert_string_equal(st.name[b], named[kind].bufs[b]);
        for (int64_t i = 0; i < count; i++)
            assert_true(st.buf[b][i] == 0.0f);
    }
}

static void test_table_makes_each_named_optimizer(void **state)
{
    (void)state;
    /* Every choice optim.name accepts has a row, and the row makes it. */
    int32_t idx;
    byol_key_info info = { .struct_size = sizeof info };
    assert_byol_ok(byol_config_key_find("optim.name", &idx));
    assert_byol_ok(byol_config_key_info(idx, &info));
    char choices[64];
    snprintf(choices, sizeof choices, "%s", info.choices);
    int seen = 0;
    for (char *name = strtok(choices, "|"); name; name = strtok(NULL, "|"), seen++) {
        int kind = OPT_LARS;
        while (kind <= OPT_ADAMW && strcmp(named[kind].name, name) != 0)
            kind++;
        if (kind > OPT_ADAMW)
            fail_msg("optim.name=%s: this test does not know that optimizer yet", name);
        char settings[96];
        snprintf(settings, sizeof settings, "optim.name=%s optim.lr=0.375", name);
        byol_config *cfg = config_of(settings);
        byol__optim *o = NULL;
        assert_byol_ok(byol__optim_create(cfg, 10, &o));
        assert_fresh(o, kind, 10);
        assert_true(byol__optim_base_lr(o) == 0.375);
        byol__optim_destroy(o);
        byol_config_destroy(cfg);
    }
    assert_int_equal(seen, 3);

    /* No config: the defaults, LARS at optim.lr 0.2. */
    byol__optim *o = NULL;
    assert_byol_ok(byol__optim_create(NULL, 5, &o));
    assert_fresh(o, OPT_LARS, 5);
    assert_true(byol__optim_base_lr(o) == 0.2);
    byol__optim_destroy(o);
    /* SGD without momentum keeps no buffer (as PyTorch). */
    byol_config *cfg = config_of("optim.name=sgd optim.momentum=0");
    assert_byol_ok(byol__optim_create(cfg, 5, &o));
    byol__optim_state st;
    byol__optim_get_state(o, &st);
    assert_int_equal(st.nbuf, 0);
    assert_null(st.name[0]);
    byol__optim_destroy(o);
    /* Bad calls: nothing made. */
    o = (byol__optim *)&o;
    assert_int_equal(byol__optim_create(cfg, -1, &o), BYOL_E_INVALID_ARG);
    assert_null(o);
    assert_int_equal(byol__optim_create(cfg, 5, NULL), BYOL_E_INVALID_ARG);
    byol_config_destroy(cfg);
    byol__optim_destroy(NULL);
}

/* Options of any kind, for the cases below. */
typedef union any_opts {
    byol__lars_opts lars;
    byol__sgd_opts sgd;
    byol__adamw_opts adamw;
} any_opts;

/* settings, and the options the trainer built from them (want) and options
 * that step differently (unlike: the value before the setting, or another
 * exclude_bias_norm where the case is about optim.wd_exclude). */
typedef struct table_case {
    const char *settings;
    int kind;
    any_opts want, unlike;
} table_case;

/* Config defaults: optim.eta 1e-3, momentum 0.9, weight_decay 1.5e-6,
 * clip_lr 0, nesterov 0, beta1 0.9, beta2 0.999, eps 1e-8, wd_exclude auto
 * (LARS excludes biases and norms, SGD and AdamW do not). */
static const table_case table_cases[] = {
    { "optim.name=lars", OPT_LARS,
      .want.lars = { 1e-3, 0.9, 1.5e-6, 0, 1 }, .unlike.lars = { 2e-3, 0.9, 1.5e-6, 0, 1 } },
    { "optim.name=lars optim.eta=0.02", OPT_LARS,
      .want.lars = { 0.02, 0.9, 1.5e-6, 0, 1 }, .unlike.lars = { 1e-3, 0.9, 1.5e-6, 0, 1 } },
    { "optim.name=lars optim.momentum=0.5", OPT_LARS,
      .want.lars = { 1e-3, 0.5, 1.5e-6, 0, 1 }, .unlike.lars = { 1e-3, 0.9, 1.5e-6, 0, 1 } },
    { "optim.name=lars optim.weight_decay=0.01", OPT_LARS,
      .want.lars = { 1e-3, 0.9, 0.01, 0, 1 }, .unlike.lars = { 1e-3, 0.9, 0.01, 0, 0 } },
    { "optim.name=lars optim.weight_decay=0.01 optim.wd_exclude=none", OPT_LARS,
      .want.lars = { 1e-3, 0.9, 0.01, 0, 0 }, .unlike.lars = { 1e-3, 0.9, 0.01, 0, 1 } },
    { "optim.name=lars optim.weight_decay=0.01 optim.wd_exclude=bias_norm", OPT_LARS,
      .want.lars = { 1e-3, 0.9, 0.01, 0, 1 }, .unlike.lars = { 1e-3, 0.9, 0.01, 0, 0 } },
    { "optim.name=lars optim.clip_lr=1", OPT_LARS,
      .want.lars = { 1e-3, 0.9, 1.5e-6, 1, 1 }, .unlike.lars = { 1e-3, 0.9, 1.5e-6, 0, 1 } },
    { "optim.name=sgd", OPT_SGD,
      .want.sgd = { 0.9, 0, 1.5e-6, 0, 0 }, .unlike.sgd = { 0.8, 0, 1.5e-6, 0, 0 } },
    { "optim.name=sgd optim.weight_decay=0.01", OPT_SGD,
      .want.sgd = { 0.9, 0, 0.01, 0, 0 }, .unlike.sgd = { 0.9, 0, 0.01, 0, 1 } },
    { "optim.name=sgd optim.weight_decay=0.01 optim.wd_exclude=bias_norm", OPT_SGD,
      .want.sgd = { 0.9, 0, 0.01, 0, 1 }, .unlike.sgd = { 0.9, 0, 0.01, 0, 0 } },
    { "optim.name=sgd optim.weight_decay=0.01 optim.wd_exclude=none", OPT_SGD,
      .want.sgd = { 0.9, 0, 0.01, 0, 0 }, .unlike.sgd = { 0.9, 0, 0.01, 0, 1 } },
    { "optim.name=sgd optim.momentum=0.5", OPT_SGD,
      .want.sgd = { 0.5, 0, 1.5e-6, 0, 0 }, .unlike.sgd = { 0.9, 0, 1.5e-6, 0, 0 } },
    { "optim.name=sgd optim.nesterov=1", OPT_SGD,
      .want.sgd = { 0.9, 0, 1.5e-6, 1, 0 }, .unlike.sgd = { 0.9, 0, 1.5e-6, 0, 0 } },
    /* Nesterov needs momentum: the trainer dropped it rather than fail. */
    { "optim.name=sgd optim.momentum=0 optim.nesterov=1", OPT_SGD,
      .want.sgd = { 0, 0, 1.5e-6, 0, 0 }, .unlike.sgd = { 0.9, 0, 1.5e-6, 1, 0 } },
    { "optim.name=adamw optim.weight_decay=0.1", OPT_ADAMW,
      .want.adamw = { 0.9, 0.999, 1e-8, 0.1, 0 }, .unlike.adamw = { 0.9, 0.999, 1e-8, 0.1, 1 } },
    { "optim.name=adamw optim.weight_decay=0.1 optim.wd_exclude=bias_norm", OPT_ADAMW,
      .want.adamw = { 0.9, 0.999, 1e-8, 0.1, 1 }, .unlike.adamw = { 0.9, 0.999, 1e-8, 0.1, 0 } },
    { "optim.name=adamw optim.weight_decay=0.1 optim.wd_exclude=none", OPT_ADAMW,
      .want.adamw = { 0.9, 0.999, 1e-8, 0.1, 0 }, .unlike.adamw = { 0.9, 0.999, 1e-8, 0.1, 1 } },
    { "optim.name=adamw optim.beta1=0.5", OPT_ADAMW,
      .want.adamw = { 0.5, 0.999, 1e-8, 1.5e-6, 0 },
      .unlike.adamw = { 0.9, 0.999, 1e-8, 1.5e-6, 0 } },
    { "optim.name=adamw optim.beta2=0.9", OPT_ADAMW,
      .want.adamw = { 0.9, 0.9, 1e-8, 1.5e-6, 0 },
      .unlike.adamw = { 0.9, 0.999, 1e-8, 1.5e-6, 0 } },
    { "optim.name=adamw optim.eps=0.001", OPT_ADAMW,
      .want.adamw = { 0.9, 0.999, 1e-3, 1.5e-6, 0 },
      .unlike.adamw = { 0.9, 0.999, 1e-8, 1.5e-6, 0 } },
};

static int create_with(int kind, const any_opts *o, int64_t count, byol__optim **out)
{
    if (kind == OPT_LARS)
        return byol__lars_create(&o->lars, count, out);
    if (kind == OPT_SGD)
        return byol__sgd_create(&o->sgd, count, out);
    return byol__adamw_create(&o->adamw, count, out);
}

/* A weight, a bias, a BN gamma and a second weight, with gaps between them. */
#define T_COUNT 4683
static const byol__param_span t_spans[4] = {
    { 0, 4099, 0 },
    { 4101, 37, BYOL_TENSOR_BIAS },
    { 4140, 37, BYOL_TENSOR_NORM },
    { 4180, 500, 0 },
};

/* Three steps of o (lr 0.05, 0.1, 0.15: LARS's ratio of about 0.01 gets
 * clipped) from fixed params and gradients; out = the params, then every
 * moment buffer (3 * T_COUNT floats, zero where o keeps no buffer). */
static void run_three(byol__optim *o, float *out)
{
    float *g = malloc(T_COUNT * sizeof(float));
    assert_non_null(g);
    memset(out, 0, 3 * T_COUNT * sizeof(float));
    tu_fill(out, T_COUNT, 7, 1.0f);
    for (int k = 0; k < 3; k++) {
        tu_fill(g, T_COUNT, 20 + (uint32_t)k, 0.1f);
        assert_byol_ok(byol__optim_step(o, t_spans, 4, out, g, 0.05 * (k + 1)));
    }
    byol__optim_state st;
    byol__optim_get_state(o, &st);
    for (int b = 0; b < st.nbuf; b++)
        memcpy(out + T_COUNT * (1 + b), st.buf[b], T_COUNT * sizeof(float));
    free(g);
}

/* The bits of three steps of c's optimizer made from opts, or by the table
 * from c's settings when opts is NULL. */
static void run_made(const table_case *c, const any_opts *opts, float *out)
{
    byol__optim *o = NULL;
    if (opts) {
        assert_byol_ok(create_with(c->kind, opts, T_COUNT, &o));
    } else {
        byol_config *cfg = config_of(c->settings);
        assert_byol_ok(byol__optim_create(cfg, T_COUNT, &o));
        byol_config_destroy(cfg);
    }
    run_three(o, out);
    byol__optim_destroy(o);
}

static void test_table_steps_as_the_trainer_did(void **state)
{
    (void)state;
    const size_t bytes = 3 * T_COUNT * sizeof(float);
    float *table = malloc(bytes), *want = malloc(bytes), *unlike = malloc(bytes);
    assert_non_null(table);
    assert_non_null(want);
    assert_non_null(unlike);
    for (size_t i = 0; i < sizeof table_cases / sizeof table_cases[0]; i++) {
        const table_case *c = &table_cases[i];
        run_made(c, NULL, table);
        run_made(c, &c->want, want);
        run_made(c, &c->unlike, unlike);
        if (memcmp(table, want, bytes) != 0)
            fail_msg("%s: the table's optimizer steps unlike the trainer's options", c->settings);
        if (memcmp(want, unlike, bytes) == 0)
            fail_msg("%s: the case cannot tell its options from the unlike ones", c->settings);
    }
    free(table);
    free(want);
    free(unlike);
}

/* Creates from cfg and destroys; returns create's status after checking
 * that a failed create leaves its result NULL. */
static int table_create_destroy(void *cfg)
{
    byol__optim *o = (byol__optim *)&o;
    int rc = byol__optim_create(cfg, 1000, &o);
    if (rc != BYOL_OK)
        assert_null(o);
    byol__optim_destroy(o);
    return rc;
}

static void test_table_allocation_failures(void **state)
{
    (void)state;
    const long expected_allocs[3] = { 2, 2, 3 };   /* handle + moment buffers */
    for (int kind = OPT_LARS; kind <= OPT_ADAMW; kind++) {
        char settings[64];
        snprintf(settings, sizeof settings, "optim.name=%s", named[kind].name);
        byol_config *cfg = config_of(settings);
        assert_int_equal(tu_each_allocation_fails(table_create_destroy, cfg, NULL),
                         expected_allocs[kind]);
        byol_config_destroy(cfg);
    }
}

/* ---- optim.wd_exclude: each optimizer against its rule, worked in double --- */

/* The rules as their documentation writes them, in double, with the weight
 * decay of a tensor on or off (decays[]): torch.optim.SGD and torch.optim.AdamW
 * (pytorch.org/docs, the algorithm boxes of SGD and AdamW: SGD's buffer starts
 * as the first decayed gradient, AdamW divides the bias-corrected moments),
 * and DM's LARS (reference 4.1: the same filter gives decay and trust ratio).
 * They share nothing with src/optim. */

/* A weight w [0,3), a bias b [3,5) and a BatchNorm gamma n [5,7), three steps. */
#define X_COUNT 7
#define X_STEPS 3
static const byol__param_span x_spans[3] = {
    { 0, 3, 0 }, { 3, 2, BYOL_TENSOR_BIAS }, { 5, 2, BYOL_TENSOR_NORM },
};
static const double x_p0[X_COUNT] = { 0.5, -1.0, 0.75, 0.2, -0.3, 1.0, 0.9 };
static const double x_g[X_STEPS][X_COUNT] = {
    { 0.3, -0.2, 0.1, 0.5, -0.25, 0.05, -0.4 },
    { -0.1, 0.4, 0.2, -0.3, 0.6, 0.2, 0.1 },
    { 0.2, 0.1, -0.5, 0.1, 0.2, -0.3, 0.25 },
};
static const double x_lr[X_STEPS] = { 0.1, 0.2, 0.05 };
/* momentum, weight decay, LARS eta, AdamW betas and eps, as the settings say */
#define X_SETTINGS "optim.momentum=0.9 optim.weight_decay=0.1 optim.eta=0.5 " \
                   "optim.beta1=0.9 optim.beta2=0.999 optim.eps=0.01 "
static const double X_M = 0.9, X_WD = 0.1, X_ETA = 0.5, X_B1 = 0.9, X_B2 = 0.999,
                    X_EPS = 0.01;

/* Parameters and moment buffers of a worked run: a = momentum buffer or
 * exp_avg, b = exp_avg_sq. */
typedef struct x_run {
    double p[X_COUNT], a[X_COUNT], b[X_COUNT];
} x_run;

/* Whether element i belongs to a decayed tensor: every one, or (exclude) the
 * weight only. */
static int x_decays(int exclude, int i)
{
    return !exclude || i < 3;
}

/* torch.optim.SGD, dampening 0: g_t = g + wd p; b_1 = g_1, b_t = m b_{t-1} +
 * g_t; step = nesterov ? g_t + m b_t : b_t; p -= lr step. */
static void x_sgd(int nesterov, int exclude, x_run *r)
{
    for (int t = 0; t < X_STEPS; t++)
        for (int i = 0; i < X_COUNT; i++) {
            double g = x_g[t][i] + (x_decays(exclude, i) ? X_WD * r->p[i] : 0.0);
            r->a[i] = t == 0 ? g : X_M * r->a[i] + g;
            r->p[i] -= x_lr[t] * (nesterov ? g + X_M * r->a[i] : r->a[i]);
        }
}

/* torch.optim.AdamW: p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * p -= lr (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps). */
static void x_adamw(int exclude, x_run *r)
{
    for (int t = 0; t < X_STEPS; t++)
        for (int i = 0; i < X_COUNT; i++) {
            double g = x_g[t][i], lr = x_lr[t];
            if (x_decays(exclude, i))
                r->p[i] -= lr * X_WD * r->p[i];
            r->a[i] = X_B1 * r->a[i] + (1 - X_B1) * g;
            r->b[i] = X_B2 * r->b[i] + (1 - X_B2) * g * g;
            double mhat = r->a[i] / (1 - pow(X_B1, t + 1));
            double vhat = r->b[i] / (1 - pow(X_B2, t + 1));
            r->p[i] -= lr * mhat / (sqrt(vhat) + X_EPS);
        }
}

/* DM's LARS per tensor [i0, i1): in the filter, u = g + wd p and u *=
 * eta |p| / |u| (1 if a norm is 0); out of it, u = g. mu = m mu + u;
 * p -= lr mu. */
static void x_lars(int exclude, x_run *r)
{
    const int bounds[4] = { 0, 3, 5, 7 };
    for (int t = 0; t < X_STEPS; t++)
        for (int s = 0; s < 3; s++) {
            int i0 = bounds[s], i1 = bounds[s + 1], in = x_decays(exclude, i0);
            double u[X_COUNT], pp = 0, uu = 0, ratio = 1;
            for (int i = i0; i < i1; i++) {
                u[i] = x_g[t][i] + (in ? X_WD * r->p[i] : 0.0);
                pp += r->p[i] * r->p[i];
                uu += u[i] * u[i];
            }
            if (in && pp > 0 && uu > 0)
                ratio = X_ETA * sqrt(pp) / sqrt(uu);
            for (int i = i0; i < i1; i++) {
                r->a[i] = X_M * r->a[i] + ratio * u[i];
                r->p[i] -= x_lr[t] * r->a[i];
            }
        }
}

static x_run x_worked(int kind, int nesterov, int exclude)
{
    x_run r = { { 0 }, { 0 }, { 0 } };
    memcpy(r.p, x_p0, sizeof r.p);
    if (kind == OPT_SGD)
        x_sgd(nesterov, exclude, &r);
    else if (kind == OPT_ADAMW)
        x_adamw(exclude, &r);
    else
        x_lars(exclude, &r);
    return r;
}

typedef struct x_case {
    const char *settings;   /* after X_SETTINGS */
    int kind, nesterov;
    int exclude;            /* what the setting must mean */
} x_case;

static const char *const x_names[X_COUNT] = { "w0", "w1", "w2", "b0", "b1", "n0", "n1" };

/* Steps the optimizer that c's settings make X_STEPS times; returns 1 if it
 * matches the worked run, else 0 with msg naming the first value off. */
static int x_matches(const x_case *c, char *msg, size_t len)
{
    char settings[256];
    snprintf(settings, sizeof settings, X_SETTINGS "%s", c->settings);
    byol_config *cfg = NULL;
    byol__optim *o = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    int rc = byol_config_parse(cfg, settings);
    if (rc == BYOL_OK)
        rc = byol__optim_create(cfg, X_COUNT, &o);
    byol_config_destroy(cfg);
    if (rc != BYOL_OK) {
        snprintf(msg, len, "%s: %s", c->settings, byol_last_error());
        return 0;
    }
    float p[X_COUNT], g[X_COUNT];
    set_f(p, x_p0, X_COUNT);
    for (int t = 0; t < X_STEPS; t++) {
        set_f(g, x_g[t], X_COUNT);
        assert_byol_ok(byol__optim_step(o, x_spans, 3, p, g, x_lr[t]));
    }
    byol__optim_state st;
    byol__optim_get_state(o, &st);
    const x_run want = x_worked(c->kind, c->nesterov, c->exclude);
    const double *wants[3] = { want.p, want.a, want.b };
    const float *gots[3] = { p, st.buf[0], st.nbuf > 1 ? st.buf[1] : NULL };
    static const char *const what[3] = { "parameter", "moment 1", "moment 2" };
    const double tols[3] = { TOL, TOL, 1e-9 };   /* moment 2 is about 1e-4 */
    int ok = 1;
    for (int k = 0; k < 3 && ok; k++)
        for (int i = 0; gots[k] && i < X_COUNT && ok; i++)
            if (!(fabs(gots[k][i] - wants[k][i]) <= tols[k])) {
                snprintf(msg, len, "%s: %s %s is %.9g after %d steps, worked out %.9g",
                         c->settings, what[k], x_names[i], gots[k][i], X_STEPS,
                         wants[k][i]);
                ok = 0;
            }
    byol__optim_destroy(o);
    return ok;
}

/* Every case is run and every mismatch printed before the test fails. */
static void x_check(const x_case *cases, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        char msg[512];
        if (!x_matches(&cases[i], msg, sizeof msg)) {
            print_error("%s\n", msg);
            bad++;
        }
    }
    if (bad)
        fail_msg("%d of %zu settings step unlike their worked runs", bad, n);
}

static void test_wd_exclude_worked_runs_differ(void **state)
{
    (void)state;
    /* The two choices must differ on every bias and BatchNorm value by far
     * more than the tolerance, and not on the weight: else the cases below
     * could not tell them apart. */
    for (int kind = OPT_LARS; kind <= OPT_ADAMW; kind++)
        for (int nesterov = 0; nesterov <= (kind == OPT_SGD); nesterov++) {
            x_run all = x_worked(kind, nesterov, 0), some = x_worked(kind, nesterov, 1);
            for (int i = 0; i < X_COUNT; i++) {
                double d = fabs(all.p[i] - some.p[i]);
                if (i < 3 ? d != 0 : !(d > 1e-3))
                    fail_msg("%s%s: none and bias_norm differ by %g at %s",
                             named[kind].name, nesterov ? " nesterov" : "", d, x_names[i]);
            }
        }
}

/* Each optimizer with each explicit choice. */
static void test_wd_exclude_choices(void **state)
{
    (void)state;
    static const x_case cases[] = {
        { "optim.name=sgd optim.wd_exclude=none", OPT_SGD, 0, 0 },
        { "optim.name=sgd optim.wd_exclude=bias_norm", OPT_SGD, 0, 1 },
        { "optim.name=sgd optim.nesterov=1 optim.wd_exclude=none", OPT_SGD, 1, 0 },
        { "optim.name=sgd optim.nesterov=1 optim.wd_exclude=bias_norm", OPT_SGD, 1, 1 },
        { "optim.name=adamw optim.wd_exclude=none", OPT_ADAMW, 0, 0 },
        { "optim.name=adamw optim.wd_exclude=bias_norm", OPT_ADAMW, 0, 1 },
        { "optim.name=lars optim.wd_exclude=none", OPT_LARS, 0, 0 },
        { "optim.name=lars optim.wd_exclude=bias_norm", OPT_LARS, 0, 1 },
    };
    x_check(cases, sizeof cases / sizeof cases[0]);
}

/* auto: the reference's choice for LARS, torch.optim's for SGD and AdamW. */
static void test_wd_exclude_auto(void **state)
{
    (void)state;
    static const x_case cases[] = {
        { "optim.name=sgd", OPT_SGD, 0, 0 },
        { "optim.name=sgd optim.nesterov=1 optim.wd_exclude=auto", OPT_SGD, 1, 0 },
        { "optim.name=adamw", OPT_ADAMW, 0, 0 },
        { "optim.name=lars", OPT_LARS, 0, 1 },
    };
    x_check(cases, sizeof cases / sizeof cases[0]);
    byol_config *cfg = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    assert_int_equal(byol_config_parse(cfg, "optim.wd_exclude=bias"), BYOL_E_RANGE);
    byol_config_destroy(cfg);
}

/* The presets were tuned with biases and norms out of the weight decay, and
 * say so: with any optimizer, fashion-mnist's AdamW included. */
static void test_presets_exclude_bias_norm(void **state)
{
    (void)state;
    for (int i = 0; byol_config_preset_name(i); i++) {
        byol_config *cfg = NULL;
        assert_byol_ok(byol_config_create(&cfg));
        assert_byol_ok(byol_config_apply_preset(cfg, byol_config_preset_name(i)));
        if (byol__optim_wd_exclude(cfg, 0) != 1)
            fail_msg("preset %s: optim.wd_exclude is not bias_norm", byol_config_preset_name(i));
        byol_config_destroy(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lr_schedule),
        cmocka_unit_test(test_tau_schedule),
        cmocka_unit_test(test_scaling_and_step_counts),
        cmocka_unit_test(test_lars_hand_example),
        cmocka_unit_test(test_lars_clip_lr),
        cmocka_unit_test(test_lars_ratio_has_no_epsilon),
        cmocka_unit_test(test_sgd_momentum),
        cmocka_unit_test(test_sgd_nesterov),
        cmocka_unit_test(test_sgd_dampening_and_plain),
        cmocka_unit_test(test_adamw),
        cmocka_unit_test(test_same_bits_any_thread_count),
        cmocka_unit_test(test_lars_norms_bits),
        cmocka_unit_test(test_state_restore_continues_exactly),
        cmocka_unit_test(test_bad_calls),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_table_makes_each_named_optimizer),
        cmocka_unit_test(test_table_steps_as_the_trainer_did),
        cmocka_unit_test(test_table_allocation_failures),
        cmocka_unit_test(test_wd_exclude_worked_runs_differ),
        cmocka_unit_test(test_wd_exclude_choices),
        cmocka_unit_test(test_wd_exclude_auto),
        cmocka_unit_test(test_presets_exclude_bias_norm),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
