/* Weight files of a byol_net: safetensors with PyTorch state_dict names. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "io/safetensors.h"
#include "nn/graph.h"

/* state_dict entries: the float tensors plus one num_batches_tracked per BN. */
static int64_t entry_count(const byol_net *net)
{
    int64_t n = net->ntensors;
    for (int32_t i = 0; i < net->nnodes; i++)
        n += net->nodes[i].op == BYOL__OP_BN;
    return n;
}

static void counter_name(const byol__node *n, char *buf, size_t len)
{
    snprintf(buf, len, "%s.num_batches_tracked", n->name);
}

int byol_net_save(const byol_net *net, const char *path)
{
    if (!net || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_save: NULL argument");
    int64_t n = entry_count(net), nbn = n - net->ntensors;
    byol__st_tensor *ts = byol__calloc((size_t)n, sizeof *ts);
    int64_t *counts = byol__calloc((size_t)(nbn ? nbn : 1), sizeof *counts);
    char *names = byol__calloc((size_t)(nbn ? nbn : 1), 256);
    if (!ts || !counts || !names) {
        byol__free(ts);
        byol__free(counts);
        byol__free(names);
        return byol__err(BYOL_E_NOMEM, "byol_net_save: %s: out of memory", path);
    }
    int64_t k = 0, b = 0;
    for (int64_t t = 0; t < net->ntensors; t++) {
        const byol__tensor *src = &net->tensors[t];
        byol__st_tensor *d = &ts[k++];
        d->name = src->name;
        d->dtype = BYOL__ST_F32;
        d->ndim = src->ndim;
        memcpy(d->shape, src->shape, sizeof src->shape);
        d->data = (src->buffer == BYOL_BUFFER_PARAMS ? net->params : net->state) + src->offset;
        d->nbytes = (size_t)src->numel * sizeof(float);
        const byol__node *nd = &net->nodes[src->node];
        if (nd->op == BYOL__OP_BN && src->offset == nd->var_off &&
            src->buffer == BYOL_BUFFER_STATE) {
            counts[b] = nd->batches_tracked;
            counter_name(nd, names + 256 * b, 256);
            byol__st_tensor *c = &ts[k++];
            c->name = names + 256 * b;
            c->dtype = BYOL__ST_I64;
            c->ndim = 0;
            c->data = &counts[b];
            c->nbytes = sizeof(int64_t);
            b++;
        }
    }
    static const char *const meta[] = { "format", "pt", "producer", "libbyol " BYOL_VERSION_STRING };
    int rc = byol__st_write(path, ts, (size_t)n, meta, 2);
    byol__free(ts);
    byol__free(counts);
    byol__free(names);
    return rc;
}

/* ---- load ------------------------------------------------------------------ */

static int check_entry(const byol__st_file *f, const char *name, int32_t dtype, int32_t ndim,
                       const int64_t *shape, const byol__st_tensor **out)
{
    const char *label = byol__st_label(f);
    const byol__st_tensor *t = byol__st_find(f, name);
    if (!t)
        return byol__err(BYOL_E_FORMAT, "%s: missing tensor '%s'", label, name);
    if (t->dtype != dtype)
        return byol__err(BYOL_E_FORMAT, "%s: tensor '%s' has dtype %s, expected %s", label, name,
                         t->dtype == BYOL__ST_F32 ? "F32" : t->dtype == BYOL__ST_I64 ? "I64" : "other",
                         dtype == BYOL__ST_F32 ? "F32" : "I64");
    int ok = t->ndim == ndim || (dtype == BYOL__ST_I64 && t->ndim == 1 && t->shape[0] == 1);
    for (int32_t d = 0; ok && d < ndim && t->ndim == ndim; d++)
        ok = t->shape[d] == shape[d];
    if (!ok) {
        char got[128] = "", want[128] = "";
        for (int32_t d = 0; d < t->ndim && d < 8; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), d ? ",%lld" : "%lld",
                     (long long)t->shape[d]);
        for (int32_t d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), d ? ",%lld" : "%lld",
                     (long long)shape[d]);
        return byol__err(BYOL_E_FORMAT, "%s: tensor '%s' has shape [%s], the network needs [%s]",
                         label, name, got, want);
    }
    *out = t;
    return BYOL_OK;
}

/* Validates every entry first, then copies, so a failure changes nothing. */
static int load_from(byol_net *net, const byol__st_file *f, uint32_t flags)
{
    int64_t matched = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t t = 0; t < net->ntensors; t++) {
            const byol__tensor *src = &net->tensors[t];
            const byol__st_tensor *e = NULL;
            int rc = check_entry(f, src->name, BYOL__ST_F32, src->ndim, src->shape, &e);
            if (rc != BYOL_OK)
                return rc;
            if (pass == 1)
                memcpy((src->buffer == BYOL_BUFFER_PARAMS ? net->params : net->state) + src->offset,
                       e->data, e->nbytes);
            matched += pass == 0;
        }
        for (int32_t i = 0; i < net->nnodes; i++) {
            byol__node *nd = &net->nodes[i];
            if (nd->op != BYOL__OP_BN)
                continue;
            char name[256];
            const byol__st_tensor *e = NULL;
            counter_name(nd, name, sizeof name);
            int rc = check_entry(f, name, BYOL__ST_I64, 0, NULL, &e);
            if (rc != BYOL_OK)
                return rc;
            if (pass == 1)
                memcpy(&nd->batches_tracked, e->data, sizeof(int64_t));
            matched += pass == 0;
        }
        if (pass == 0 && !(flags & BYOL_LOAD_IGNORE_UNEXPECTED) &&
            matched != (int64_t)byol__st_count(f)) {
            for (size_t k = 0; k < byol__st_count(f); k++) {
                const char *name = byol__st_get(f, k)->name;
                if (!byol__net_has_entry(net, name))
                    return byol__err(BYOL_E_FORMAT, "%s: unexpected tensor '%s' (the network has "
                                     "no such entry; BYOL_LOAD_IGNORE_UNEXPECTED skips it)",
                                     byol__st_label(f), name);
            }
        }
    }
    net->fwd_batch = 0;
    return BYOL_OK;
}

int byol__net_has_entry(const byol_net *net, const char *name)
{
    for (int64_t t = 0; t < net->ntensors; t++)
        if (!strcmp(net->tensors[t].name, name))
            return 1;
    for (int32_t i = 0; i < net->nnodes; i++) {
        char buf[256];
        if (net->nodes[i].op != BYOL__OP_BN)
            continue;
        counter_name(&net->nodes[i], buf, sizeof buf);
        if (!strcmp(buf, name))
            return 1;
    }
    return 0;
}

int byol_net_load(byol_net *net, const char *path, uint32_t flags)
{
    if (!net || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_load: NULL argument");
    byol__st_file *f;
    int rc = byol__st_open(path, &f);
    if (rc != BYOL_OK)
        return rc;
    rc = load_from(net, f, flags);
    byol__st_close(f);
    return rc;
}

int byol_net_load_buffer(byol_net *net, const void *data, size_t len, uint32_t flags)
{
    if (!net || !data)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_load_buffer: NULL argument");
    byol__st_file *f;
    int rc = byol__st_open_buffer(data, len, "<buffer>", &f);
    if (rc != BYOL_OK)
        return rc;
    rc = load_from(net, f, flags);
    byol__st_close(f);
    return rc;
}
