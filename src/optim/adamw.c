/* AdamW as torch.optim.AdamW does it (amsgrad and maximize off).
 *
 * The decay is decoupled: the weights shrink by (1 - lr*wd) before the Adam
 * update, and the gradient never sees it. Bias corrections use the step
 * number t = steps + 1 of this optimizer (all tensors step together), and eps
 * is added outside the square root, after dividing by sqrt(1 - beta2^t).
 * Element arithmetic is in double, rounded to float once per stored value. */
#include <math.h>

#include "core/internal.h"
#include "optim/optim.h"

struct byol__adamw {
    byol__adamw_opts o;
    int64_t count;
    int64_t steps;
    float *m, *v;    /* exp_avg, exp_avg_sq; same layout as the params */
};

byol__adamw_opts byol__adamw_defaults(void)
{
    byol__adamw_opts o = { 0.9, 0.999, 1e-8, 1e-2, 0 };
    return o;
}

static int check_opts(const byol__adamw_opts *o)
{
    /* Written so that NaN fails every test. */
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return byol__err(BYOL_E_RANGE, "adamw: betas (%g, %g) must be in [0, 1)", o->beta1,
                         o->beta2);
    if (!(o->eps > 0 && isfinite(o->eps)))
        return byol__err(BYOL_E_RANGE, "adamw: eps %g must be finite and > 0", o->eps);
    if (!(o->weight_decay >= 0 && isfinite(o->weight_decay)))
        return byol__err(BYOL_E_RANGE, "adamw: weight_decay %g must be finite and >= 0",
                         o->weight_decay);
    if (o->exclude_bias_norm != 0 && o->exclude_bias_norm != 1)
        return byol__err(BYOL_E_RANGE, "adamw: exclude_bias_norm %d must be 0 or 1",
                         o->exclude_bias_norm);
    return BYOL_OK;
}

int byol__adamw_create(const byol__adamw_opts *opts, int64_t count, byol__adamw **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "adamw: out must not be NULL");
    *out = NULL;
    byol__adamw_opts o = opts ? *opts : byol__adamw_defaults();
    int rc = check_opts(&o);
    if (rc != BYOL_OK)
        return rc;
    if (count < 0)
        return byol__err(BYOL_E_INVALID_ARG, "adamw: negative buffer length %lld",
                         (long long)count);
    byol__adamw *s = byol__calloc(1, sizeof *s);
    float *m = s ? byol__optim_zeros(count) : NULL;
    float *v = m ? byol__optim_zeros(count) : NULL;
    if (!v) {
        byol__free(s);
        byol__free(m);
        return byol__err(BYOL_E_NOMEM, "adamw: out of memory for 2 x %lld moment floats",
                         (long long)count);
    }
    s->o = o;
    s->count = count;
    s->m = m;
    s->v = v;
    *out = s;
    return BYOL_OK;
}

void byol__adamw_destroy(byol__adamw *s)
{
    if (!s)
        return;
    byol__free(s->m);
    byol__free(s->v);
    byol__free(s);
}

void byol__adamw_state(byol__adamw *s, byol__optim_state *out)
{
    out->nbuf = 2;
    out->count = s->count;
    out->buf[0] = s->m;
    out->buf[1] = s->v;
    out->name[0] = "exp_avg";
    out->name[1] = "exp_avg_sq";
    out->steps = &s->steps;
}

typedef struct adamw_ctx {
    float *p, *m, *v;
    const float *g;
    double decay;      /* 1 - lr*wd */
    double b1, b2;
    double step_size;  /* lr / (1 - beta1^t) */
    double bc2_sqrt;   /* sqrt(1 - beta2^t) */
    double eps;
} adamw_ctx;

/* p, g, m, v [i0, i1): m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p = p*decay - step_size*m/(sqrt(v)/bc2_sqrt + eps), with the stored
 * (rounded) moments, so the params follow exactly the saved state. */
static void adamw_block(void *vc, int64_t b, int64_t i0, int64_t i1)
{
    const adamw_ctx *c = vc;
    (void)b;
    for (int64_t i = i0; i < i1; i++) {
        double g = c->g[i];
        float m = (float)(c->b1 * (double)c->m[i] + (1.0 - c->b1) * g);
        float v = (float)(c->b2 * (double)c->v[i] + (1.0 - c->b2) * g * g);
        c->m[i] = m;
        c->v[i] = v;
        double denom = sqrt((double)v) / c->bc2_sqrt + c->eps;
        c->p[i] = (float)((double)c->p[i] * c->decay - c->step_size * (double)m / denom);
    }
}

static void adamw_tensor(byol__adamw *s, const byol__param_span *sp, float *params,
                         const float *grads, double lr)
{
    if (sp->numel == 0)
        return;
    double t = (double)(s->steps + 1);
    int no_decay = s->o.exclude_bias_norm && byol__span_excluded(sp);
    int64_t off = sp->offset;
    adamw_ctx c = { params + off, s->m + off, s->v + off, grads + off,
                    1.0 - lr * (no_decay ? 0.0 : s->o.weight_decay), s->o.beta1, s->o.beta2,
                    lr / (1.0 - pow(s->o.beta1, t)), sqrt(1.0 - pow(s->o.beta2, t)),
                    s->o.eps };
    byol__optim_for_blocks(sp->numel, adamw_block, &c);
}

int byol__adamw_step(byol__adamw *s, const byol__param_span *spans, int64_t nspans,
                     float *params, const float *grads, double lr)
{
    if (!s)
        return byol__err(BYOL_E_INVALID_ARG, "adamw: NULL optimizer");
    int rc = byol__optim_check_step("adamw", s->count, spans, nspans, params, grads, lr);
    if (rc != BYOL_OK)
        return rc;
    for (int64_t i = 0; i < nspans; i++)
        adamw_tensor(s, &spans[i], params, grads, lr);
    s->steps++;
    return BYOL_OK;
}
