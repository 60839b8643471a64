/* SGD with momentum as torch.optim.SGD does it (maximize off).
 *
 * PyTorch creates the momentum buffer on a parameter's first step as a copy
 * of the (decayed) gradient, undampened; later steps dampen. That is kept
 * exactly: it differs from a zero-initialised buffer when dampening > 0.
 * Weight decay is coupled (added to the gradient). Element arithmetic is in
 * double, rounded to float once per stored value. */
#include "core/config.h"
#include "core/internal.h"
#include "optim/optim.h"

static int check_opts(const void *opts)
{
    const byol__sgd_opts *o = opts;
    int rc = byol__optim_need_unit(BYOL_OK, "sgd", "momentum", o->momentum);
    rc = byol__optim_need_unit(rc, "sgd", "dampening", o->dampening);
    rc = byol__optim_need_nonneg(rc, "sgd", "weight_decay", o->weight_decay);
    rc = byol__optim_need_flag(rc, "sgd", "nesterov", o->nesterov);
    if (rc == BYOL_OK && o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        rc = byol__err(BYOL_E_RANGE, "sgd: Nesterov momentum needs momentum > 0 and "
                       "dampening 0 (got %g, %g)", o->momentum, o->dampening);
    return byol__optim_need_flag(rc, "sgd", "exclude_bias_norm", o->exclude_bias_norm);
}

byol__sgd_opts byol__sgd_defaults(void)
{
    byol__sgd_opts o = { 0.9, 0.0, 5e-4, 0, 0 };
    return o;
}

typedef struct sgd_ctx {
    float *p, *buf;        /* buf NULL: no momentum */
    const float *g;
    double wd, m, keep, lr; /* keep = 1 - dampening */
    int first, nesterov;
} sgd_ctx;

/* p, g, buf [i0, i1): d = g + wd*p; with momentum buf = first ? d :
 * m*buf + keep*d and d = nesterov ? d + m*buf : buf; then p -= lr*d. The
 * stored (rounded) buf is what enters d, as in PyTorch. */
static void sgd_block(void *vc, int64_t b, int64_t i0, int64_t i1)
{
    const sgd_ctx *c = vc;
    (void)b;
    for (int64_t i = i0; i < i1; i++) {
        double d = (double)c->g[i] + c->wd * (double)c->p[i];
        if (c->buf) {
            float nb = (float)(c->first ? d : c->m * (double)c->buf[i] + c->keep * d);
            c->buf[i] = nb;
            d = c->nesterov ? d + c->m * (double)nb : (double)nb;
        }
        c->p[i] = (float)((double)c->p[i] - c->lr * d);
    }
}

static void sgd_tensor(byol__optim *s, const byol__param_span *sp, float *params,
                       const float *grads, double lr)
{
    const byol__sgd_opts *o = byol__optim_opts(s);
    int no_decay = byol__span_excluded(sp, o->exclude_bias_norm);
    sgd_ctx c = { params + sp->offset, s->buf[0] ? s->buf[0] + sp->offset : NULL,
                  grads + sp->offset, no_decay ? 0.0 : o->weight_decay,
                  o->momentum, 1.0 - o->dampening, lr, s->steps == 0, o->nesterov };
    byol__optim_for_blocks(sp->numel, sgd_block, &c);
}

/* optim.name=sgd: the trainer's SGD, no dampening; optim.wd_exclude=auto
 * decays every tensor, as torch.optim.SGD; Nesterov only with momentum
 * (which it needs). */
static int from_config(const byol_config *cfg, int64_t count, byol__optim **out)
{
    double m = byol__cfg_float(cfg, BYOL__K_OPTIM_MOMENTUM);
    byol__sgd_opts o = { m, 0, byol__cfg_float(cfg, BYOL__K_OPTIM_WEIGHT_DECAY),
                         (int)byol__cfg_int(cfg, BYOL__K_OPTIM_NESTEROV) && m > 0,
                         byol__optim_wd_exclude(cfg, 0) };
    return byol__sgd_create(&o, count, out);
}

const byol__optim_ops byol__sgd_ops = {
    "sgd", sizeof(byol__sgd_opts), { "momentum_buffer", NULL }, check_opts, from_config,
    sgd_tensor,
};

/* PyTorch keeps no buffer without momentum; neither do we. */
int byol__sgd_create(const byol__sgd_opts *opts, int64_t count, byol__optim **out)
{
    byol__sgd_opts o = opts ? *opts : byol__sgd_defaults();
    return byol__optim_new(&byol__sgd_ops, &o, o.momentum > 0, count, out);
}
