/* AdamW as torch.optim.AdamW does it (amsgrad and maximize off).
 *
 * The decay is decoupled: the weights shrink by (1 - lr*wd) before the Adam
 * update, and the gradient never sees it. Bias corrections use the step
 * number t = steps + 1 of this optimizer (all tensors step together), and eps
 * is added outside the square root, after dividing by sqrt(1 - beta2^t).
 * Element arithmetic is in double, rounded to float once per stored value. */
#include <math.h>

#include "core/config.h"
#include "core/internal.h"
#include "optim/optim.h"

static int check_opts(const void *opts)
{
    const byol__adamw_opts *o = opts;
    /* Written so that NaN fails every test. */
    if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
        return byol__err(BYOL_E_RANGE, "adamw: betas (%g, %g) must be in [0, 1)", o->beta1,
                         o->beta2);
    if (!(o->eps > 0 && isfinite(o->eps)))
        return byol__err(BYOL_E_RANGE, "adamw: eps %g must be finite and > 0", o->eps);
    int rc = byol__optim_need_nonneg(BYOL_OK, "adamw", "weight_decay", o->weight_decay);
    return byol__optim_need_flag(rc, "adamw", "exclude_bias_norm", o->exclude_bias_norm);
}

byol__adamw_opts byol__adamw_defaults(void)
{
    byol__adamw_opts o = { 0.9, 0.999, 1e-8, 1e-2, 0 };
    return o;
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

/* One tensor; buf[0], buf[1] are exp_avg and exp_avg_sq. */
static void adamw_tensor(byol__optim *s, const byol__param_span *sp, float *params,
                         const float *grads, double lr)
{
    const byol__adamw_opts *o = byol__optim_opts(s);
    double t = (double)(s->steps + 1);
    int no_decay = byol__span_excluded(sp, o->exclude_bias_norm);
    int64_t off = sp->offset;
    adamw_ctx c = { params + off, s->buf[0] + off, s->buf[1] + off, grads + off,
                    1.0 - lr * (no_decay ? 0.0 : o->weight_decay), o->beta1, o->beta2,
                    lr / (1.0 - pow(o->beta1, t)), sqrt(1.0 - pow(o->beta2, t)), o->eps };
    byol__optim_for_blocks(sp->numel, adamw_block, &c);
}

/* optim.name=adamw: the trainer's AdamW; optim.wd_exclude=auto decays every
 * tensor, as torch.optim.AdamW. */
static int from_config(const byol_config *cfg, int64_t count, byol__optim **out)
{
    byol__adamw_opts o = { byol__cfg_float(cfg, BYOL__K_OPTIM_BETA1),
                           byol__cfg_float(cfg, BYOL__K_OPTIM_BETA2),
                           byol__cfg_float(cfg, BYOL__K_OPTIM_EPS),
                           byol__cfg_float(cfg, BYOL__K_OPTIM_WEIGHT_DECAY),
                           byol__optim_wd_exclude(cfg, 0) };
    return byol__adamw_create(&o, count, out);
}

const byol__optim_ops byol__adamw_ops = {
    "adamw", sizeof(byol__adamw_opts), { "exp_avg", "exp_avg_sq" }, check_opts, from_config,
    adamw_tensor,
};

int byol__adamw_create(const byol__adamw_opts *opts, int64_t count, byol__optim **out)
{
    byol__adamw_opts o = opts ? *opts : byol__adamw_defaults();
    return byol__optim_new(&byol__adamw_ops, &o, 2, count, out);
}
