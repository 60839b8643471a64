/* LARS as DeepMind's BYOL runs it (byol/utils/optimizers.py).
 *
 * The trust ratio needs two norms over a whole tensor. They are summed in
 * double over fixed blocks (bounds from the tensor length only) and the block
 * partials are added in block order, so the ratio, and with it every updated
 * bit, is the same for any thread count. Element arithmetic is done in double
 * and rounded to float once per stored value. */
#include <math.h>

#include "core/config.h"
#include "core/internal.h"
#include "optim/optim.h"

static int check_opts(const void *opts)
{
    const byol__lars_opts *o = opts;
    int rc = byol__optim_need_nonneg(BYOL_OK, "lars", "eta", o->eta);
    rc = byol__optim_need_unit(rc, "lars", "momentum", o->momentum);
    rc = byol__optim_need_nonneg(rc, "lars", "weight_decay", o->weight_decay);
    rc = byol__optim_need_flag(rc, "lars", "clip_lr", o->clip_lr);
    return byol__optim_need_flag(rc, "lars", "exclude_bias_norm", o->exclude_bias_norm);
}

byol__lars_opts byol__lars_defaults(void)
{
    byol__lars_opts o = { 1e-3, 0.9, 1.5e-6, 0, 1 };
    return o;
}

/* ---- norms ------------------------------------------------------------- */

typedef struct norms_ctx {
    const float *p, *g;
    double wd;
    double (*part)[2];   /* [block] -> { sum p^2, sum u^2 } */
} norms_ctx;

/* p, g [i0, i1) -> part[b] = { sum p^2, sum (g + wd*p)^2 }. Four interleaved
 * accumulators hide the add latency; their order is fixed, so the sum is
 * still a function of the data alone. */
static void norms_block(void *vc, int64_t b, int64_t i0, int64_t i1)
{
    const norms_ctx *c = vc;
    double sp[4] = { 0, 0, 0, 0 }, su[4] = { 0, 0, 0, 0 };
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4) {
        for (int j = 0; j < 4; j++) {
            double p = c->p[i + j], u = (double)c->g[i + j] + c->wd * p;
            sp[j] += p * p;
            su[j] += u * u;
        }
    }
    for (; i < i1; i++) {
        double p = c->p[i], u = (double)c->g[i] + c->wd * p;
        sp[0] += p * p;
        su[0] += u * u;
    }
    c->part[b][0] = (sp[0] + sp[1]) + (sp[2] + sp[3]);
    c->part[b][1] = (su[0] + su[1]) + (su[2] + su[3]);
}

void byol__lars_norms(int64_t n, const float *p, const float *g, double wd,
                      double *pp, double *uu)
{
    double part[BYOL__OPTIM_MAX_BLOCKS][2];
    norms_ctx c = { p, g, wd, part };
    byol__optim_for_blocks(n, norms_block, &c);
    int64_t len = byol__optim_block_len(n), nb = (n + len - 1) / len;
    double a = 0, b = 0;
    for (int64_t k = 0; k < nb; k++) {   /* block order, whatever ran them */
        a += part[k][0];
        b += part[k][1];
    }
    *pp = a;
    *uu = b;
}

/* DM's ratio eta*|p|/|g + wd*p| with the zero-norm guard (r = 1), then the
 * optional solo-learn clip min(r/lr, 1) (r < lr is the same test without a
 * division by lr = 0). */
static double trust_ratio(const byol__lars_opts *o, int64_t n, const float *p,
                          const float *g, double lr)
{
    double pp, uu;
    byol__lars_norms(n, p, g, o->weight_decay, &pp, &uu);
    if (!(pp > 0) || !(uu > 0))
        return 1.0;
    double r = o->eta * sqrt(pp) / sqrt(uu);
    if (o->clip_lr)
        r = lr > 0 && r < lr ? r / lr : 1.0;
    return r;
}

/* ---- update ------------------------------------------------------------ */

typedef struct update_ctx {
    float *p, *mu;
    const float *g;
    double wd, r, m, lr;
} update_ctx;

/* p, g, mu [i0, i1): u = r*(g + wd*p); mu = m*mu + u; p -= lr*mu, with the
 * stored (rounded) mu, so the params follow exactly the saved state. */
static void update_block(void *vc, int64_t b, int64_t i0, int64_t i1)
{
    const update_ctx *c = vc;
    (void)b;
    for (int64_t i = i0; i < i1; i++) {
        double u = c->r * ((double)c->g[i] + c->wd * (double)c->p[i]);
        float mu = (float)(c->m * (double)c->mu[i] + u);
        c->mu[i] = mu;
        c->p[i] = (float)((double)c->p[i] - c->lr * (double)mu);
    }
}

/* One tensor. Excluded tensors (bias, norm, when exclude_bias_norm) take
 * wd = 0 and r = 1, which is plain momentum SGD on the raw gradient. */
static void lars_tensor(byol__optim *s, const byol__param_span *sp, float *params,
                        const float *grads, double lr)
{
    const byol__lars_opts *o = byol__optim_opts(s);
    int64_t n = sp->numel;
    float *p = params + sp->offset;
    const float *g = grads + sp->offset;
    int ex = byol__span_excluded(sp, o->exclude_bias_norm);
    update_ctx c = { p, s->buf[0] + sp->offset, g, ex ? 0.0 : o->weight_decay,
                     ex ? 1.0 : trust_ratio(o, n, p, g, lr), o->momentum, lr };
    byol__optim_for_blocks(n, update_block, &c);
}

/* optim.name=lars: the trainer's LARS, every option from its optim.* key;
 * optim.wd_exclude=auto leaves biases and norms out, as the reference. */
static int from_config(const byol_config *cfg, int64_t count, byol__optim **out)
{
    byol__lars_opts o = { byol__cfg_float(cfg, BYOL__K_OPTIM_ETA),
                          byol__cfg_float(cfg, BYOL__K_OPTIM_MOMENTUM),
                          byol__cfg_float(cfg, BYOL__K_OPTIM_WEIGHT_DECAY),
                          (int)byol__cfg_int(cfg, BYOL__K_OPTIM_CLIP_LR),
                          byol__optim_wd_exclude(cfg, 1) };
    return byol__lars_create(&o, count, out);
}

const byol__optim_ops byol__lars_ops = {
    "lars", sizeof(byol__lars_opts), { "momentum", NULL }, check_opts, from_config, lars_tensor,
};

int byol__lars_create(const byol__lars_opts *opts, int64_t count, byol__optim **out)
{
    byol__lars_opts o = opts ? *opts : byol__lars_defaults();
    return byol__optim_new(&byol__lars_ops, &o, 1, count, out);
}
