/* The optimizer handle: the table of optimizers, creation from a config, and
 * the skeleton every optimizer shares (allocation, step validation and the
 * loop over spans, the checkpoint view, freeing), so that an optimizer's file
 * holds only its options and arithmetic. Also the block runner of the kernels. */
#include <math.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "optim/optim.h"

/* The rows, each defined in its optimizer's file. */
extern const byol__optim_ops byol__lars_ops, byol__sgd_ops, byol__adamw_ops;

/* Every optimizer optim.name can name: adding one is its file and a row. */
static const byol__optim_ops *const table[] = {
    &byol__lars_ops,
    &byol__sgd_ops,
    &byol__adamw_ops,
};

static const byol__optim_ops *find(const char *name)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i]->name, name))
            return table[i];
    return NULL;
}

int byol__optim_create(const byol_config *cfg, int64_t count, byol__optim **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "optim: out must not be NULL");
    *out = NULL;
    const char *name = byol__cfg_str(cfg, BYOL__K_OPTIM_NAME);
    const byol__optim_ops *ops = find(name);
    /* Only if optim.name's choices (config_keys.def) got ahead of the table. */
    if (!ops)
        return byol__err(BYOL_E_KEY, "optim.name: no optimizer '%s' in the table", name);
    int rc = ops->from_config(cfg, count, out);
    if (rc == BYOL_OK)
        (*out)->base_lr = byol__cfg_float(cfg, BYOL__K_OPTIM_LR);
    return rc;
}

int byol__optim_wd_exclude(const byol_config *cfg, int auto_exclude)
{
    const char *v = byol__cfg_str(cfg, BYOL__K_OPTIM_WD_EXCLUDE);
    return !strcmp(v, "auto") ? auto_exclude : !strcmp(v, "bias_norm");
}

double byol__optim_base_lr(const byol__optim *o)
{
    return o->base_lr;
}

/* ---- creation and freeing ------------------------------------------------ */

/* A zeroed moment buffer of count >= 0 floats (never NULL on success, even for
 * count 0), or NULL when out of memory or too large for size_t. */
static float *zeros(int64_t count)
{
    if ((uint64_t)count > SIZE_MAX / sizeof(float))
        return NULL;
    return byol__calloc(count > 0 ? (size_t)count : 1, sizeof(float));
}

/* The handle with its options and moment buffers, or NULL (nothing kept)
 * when out of memory. */
static byol__optim *alloc(const byol__optim_ops *ops, const void *opts, int32_t nbuf,
                          int64_t count)
{
    byol__optim *o = byol__calloc(1, sizeof *o + ops->opts_size);
    if (!o)
        return NULL;
    o->ops = ops;
    o->count = count;
    o->nbuf = nbuf;
    memcpy(o->opts, opts, ops->opts_size);
    for (int32_t b = 0; b < nbuf; b++) {
        o->buf[b] = zeros(count);
        if (!o->buf[b]) {
            byol__optim_destroy(o);
            return NULL;
        }
    }
    return o;
}

int byol__optim_new(const byol__optim_ops *ops, const void *opts, int32_t nbuf,
                    int64_t count, byol__optim **out)
{
    if (!out)
        return byol__err(BYOL_E_INVALID_ARG, "%s: out must not be NULL", ops->name);
    *out = NULL;
    int rc = ops->check(opts);
    if (rc != BYOL_OK)
        return rc;
    if (count < 0)
        return byol__err(BYOL_E_INVALID_ARG, "%s: negative buffer length %lld", ops->name,
                         (long long)count);
    *out = alloc(ops, opts, nbuf, count);
    if (!*out)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %d x %lld moment floats",
                         ops->name, (int)nbuf, (long long)count);
    return BYOL_OK;
}

void byol__optim_destroy(byol__optim *o)
{
    if (!o)
        return;
    for (int b = 0; b < BYOL__OPTIM_MAX_BUFS; b++)
        byol__free(o->buf[b]);
    byol__free(o);
}

void byol__optim_get_state(byol__optim *o, byol__optim_state *out)
{
    out->optimizer = o->ops->name;
    out->nbuf = o->nbuf;
    out->count = o->count;
    for (int b = 0; b < BYOL__OPTIM_MAX_BUFS; b++) {
        out->buf[b] = o->buf[b];
        out->name[b] = b < o->nbuf ? o->ops->bufs[b] : NULL;
    }
    out->steps = &o->steps;
}

const char *byol__optim_buffer_owner(const char *buf)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        for (int b = 0; b < BYOL__OPTIM_MAX_BUFS; b++)
            if (table[i]->bufs[b] && !strcmp(table[i]->bufs[b], buf))
                return table[i]->name;
    return NULL;
}

/* ---- option checks ------------------------------------------------------- */

int byol__optim_need_unit(int rc, const char *who, const char *what, double v)
{
    if (rc == BYOL_OK && !(v >= 0 && v <= 1))
        rc = byol__err(BYOL_E_RANGE, "%s: %s %g must be in [0, 1]", who, what, v);
    return rc;
}

int byol__optim_need_nonneg(int rc, const char *who, const char *what, double v)
{
    if (rc == BYOL_OK && !(v >= 0 && isfinite(v)))
        rc = byol__err(BYOL_E_RANGE, "%s: %s %g must be finite and >= 0", who, what, v);
    return rc;
}

int byol__optim_need_flag(int rc, const char *who, const char *what, int v)
{
    if (rc == BYOL_OK && v != 0 && v != 1)
        rc = byol__err(BYOL_E_RANGE, "%s: %s %d must be 0 or 1", who, what, v);
    return rc;
}

/* ---- stepping ------------------------------------------------------------- */

/* Non-NULL buffers, a finite lr >= 0, spans inside [0, count), ascending and
 * disjoint (overlapping spans would update an element twice and make the
 * parallel loops race); who names the optimizer in the message. */
static int check_step(const char *who, int64_t count, const byol__param_span *spans,
                      int64_t nspans, const float *params, const float *grads, double lr)
{
    if (!params || !grads)
        return byol__err(BYOL_E_INVALID_ARG, "%s: params and grads must not be NULL", who);
    if (nspans < 0 || (nspans > 0 && !spans))
        return byol__err(BYOL_E_INVALID_ARG, "%s: bad span table (%lld spans, %p)", who,
                         (long long)nspans, (const void *)spans);
    if (!isfinite(lr))
        return byol__err(BYOL_E_NONFINITE, "%s: learning rate is %g", who, lr);
    if (lr < 0)
        return byol__err(BYOL_E_RANGE, "%s: learning rate %g is negative", who, lr);
    int64_t end = 0;
    for (int64_t i = 0; i < nspans; i++) {
        const byol__param_span *s = &spans[i];
        if (s->offset < end || s->numel < 0 || s->numel > count - s->offset)
            return byol__err(BYOL_E_INVALID_ARG,
                             "%s: span %lld (offset %lld, %lld elements) is outside the "
                             "%lld-float buffer or overlaps the span before it",
                             who, (long long)i, (long long)s->offset, (long long)s->numel,
                             (long long)count);
        end = s->offset + s->numel;
    }
    return BYOL_OK;
}

int byol__optim_step(byol__optim *o, const byol__param_span *spans, int64_t nspans,
                     float *params, const float *grads, double lr)
{
    if (!o)
        return byol__err(BYOL_E_INVALID_ARG, "optim: NULL optimizer");
    int rc = check_step(o->ops->name, o->count, spans, nspans, params, grads, lr);
    if (rc != BYOL_OK)
        return rc;
    for (int64_t i = 0; i < nspans; i++)
        if (spans[i].numel > 0)
            o->ops->tensor(o, &spans[i], params, grads, lr);
    o->steps++;
    return BYOL_OK;
}

typedef struct blocks_args {
    int64_t n, len;
    byol__optim_block_fn fn;
    void *ctx;
} blocks_args;

static void blocks_range(void *arg, int64_t b0, int64_t b1)
{
    const blocks_args *p = arg;
    for (int64_t b = b0; b < b1; b++) {
        int64_t i0 = b * p->len;
        p->fn(p->ctx, b, i0, i0 + p->len < p->n ? i0 + p->len : p->n);
    }
}

void byol__optim_for_blocks(int64_t n, byol__optim_block_fn fn, void *ctx)
{
    int64_t len = byol__optim_block_len(n);
    blocks_args p = { n, len, fn, ctx };
    byol__parallel_for((n + len - 1) / len, n >= BYOL__PAR_MIN, blocks_range, &p);
}
