/* A net's state_dict as safetensors entries, with a name prefix, so one file
 * can hold several nets (a trainer checkpoint) as well as one (weights). */
#ifndef BYOL_IO_NET_IO_H
#define BYOL_IO_NET_IO_H

#include "io/safetensors.h"
#include "nn/graph.h"

/* A growing list of entries to write; it owns names and counter values. */
typedef struct byol__st_list {
    byol__st_tensor *t;
    size_t n, cap;
} byol__st_list;

void byol__st_list_free(byol__st_list *l);
/* Appends an entry, copying name (and, for an I64 scalar, the value). */
int byol__st_list_add(byol__st_list *l, const char *name, int32_t dtype, int32_t ndim,
                      const int64_t *shape, const void *data, size_t nbytes);
/* Appends net's state_dict (parameters, running statistics, counters) as
 * "<prefix><name>". */
int byol__net_entries(const byol_net *net, const char *prefix, byol__st_list *l);
/* Checks that f holds every entry of net under prefix (dtype and shape), and
 * with copy != 0 copies them in. Returns the number of entries matched. */
int byol__net_read_entries(byol_net *net, const byol__st_file *f, const char *prefix, int copy,
                           int64_t *matched);

#endif
