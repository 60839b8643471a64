/* Aligned allocation through the user's hook. Each block carries a header
 * recording the allocator that made it, so frees go to the right place even
 * after the hook changes. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define BYOL__ALIGN 64

typedef struct block_header {
    void (*free_fn)(void *ptr, void *user);
    void *user;
    void *base;          /* what the allocator returned */
} block_header;

static void *default_alloc(size_t size, size_t align, void *user)
{
    (void)user;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    return p;
}

static void default_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static byol_allocator current = {
    sizeof(byol_allocator), 0, default_alloc, default_free, NULL
};

int byol_set_allocator(const byol_allocator *a)
{
    if (!a) {
        current.alloc = default_alloc;
        current.free = default_free;
        current.user = NULL;
        return BYOL_OK;
    }
    if (a->struct_size < sizeof(byol_allocator))
        return byol__err(BYOL_E_ABI, "byol_set_allocator: struct_size %u < %zu",
                         (unsigned)a->struct_size, sizeof(byol_allocator));
    if (!a->alloc || !a->free)
        return byol__err(BYOL_E_INVALID_ARG,
                         "byol_set_allocator: alloc and free must both be set");
    current.alloc = a->alloc;
    current.free = a->free;
    current.user = a->user;
    return BYOL_OK;
}

int byol__mul_size(size_t a, size_t b, size_t *out)
{
    if (b != 0 && a > SIZE_MAX / b)
        return -1;
    *out = a * b;
    return 0;
}

void *byol__malloc(size_t size)
{
    /* The header sits in the BYOL__ALIGN bytes before the returned pointer. */
    if (size > SIZE_MAX - BYOL__ALIGN)
        return NULL;
    void *base = current.alloc(size + BYOL__ALIGN, BYOL__ALIGN, current.user);
    if (!base)
        return NULL;
    char *p = (char *)base + BYOL__ALIGN;
    block_header h = { current.free, current.user, base };
    memcpy(p - sizeof h, &h, sizeof h);
    return p;
}

void *byol__calloc(size_t count, size_t size)
{
    size_t total;
    if (byol__mul_size(count, size, &total))
        return NULL;
    void *p = byol__malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void byol__free(void *ptr)
{
    if (!ptr)
        return;
    block_header h;
    memcpy(&h, (char *)ptr - sizeof h, sizeof h);
    h.free_fn(h.base, h.user);
}

void byol_free(void *ptr) { byol__free(ptr); }

char *byol__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = byol__malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}
