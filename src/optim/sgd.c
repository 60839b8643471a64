/* SGD with momentum as torch.optim.SGD does it (maximize off).
 *
 * PyTorch creates the momentum buffer on a parameter's first step as a copy
 * of the (decayed) gradient, undampened; later steps dampen. That is kept
 * exactly: it differs from a zero-initialised buffer when dampening > 0.
 * Weight decay is coupled (added to the gradient). Element arithmetic is in
 * double, rounded to float once per stored value. */
#include <math.h>

#include "core/internal.h"
#include "optim/optim.h"

struct byol__sgd {
    byol__sgd_opts o;
    int64_t count;
    int64_t steps;
    float *buf;      /* momentum_buffer, same layout as the params; NULL if momentum 0 */
};

byol__sgd_opts byol__sgd_defaults(void)
{
    byol__sgd_opts o = { 0.9, 0.0, 5e-4, 0, 0 };
    return o;
}

static int check_opts(const byol__sgd_opts *o)
{
    /* Written so that NaN fails every test. */
    if (!(o->momentum >= 0 && o->momentum <= 1))
        return byol__err(BYOL_E_RANGE, "sgd: momentum %g must be in [0, 1]", o->momentum);
    if (!(o->dampening >= 0 && o->dampening <= 1))
        return byol__err(BYOL_E_RANGE, "sgd: dampening %g must be in [0, 1]", o->dampening);
    if (!(o->weight_decay >= 0 && isfinite(o->weight_decay)))
        return byol__err(BYOL_E_RANGE, "sgd: weight_decay %g must be finite and >= 0",
                         o->weight_decay);
    if (o->nesterov != 0 && o->nesterov != 1)
        return byol__err(BYOL_E_RANGE, "sgd: nesterov %d must be 0 or 1", o->nesterov);
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return byol__err(BYOL_E_RANGE,
                         "sgd: Nesterov momentum needs momentum > 0 and dampening 0 "
                         "(got %g, %g)", o->momentum, o->dampening);
    if (o->exclude_bias_norm != 0 && o->exclude_bias_norm != 1)
        return byol__err(BYOL_E_RANGE, "sgd: exclude_bias_norm %d must be 0 or 1",
                         o->exclude_bias_norm);
    return BYOL_OK;
}

int byol__sgd_create(const byol__sgd_opts *opts, int64_t count, byol__sgd **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "sgd: out must not be NULL");
    *out = NULL;
    byol__sgd_opts o = opts ? *opts : byol__sgd_defaults();
    int rc = check_opts(&o);
    if (rc != BYOL_OK)
        return rc;
    if (count < 0)
        return byol__err(BYOL_E_INVALID_ARG, "sgd: negative buffer length %lld",
                         (long long)count);
    byol__sgd *s = byol__calloc(1, sizeof *s);
    /* PyTorch keeps no buffer without momentum; neither do we. */
    float *buf = s && o.momentum > 0 ? byol__optim_zeros(count) : NULL;
    if (!s || (o.momentum > 0 && !buf)) {
        byol__free(s);
        byol__free(buf);
        return byol__err(BYOL_E_NOMEM, "sgd: out of memory for %lld momentum floats",
                         (long long)count);
    }
    s->o = o;
    s->count = count;
    s->buf = buf;
    *out = s;
    return BYOL_OK;
}

void byol__sgd_destroy(byol__sgd *s)
{
    if (!s)
        return;
    byol__free(s->buf);
    byol__free(s);
}

void byol__sgd_state(byol__sgd *s, byol__optim_state *out)
{
    out->nbuf = s->buf ? 1 : 0;
    out->count = s->count;
    out->buf[0] = s->buf;
    out->buf[1] = NULL;
    out->name[0] = s->buf ? "momentum_buffer" : NULL;
    out->name[1] = NULL;
    out->steps = &s->steps;
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

static void sgd_tensor(byol__sgd *s, const byol__param_span *sp, float *params,
                       const float *grads, double lr)
{
    if (sp->numel == 0)
        return;
    int no_decay = s->o.exclude_bias_norm && byol__span_excluded(sp);
    sgd_ctx c = { params + sp->offset, s->buf ? s->buf + sp->offset : NULL,
                  grads + sp->offset, no_decay ? 0.0 : s->o.weight_decay,
                  s->o.momentum, 1.0 - s->o.dampening, lr, s->steps == 0, s->o.nesterov };
    byol__optim_for_blocks(sp->numel, sgd_block, &c);
}

int byol__sgd_step(byol__sgd *s, const byol__param_span *spans, int64_t nspans,
                   float *params, const float *grads, double lr)
{
    if (!s)
        return byol__err(BYOL_E_INVALID_ARG, "sgd: NULL optimizer");
    int rc = byol__optim_check_step("sgd", s->count, spans, nspans, params, grads, lr);
    if (rc != BYOL_OK)
        return rc;
    for (int64_t i = 0; i < nspans; i++)
        sgd_tensor(s, &spans[i], params, grads, lr);
    s->steps++;
    return BYOL_OK;
}
