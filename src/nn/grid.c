/* eval.grid: an embedding that keeps the layout of the map an encoder's
 * final global average pool reads, average-pooled on a G x G grid with the
 * windows of PyTorch's adaptive_avg_pool2d. */
#include "core/internal.h"
#include "nn/graph.h"

/* *map: the map the output's global average pool reads. */
static int grid_map(const byol_net *net, int32_t grid, const byol__node **map)
{
    const byol__node *o = &net->nodes[net->output];
    if (o->op != BYOL__OP_AVGPOOL)
        return byol__err(BYOL_E_SHAPE, "eval.grid=%d needs an encoder whose output is a global "
                         "average pool of a map; this one's output [%lld] is not", (int)grid,
                         (long long)byol__node_size(o));
    const byol__node *s = &net->nodes[o->src[0]];
    if (grid < 1 || grid > s->h || grid > s->w)
        return byol__err(BYOL_E_SHAPE, "eval.grid=%d does not fit the [%lld,%lld,%lld] map the "
                         "encoder's average pool reads (1 .. min(H,W))", (int)grid,
                         (long long)s->c, (long long)s->h, (long long)s->w);
    *map = s;
    return BYOL_OK;
}

int byol__nn_grid_dim(const byol_net *net, int32_t grid, int64_t *dim)
{
    const byol__node *s = NULL;
    int rc = grid_map(net, grid, &s);
    if (rc == BYOL_OK)
        *dim = s->c * grid * grid;
    return rc;
}

/* Window k of n over len pixels, as adaptive_avg_pool2d's:
 * [floor(k*len/n), ceil((k+1)*len/n)). */
static void window(int64_t k, int64_t n, int64_t len, int64_t *lo, int64_t *hi)
{
    *lo = k * len / n;
    *hi = ((k + 1) * len + n - 1) / n;
}

typedef struct grid_args {
    int64_t h, w, c, g;
    const float *x;
    float *y;
} grid_args;

/* Cell `cell` of sample i: a float sum in pixel order, then / pixels. */
static void grid_cell(const grid_args *a, int64_t i, int64_t cell)
{
    const int64_t gg = a->g * a->g, c = a->c;
    int64_t r0, r1, c0, c1;
    window(cell / a->g, a->g, a->h, &r0, &r1);
    window(cell % a->g, a->g, a->w, &c0, &c1);
    float *y = a->y + i * c * gg + cell;
    for (int64_t j = 0; j < c; j++)
        y[j * gg] = 0.0f;
    for (int64_t r = r0; r < r1; r++)
        for (int64_t q = c0; q < c1; q++) {
            const float *xr = a->x + ((i * a->h + r) * a->w + q) * c;
            for (int64_t j = 0; j < c; j++)
                y[j * gg] += xr[j];
        }
    const float count = (float)((r1 - r0) * (c1 - c0));
    for (int64_t j = 0; j < c; j++)
        y[j * gg] /= count;
}

static void grid_range(void *arg, int64_t i0, int64_t i1)
{
    const grid_args *a = arg;
    for (int64_t i = i0; i < i1; i++)
        for (int64_t cell = 0; cell < a->g * a->g; cell++)
            grid_cell(a, i, cell);
}

static void grid_pool(int64_t n, int64_t h, int64_t w, int64_t c, int64_t g, const float *x,
                      float *y)
{
    /* x [n, h, w, c] (NHWC) -> y [n, c, g, g] (NCHW: y[i, j, row, col] at
     * i*c*g*g + j*g*g + row*g + col), adaptive_avg_pool2d(x, g).flatten(1) */
    grid_args a = { .h = h, .w = w, .c = c, .g = g, .x = x, .y = y };
    byol__parallel_for(n, n * h * w * c >= BYOL__PAR_MIN, grid_range, &a);
}

static void emit_grid(const byol_net *net, int64_t nb, void *arg, float *y)
{
    const byol__node *s = &net->nodes[net->nodes[net->output].src[0]];
    grid_pool(nb, s->h, s->w, s->c, *(const int32_t *)arg, s->out, y);
}

int byol__nn_embed_grid(byol_net *net, const float *x, int64_t batch, int32_t grid, float *y)
{
    int64_t dim = 0;
    int rc = byol__nn_grid_dim(net, grid, &dim);
    if (rc == BYOL_OK)
        rc = byol__net_embed_each(net, x, batch, dim, emit_grid, &grid, y, "eval.grid");
    return rc;
}
