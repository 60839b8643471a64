/* A growing list of safetensors entries to write, for writers that gather
 * tensors from several places (a net's state_dict, a trainer checkpoint). */
#include <string.h>

#include "core/internal.h"
#include "io/safetensors.h"

void byol__st_list_free(byol__st_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        byol__free((char *)(uintptr_t)l->t[i].name);
        if (l->t[i].dtype == BYOL__ST_I64)
            byol__free((void *)(uintptr_t)l->t[i].data);
    }
    byol__free(l->t);
    memset(l, 0, sizeof *l);
}

int byol__st_list_add(byol__st_list *l, const char *name, int32_t dtype, int32_t ndim,
                      const int64_t *shape, const void *data, size_t nbytes)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        byol__st_tensor *t = byol__calloc(cap, sizeof *t);
        if (!t)
            return byol__err(BYOL_E_NOMEM, "out of memory listing tensors");
        if (l->n)
            memcpy(t, l->t, l->n * sizeof *t);
        byol__free(l->t);
        l->t = t;
        l->cap = cap;
    }
    byol__st_tensor *e = &l->t[l->n];
    memset(e, 0, sizeof *e);
    e->name = byol__strdup(name);
    /* counters are copied: the caller's value may be a temporary */
    void *copy = dtype == BYOL__ST_I64 ? byol__malloc(nbytes) : NULL;
    if (!e->name || (dtype == BYOL__ST_I64 && !copy)) {
        byol__free((char *)(uintptr_t)e->name);
        byol__free(copy);
        return byol__err(BYOL_E_NOMEM, "out of memory listing tensors");
    }
    if (copy)
        memcpy(copy, data, nbytes);
    e->dtype = dtype;
    e->ndim = ndim;
    for (int32_t d = 0; d < ndim; d++)
        e->shape[d] = shape[d];
    e->data = copy ? copy : data;
    e->nbytes = nbytes;
    l->n++;
    return BYOL_OK;
}
