/* byol_net: mode, shapes, flat buffers, BatchNorm state, destroy. */
#include <stdio.h>
#include <string.h>

#include "core/internal.h"
#include "nn/graph.h"

void byol_net_destroy(byol_net *net)
{
    if (!net)
        return;
    for (int32_t i = 0; i < net->nnodes; i++)
        byol__free(net->nodes[i].name);
    for (int64_t t = 0; t < net->ntensors; t++)
        byol__free(net->tensors[t].name);
    byol__free(net->nodes);
    byol__free(net->tensors);
    if (!net->borrowed) {
        byol__free(net->params);
        byol__free(net->grads);
    }
    byol__free(net->state);
    if (!net->arena_borrowed)
        byol__free(net->arena);
    byol__free(net);
}

void byol__nn_modes(const byol_net *net, char *buf, size_t n)
{
    int32_t w = net->opts.conv_winograd;
    snprintf(buf, n, "nn.conv_algo=%s nn.precision=%s",
             w == 4 ? "winograd" : w == 2 ? "winograd2" : "im2col", net->opts.bf16 ? "bf16" : "fp32");
}

int byol_net_set_training(byol_net *net, int32_t training)
{
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_set_training: net is NULL");
    net->training = training != 0;
    net->fwd_batch = 0;
    return BYOL_OK;
}

int byol_net_input_dims(const byol_net *net, int64_t dims[3])
{
    if (!net || !dims)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_input_dims: NULL argument");
    dims[0] = net->nodes[0].c;
    dims[1] = net->nodes[0].h;
    dims[2] = net->nodes[0].w;
    return BYOL_OK;
}

int byol_net_output_dims(const byol_net *net, int32_t *ndim, int64_t dims[3])
{
    if (!net || !ndim || !dims)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_output_dims: NULL argument");
    const byol__node *o = &net->nodes[net->output];
    *ndim = o->rank == 4 ? 3 : 1;
    dims[0] = o->c;
    dims[1] = o->rank == 4 ? o->h : 1;
    dims[2] = o->rank == 4 ? o->w : 1;
    return BYOL_OK;
}

int byol_net_zero_grad(byol_net *net)
{
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_zero_grad: net is NULL");
    memset(net->grads, 0, (size_t)net->nparams * sizeof(float));
    return BYOL_OK;
}

float *byol_net_buffer(byol_net *net, int32_t which, int64_t *count)
{
    if (!net) {
        byol__err(BYOL_E_INVALID_ARG, "byol_net_buffer: net is NULL");
        return NULL;
    }
    float *p = which == BYOL_BUFFER_PARAMS ? net->params
             : which == BYOL_BUFFER_GRADS ? net->grads
             : which == BYOL_BUFFER_STATE ? net->state : NULL;
    if (!p) {
        byol__err(BYOL_E_INVALID_ARG, "byol_net_buffer: unknown buffer %d", (int)which);
        return NULL;
    }
    if (count)
        *count = which == BYOL_BUFFER_STATE ? net->nstate : net->nparams;
    return p;
}

int64_t byol_net_tensor_count(const byol_net *net) { return net ? net->ntensors : 0; }

int byol_net_tensor_info(const byol_net *net, int64_t index, byol_tensor_info *info)
{
    if (!net || !info)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_tensor_info: NULL argument");
    if (info->struct_size < sizeof *info)
        return byol__err(BYOL_E_ABI, "byol_net_tensor_info: struct_size %u < %zu",
                         (unsigned)info->struct_size, sizeof *info);
    if (index < 0 || index >= net->ntensors)
        return byol__err(BYOL_E_RANGE, "byol_net_tensor_info: index %lld outside [0, %lld)",
                         (long long)index, (long long)net->ntensors);
    const byol__tensor *t = &net->tensors[index];
    info->buffer = t->buffer;
    info->name = t->name;
    info->ndim = t->ndim;
    info->flags = t->flags;
    for (int d = 0; d < 4; d++)
        info->shape[d] = d < t->ndim ? t->shape[d] : 0;
    info->offset = t->offset;
    info->numel = t->numel;
    return BYOL_OK;
}

int byol_net_set_cancel(byol_net *net, byol_cancel_fn fn, void *user)
{
    if (!net)
        return byol__err(BYOL_E_INVALID_ARG, "byol_net_set_cancel: net is NULL");
    net->cancel = fn;
    net->cancel_user = user;
    return BYOL_OK;
}

int64_t byol__nn_param_count(const byol_net *net) { return net->nparams; }

int64_t byol__nn_planned_batch(const byol_net *net) { return net->max_batch; }

int64_t byol__nn_input_size(const byol_net *net) { return byol__node_size(&net->nodes[0]); }

int byol__nn_input_is_map(const byol_net *net) { return net->nodes[0].rank == 4; }

int byol__nn_training(const byol_net *net) { return net->training; }

float *byol__nn_input_buffer(byol_net *net) { return net->in_slot; }

size_t byol__net_counters_offset(const byol_net *net)
{
    /* the running statistics and one extra float (never an empty buffer),
     * rounded up to the counters' alignment */
    return (((size_t)net->nstate + 1) * sizeof(float) + 7) & ~(size_t)7;
}

size_t byol__nn_state_bytes(const byol_net *net)
{
    return byol__net_counters_offset(net) + (size_t)net->ncounters * sizeof(int64_t);
}

void byol__nn_state_save(const byol_net *net, void *buf)
{
    memcpy(buf, net->state, byol__nn_state_bytes(net));
}

void byol__nn_state_restore(byol_net *net, const void *buf)
{
    memcpy(net->state, buf, byol__nn_state_bytes(net));
}

void byol__nn_use_buffers(byol_net *net, float *params, float *grads)
{
    memcpy(params, net->params, (size_t)net->nparams * sizeof(float));
    if (grads)
        memcpy(grads, net->grads, (size_t)net->nparams * sizeof(float));
    if (!net->borrowed) {
        byol__free(net->params);
        byol__free(net->grads);
    }
    net->params = params;
    net->grads = grads;
    net->borrowed = 1;
}
