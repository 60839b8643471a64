/* A net's state_dict as safetensors entries (PyTorch's names, in
 * PyTorch's order), with a name prefix so that one file can hold several
 * nets (a trainer checkpoint) as well as one (weights: byol_net_save). */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "io/safetensors.h"
#include "nn/graph.h"

/* Settings byol_net_export() records beside the weights. */
#define BYOL__EXPORT_KEYS 8

static void entry_name(char *buf, size_t len, const char *prefix, const char *name,
                       const char *suffix)
{
    snprintf(buf, len, "%s%s%s", prefix, name, suffix);
}

int byol__nn_entries(const byol_net *net, const char *prefix, byol__st_list *l)
{
    int rc = BYOL_OK;
    for (int64_t t = 0; rc == BYOL_OK && t < net->ntensors; t++) {
        const byol__tensor *src = &net->tensors[t];
        char name[512];
        entry_name(name, sizeof name, prefix, src->name, "");
        const float *data = (src->buffer == BYOL_BUFFER_PARAMS ? net->params : net->state) + src->offset;
        rc = byol__st_list_add(l, name, BYOL__ST_F32, src->ndim, src->shape, data,
                               (size_t)src->numel * sizeof(float));
        const byol__node *nd = &net->nodes[src->node];
        /* PyTorch's order: num_batches_tracked right after running_var */
        if (rc == BYOL_OK && nd->op == BYOL__OP_BN && src->buffer == BYOL_BUFFER_STATE &&
            src->offset == nd->var_off) {
            entry_name(name, sizeof name, prefix, nd->name, ".num_batches_tracked");
            rc = byol__st_list_add(l, name, BYOL__ST_I64, 0, NULL, &net->counters[nd->counter],
                                   sizeof(int64_t));
        }
    }
    return rc;
}

/* The weights with n_meta metadata pairs: PyTorch's "format" and the
 * producer first, then `extra` (n_extra pairs). */
static int save_with(const byol_net *net, const char *path, const char *const *extra,
                     size_t n_extra)
{
    const char *meta[2 * (2 + BYOL__EXPORT_KEYS)] = { "format", "pt", "producer",
                                                       "libbyol " BYOL_VERSION_STRING };
    for (size_t k = 0; k < 2 * n_extra; k++)
        meta[4 + k] = extra[k];
    byol__st_list l = { 0 };
    int rc = byol__nn_entries(net, "", &l);
    if (rc == BYOL_OK)
        rc = byol__st_write(path, l.t, l.n, meta, 2 + n_extra);
    else
        rc = byol__err(rc, "%s: out of memory", path);
    byol__st_list_free(&l);
    return rc;
}

int byol_net_save(const byol_net *net, const char *path)
{
    if (!net || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_save: NULL argument");
    if (!*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_save: empty path");
    return save_with(net, path, NULL, 0);
}

/* The settings that describe an encoder to a reader: what it is (arch,
 * width) and what its inputs are (channels, size, normalisation). */
static const char *const export_keys[BYOL__EXPORT_KEYS] = {
    "net.arch", "net.width", "net.in_channels", "net.image_size", "data.channels",
    "augment.size", "augment.mean", "augment.std",
};

int byol_net_export(const byol_net *net, const byol_config *cfg, const char *path)
{
    if (!net || !cfg || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_export: NULL argument");
    if (!*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_export: empty path");
    byol_config *described;
    int rc = byol_config_copy(cfg, &described);
    if (rc != BYOL_OK)
        return rc;
    /* The input the net takes, not the config's 0 ("the architecture's own"). */
    const byol__node *in = &net->nodes[0];
    if (in->rank == 4)
        rc = byol_config_set_int(described, "net.in_channels", in->c);
    if (rc == BYOL_OK && in->rank == 4)
        rc = byol_config_set_int(described, "net.image_size", in->h);
    char values[BYOL__EXPORT_KEYS][256];
    const char *meta[2 * BYOL__EXPORT_KEYS];
    for (int k = 0; rc == BYOL_OK && k < BYOL__EXPORT_KEYS; k++) {
        meta[2 * k] = export_keys[k];
        meta[2 * k + 1] = values[k];
        if (byol_config_format(described, export_keys[k], values[k], sizeof values[k]) >= 256)
            rc = byol__err(BYOL_E_RANGE, "byol_net_export: %s is too long", export_keys[k]);
    }
    byol_config_destroy(described);
    if (rc == BYOL_OK)
        rc = save_with(net, path, meta, BYOL__EXPORT_KEYS);
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
                         byol__st_dtype_name(t->dtype), byol__st_dtype_name(dtype));
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

int byol__nn_check_finite(const byol__st_file *f, const byol__st_tensor *e)
{
    const unsigned char *p = e->data;
    for (size_t i = 0; i < e->nbytes / sizeof(float); i++) {
        uint32_t bits;
        memcpy(&bits, p + i * sizeof bits, sizeof bits);   /* the data may be unaligned */
        if ((bits & 0x7f800000u) == 0x7f800000u)
            return byol__err(BYOL_E_FORMAT, "%s: tensor '%s' holds %s at index %zu; a "
                             "non-finite value is refused", byol__st_label(f), e->name,
                             bits & 0x007fffffu ? "NaN" : "an infinity", i);
    }
    return BYOL_OK;
}

int byol__nn_read_entries(byol_net *net, const byol__st_file *f, const char *prefix, int copy,
                           int64_t *matched)
{
    char name[512];
    for (int64_t t = 0; t < net->ntensors; t++) {
        const byol__tensor *src = &net->tensors[t];
        const byol__st_tensor *e = NULL;
        entry_name(name, sizeof name, prefix, src->name, "");
        int rc = check_entry(f, name, BYOL__ST_F32, src->ndim, src->shape, &e);
        if (rc == BYOL_OK && !copy)
            rc = byol__nn_check_finite(f, e);
        if (rc != BYOL_OK)
            return rc;
        if (copy)
            memcpy((src->buffer == BYOL_BUFFER_PARAMS ? net->params : net->state) + src->offset,
                   e->data, e->nbytes);
        (*matched)++;
    }
    for (int32_t i = 0; i < net->nnodes; i++) {
        byol__node *nd = &net->nodes[i];
        const byol__st_tensor *e = NULL;
        if (nd->op != BYOL__OP_BN)
            continue;
        entry_name(name, sizeof name, prefix, nd->name, ".num_batches_tracked");
        int rc = check_entry(f, name, BYOL__ST_I64, 0, NULL, &e);
        if (rc != BYOL_OK)
            return rc;
        if (copy)
            memcpy(&net->counters[nd->counter], e->data, sizeof(int64_t));
        (*matched)++;
    }
    if (copy)
        net->fwd_batch = 0;
    return BYOL_OK;
}

/* The BatchNorm node whose num_batches_tracked entry is called `name`, or NULL. */
static const byol__node *counter_node(const byol_net *net, const char *name)
{
    for (int32_t i = 0; i < net->nnodes; i++) {
        char buf[512];
        if (net->nodes[i].op != BYOL__OP_BN)
            continue;
        entry_name(buf, sizeof buf, "", net->nodes[i].name, ".num_batches_tracked");
        if (!strcmp(buf, name))
            return &net->nodes[i];
    }
    return NULL;
}

int byol__nn_has_entry(const byol_net *net, const char *name)
{
    for (int64_t t = 0; t < net->ntensors; t++)
        if (!strcmp(net->tensors[t].name, name))
            return 1;
    return counter_node(net, name) != NULL;
}

int byol_net_counter(const byol_net *net, const char *name, int64_t *value)
{
    if (!net || !name || !value)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_counter: NULL argument");
    const byol__node *nd = counter_node(net, name);
    if (!nd)
        return byol__err(BYOL_E_KEY, "byol_net_counter: the net has no BatchNorm counter '%s' "
                         "(names are '<layer>.num_batches_tracked')", name);
    *value = net->counters[nd->counter];
    return BYOL_OK;
}

/* Flags other than the BYOL_LOAD_* bits are refused: a caller passing a
 * bit of a later version would otherwise get another load than it asked for. */
static int check_flags(const char *fn, uint32_t flags)
{
    const uint32_t known = BYOL_LOAD_IGNORE_UNEXPECTED | BYOL_LOAD_IGNORE_CLASSIFIER;
    if (flags & ~known)
        return byol__err(BYOL_E_INVALID_ARG, "%s: unknown flag bits 0x%x in flags 0x%x (known: "
                         "BYOL_LOAD_IGNORE_UNEXPECTED 0x1, BYOL_LOAD_IGNORE_CLASSIFIER 0x2)",
                         fn, (unsigned)(flags & ~known), (unsigned)flags);
    return BYOL_OK;
}

/* Validates every entry first, then copies, so a failure changes nothing. */
static int load_from(byol_net *net, const byol__st_file *f, uint32_t flags)
{
    int64_t matched = 0;
    int rc = byol__nn_read_entries(net, f, "", 0, &matched);
    if (rc != BYOL_OK)
        return rc;
    if (!(flags & BYOL_LOAD_IGNORE_UNEXPECTED) && matched != (int64_t)byol__st_count(f)) {
        for (size_t k = 0; k < byol__st_count(f); k++) {
            const char *name = byol__st_get(f, k)->name;
            if (!byol__nn_has_entry(net, name) &&
                !((flags & BYOL_LOAD_IGNORE_CLASSIFIER) && !strncmp(name, "fc.", 3)))
                return byol__err(BYOL_E_FORMAT, "%s: unexpected tensor '%s' (the network has "
                                 "no such entry; BYOL_LOAD_IGNORE_UNEXPECTED skips it%s)",
                                 byol__st_label(f), name, strncmp(name, "fc.", 3) ? "" :
                                 ", BYOL_LOAD_IGNORE_CLASSIFIER a classifier's fc.*");
        }
    }
    return byol__nn_read_entries(net, f, "", 1, &matched);
}


int byol_net_load(byol_net *net, const char *path, uint32_t flags)
{
    if (!net || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_load: NULL argument");
    if (!*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_load: empty path");
    int rc = check_flags("byol_net_load", flags);
    if (rc != BYOL_OK)
        return rc;
    byol__st_file *f;
    rc = byol__st_open(path, &f);
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
    int rc = check_flags("byol_net_load_buffer", flags);
    if (rc != BYOL_OK)
        return rc;
    byol__st_file *f;
    rc = byol__st_open_buffer(data, len, "<buffer>", &f);
    if (rc != BYOL_OK)
        return rc;
    rc = load_from(net, f, flags);
    byol__st_close(f);
    return rc;
}
