/* byol_loader: batches of augmented views, prepared ahead by worker threads.
 *
 * Batches are numbered by one sequence g = epoch * per_epoch + index. A
 * ring of nslots = prefetch + 1 slots holds batches g in [take - 1, issue):
 * the one the consumer holds (until its next call) and up to prefetch
 * being filled or ready. Workers claim single samples of the oldest
 * unfinished slot, so several workers share a batch and finish it first.
 * A sample's pixels depend only on (seed, epoch, dataset index, view), and
 * its place in the batch only on the epoch's order, so the bytes of every
 * batch are the same whatever the worker count or finishing order.
 *
 * Sharding (byol_loader_set_shard) keeps that sequence and cuts each batch
 * of c samples into `ranks` slices, rank r holding positions
 * [r*c/ranks, (r+1)*c/ranks): a slot holds only its rank's slice, so a rank
 * decodes and augments only its own samples, and the slices of all ranks
 * put together are the unsharded batch. A bad image's replacement (index +
 * 1, + 2, ...) depends on nothing but that image's position, so skipping
 * never moves another sample or another rank's slice.
 *
 * One mutex guards the ring; the sample work runs outside it. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "byol/byol_data.h"
#include "core/config.h"
#include "core/internal.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY };

typedef struct slot {
    int state;
    int64_t seq, count, claimed, done;
    int64_t first;           /* position of sample 0 in the global batch */
    int64_t skipped;         /* bad images replaced in this batch */
    int64_t *samples;
    int32_t *labels;
    float *v1, *v2;
    int err_code;            /* first error by sample position, 0 if none */
    int64_t err_pos;
    char err_msg[512];
} slot;

struct byol_loader {
    const byol_dataset *ds;
    byol_augmenter *aug;
    int32_t mode, shuffle, skip, nworkers;
    uint64_t seed;
    int64_t n, batch, per_epoch, sample_floats;
    int32_t rank, ranks;     /* this loader's slice of each batch (1 rank: all) */
    int64_t *order, order_epoch; /* the epoch's sample order (consumer side) */
    int64_t nslots, take, issue;
    slot *slots;
    int64_t skipped;         /* in the batches handed out */
    int stop;
    pthread_mutex_t mu;
    pthread_cond_t work, ready;
    pthread_t *threads;
    int32_t nthreads;
};

static slot *slot_of(byol_loader *ld, int64_t seq) { return &ld->slots[seq % ld->nslots]; }

/* ---- the epoch's order ------------------------------------------------------ */

/* Fisher-Yates from a stream of its own, keyed by (seed, epoch). */
static void make_order(byol_loader *ld, int64_t epoch)
{
    for (int64_t i = 0; i < ld->n; i++)
        ld->order[i] = i;
    if (ld->mode == BYOL_LOADER_TRAIN && ld->shuffle) {
        byol__rng r;
        byol__rng_init(&r, ld->seed, 0x53485546u /* "SHUF" */, (uint32_t)epoch,
                       (uint32_t)((uint64_t)epoch >> 32));
        byol__rng_shuffle(&r, ld->order, ld->n);
    }
    ld->order_epoch = epoch;
}

/* Fills slot seq's sample list and hands it to the workers (lock held). */
static void issue_slot(byol_loader *ld, int64_t seq)
{
    slot *s = slot_of(ld, seq);
    int64_t epoch = seq / ld->per_epoch, first = (seq % ld->per_epoch) * ld->batch;
    if (epoch != ld->order_epoch)
        make_order(ld, epoch);
    int64_t global = ld->n - first < ld->batch ? ld->n - first : ld->batch;
    s->seq = seq;
    s->first = ld->rank * global / ld->ranks;
    s->count = (ld->rank + 1) * global / ld->ranks - s->first;
    for (int64_t j = 0; j < s->count; j++)
        s->samples[j] = ld->order[first + s->first + j];
    s->claimed = s->done = s->skipped = 0;
    s->err_code = 0;
    /* an empty slice (a short last batch cut for many ranks) has no work */
    s->state = s->count > 0 ? SLOT_FILLING : SLOT_READY;
}

/* Issues slots until prefetch batches are ahead of the consumer. */
static void top_up(byol_loader *ld)
{
    int64_t end = ld->mode == BYOL_LOADER_EVAL ? ld->per_epoch : INT64_MAX;
    while (ld->issue < ld->take + ld->nslots - 1 && ld->issue < end)
        issue_slot(ld, ld->issue++);
    pthread_cond_broadcast(&ld->work);
}

/* ---- one sample --------------------------------------------------------------- */

/* Decodes and augments dataset image idx into position j of slot s. */
static int make_sample(byol_loader *ld, slot *s, int64_t j, int64_t idx)
{
    byol_image img = { .struct_size = sizeof img };
    int64_t epoch = s->seq / ld->per_epoch;
    float *v1 = s->v1 + j * ld->sample_floats;
    int rc = byol_dataset_get(ld->ds, idx, &img);
    if (rc == BYOL_OK && ld->mode == BYOL_LOADER_EVAL)
        rc = byol_augmenter_eval(ld->aug, &img, v1);
    else if (rc == BYOL_OK)
        rc = byol_augmenter_view(ld->aug, &img, epoch, idx, 1, v1);
    if (rc == BYOL_OK && ld->mode == BYOL_LOADER_TRAIN)
        rc = byol_augmenter_view(ld->aug, &img, epoch, idx, 2, s->v2 + j * ld->sample_floats);
    if (rc == BYOL_OK)
        rc = byol_dataset_label(ld->ds, idx, &s->labels[j]);
    byol_image_release(&img);
    return rc;
}

/* Sample j of slot s; with on_error=skip a bad image is replaced by the
 * dataset's next ones (index + 1, + 2, ...: a fixed rule, so the bytes
 * stay fixed).
 * Returns the number of bad samples met and the last error. */
static int run_sample(byol_loader *ld, slot *s, int64_t j, int64_t *bad)
{
    int64_t idx = s->samples[j];
    int rc = make_sample(ld, s, j, idx);
    *bad = 0;
    for (int64_t k = 1; rc != BYOL_OK && rc != BYOL_E_NOMEM && ld->skip && k < ld->n; k++) {
        (*bad)++;
        idx = (idx + 1) % ld->n;
        s->samples[j] = idx;
        rc = make_sample(ld, s, j, idx);
    }
    return rc;
}

/* ---- workers -------------------------------------------------------------------- */

/* The oldest slot with an unclaimed sample (lock held), or NULL. */
static slot *find_work(byol_loader *ld)
{
    for (int64_t q = ld->take > 0 ? ld->take - 1 : 0; q < ld->issue; q++) {
        slot *s = slot_of(ld, q);
        if (s->seq == q && s->state == SLOT_FILLING && s->claimed < s->count)
            return s;
    }
    return NULL;
}

static void finish_sample(byol_loader *ld, slot *s, int64_t j, int rc, int64_t bad)
{
    s->skipped += bad;
    if (rc != BYOL_OK && (s->err_code == 0 || j < s->err_pos)) {
        s->err_code = rc;
        s->err_pos = j;
        snprintf(s->err_msg, sizeof s->err_msg, "%s", byol_last_error());
    }
    if (++s->done == s->count) {
        s->state = SLOT_READY;
        pthread_cond_broadcast(&ld->ready);
    }
}

static void *worker(void *arg)
{
    byol_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    while (!ld->stop) {
        slot *s = find_work(ld);
        if (!s) {
            pthread_cond_wait(&ld->work, &ld->mu);
            continue;
        }
        int64_t j = s->claimed++, bad;
        pthread_mutex_unlock(&ld->mu);
        int rc = run_sample(ld, s, j, &bad);
        pthread_mutex_lock(&ld->mu);
        finish_sample(ld, s, j, rc, bad);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- creation -------------------------------------------------------------------- */

static void free_slots(slot *slots, int64_t nslots)
{
    for (int64_t k = 0; slots && k < nslots; k++) {
        byol__free(slots[k].samples);
        byol__free(slots[k].labels);
        byol__free(slots[k].v1);
        byol__free(slots[k].v2);
    }
    byol__free(slots);
}

/* The ring's slots, each for `cap` samples; NULL when out of memory. */
static slot *alloc_slots(const byol_loader *ld, int64_t cap)
{
    slot *slots = byol__calloc((size_t)ld->nslots, sizeof *slots);
    size_t floats;
    if (!slots || byol__mul_size((size_t)cap, (size_t)ld->sample_floats, &floats)) {
        byol__free(slots);
        return NULL;
    }
    for (int64_t k = 0; k < ld->nslots; k++) {
        slot *s = &slots[k];
        s->seq = -1;
        s->samples = byol__calloc((size_t)cap, sizeof *s->samples);
        s->labels = byol__calloc((size_t)cap, sizeof *s->labels);
        s->v1 = byol__malloc(floats * sizeof(float));
        s->v2 = ld->mode == BYOL_LOADER_TRAIN ? byol__malloc(floats * sizeof(float)) : NULL;
        if (!s->samples || !s->labels || !s->v1 || (ld->mode == BYOL_LOADER_TRAIN && !s->v2)) {
            free_slots(slots, ld->nslots);
            return NULL;
        }
    }
    return slots;
}

static int read_settings(byol_loader *ld, const byol_config *cfg, const byol_dataset *ds)
{
    int64_t dims[3];
    ld->n = byol_dataset_size(ds);
    ld->batch = byol__cfg_int(cfg, BYOL__K_TRAIN_BATCH_SIZE);
    ld->seed = (uint64_t)byol__cfg_int(cfg, BYOL__K_SEED);
    ld->shuffle = (int32_t)byol__cfg_int(cfg, BYOL__K_LOADER_SHUFFLE);
    ld->skip = !strcmp(byol__cfg_str(cfg, BYOL__K_LOADER_ON_ERROR), "skip");
    ld->nworkers = (int32_t)byol__cfg_int(cfg, BYOL__K_LOADER_WORKERS);
    ld->nslots = byol__cfg_int(cfg, BYOL__K_LOADER_PREFETCH) + 1;
    int drop = ld->mode == BYOL_LOADER_TRAIN && byol__cfg_int(cfg, BYOL__K_LOADER_DROP_LAST);
    ld->per_epoch = drop ? ld->n / ld->batch : (ld->n + ld->batch - 1) / ld->batch;
    if (ld->per_epoch < 1)
        return byol__err(BYOL_E_SHAPE, "byol_loader_create: the dataset has %lld images, "
                         "fewer than one batch of train.batch_size %lld", (long long)ld->n,
                         (long long)ld->batch);
    byol_augmenter_dims(ld->aug, dims);
    ld->sample_floats = dims[0] * dims[1] * dims[2];
    return BYOL_OK;
}

static int start_workers(byol_loader *ld)
{
    ld->threads = byol__calloc((size_t)ld->nworkers, sizeof *ld->threads);
    if (!ld->threads)
        return byol__err(BYOL_E_NOMEM, "byol_loader_create: out of memory");
    for (; ld->nthreads < ld->nworkers; ld->nthreads++)
        if (pthread_create(&ld->threads[ld->nthreads], NULL, worker, ld) != 0)
            return byol__err(BYOL_E_GENERIC, "byol_loader_create: cannot start worker %d of %d",
                             (int)ld->nthreads + 1, (int)ld->nworkers);
    return BYOL_OK;
}

int byol_loader_create(const byol_config *cfg, const byol_dataset *ds, int32_t mode,
                       byol_loader **out)
{
    if (!out || !ds)
        return byol__err(BYOL_E_INVALID_ARG, "byol_loader_create: dataset or out is NULL");
    *out = NULL;
    if (mode != BYOL_LOADER_TRAIN && mode != BYOL_LOADER_EVAL)
        return byol__err(BYOL_E_INVALID_ARG, "byol_loader_create: mode %d is neither "
                         "BYOL_LOADER_TRAIN nor BYOL_LOADER_EVAL", (int)mode);
    byol_loader *ld = byol__calloc(1, sizeof *ld);
    if (!ld)
        return byol__err(BYOL_E_NOMEM, "byol_loader_create: out of memory");
    ld->ds = ds;
    ld->mode = mode;
    ld->order_epoch = -1;
    ld->ranks = 1;
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->work, NULL);
    pthread_cond_init(&ld->ready, NULL);
    int rc = byol_augmenter_create(cfg, &ld->aug);
    if (rc == BYOL_OK)
        rc = read_settings(ld, cfg, ds);
    if (rc == BYOL_OK) {
        ld->slots = alloc_slots(ld, ld->batch);
        ld->order = byol__calloc((size_t)ld->n, sizeof *ld->order);
    }
    if (rc == BYOL_OK && (!ld->slots || !ld->order))
        rc = byol__err(BYOL_E_NOMEM, "byol_loader_create: out of memory for %lld batches of "
                       "%lld samples", (long long)ld->nslots, (long long)ld->batch);
    if (rc == BYOL_OK)
        rc = start_workers(ld);
    if (rc != BYOL_OK) {
        byol_loader_destroy(ld);
        return rc;
    }
    pthread_mutex_lock(&ld->mu);
    top_up(ld);
    pthread_mutex_unlock(&ld->mu);
    *out = ld;
    return BYOL_OK;
}

/* ---- consuming --------------------------------------------------------------------- */

static void describe(const byol_loader *ld, const slot *s, byol_batch *out)
{
    int64_t dims[3];
    byol_augmenter_dims(ld->aug, dims);
    out->epoch = s->seq / ld->per_epoch;
    out->index = s->seq % ld->per_epoch;
    out->count = s->count;
    byol_tensor v = { sizeof v, 4, { s->count, dims[0], dims[1], dims[2] }, s->v1 };
    out->view1 = v;
    v.data = s->v2;
    out->view2 = v;
    out->labels = s->labels;
    out->samples = s->samples;
}

int byol_loader_next(byol_loader *ld, byol_batch *out)
{
    if (!ld || !out)
        return byol__err(BYOL_E_INVALID_ARG, "byol_loader_next: loader or out is NULL");
    if (out->struct_size < sizeof *out)
        return byol__err(BYOL_E_ABI, "byol_loader_next: struct_size %u < %zu",
                         (unsigned)out->struct_size, sizeof *out);
    pthread_mutex_lock(&ld->mu);
    if (ld->take > 0)
        slot_of(ld, ld->take - 1)->state = SLOT_FREE; /* the batch handed out last */
    if (ld->mode == BYOL_LOADER_EVAL && ld->take >= ld->per_epoch) {
        pthread_mutex_unlock(&ld->mu);
        return BYOL_DONE;
    }
    slot *s = slot_of(ld, ld->take);
    while (s->state != SLOT_READY)
        pthread_cond_wait(&ld->ready, &ld->mu);
    ld->take++;
    ld->skipped += s->skipped;
    top_up(ld);
    int rc = s->err_code;
    char msg[sizeof s->err_msg];
    memcpy(msg, s->err_msg, sizeof msg);
    pthread_mutex_unlock(&ld->mu);
    describe(ld, s, out);
    if (rc != BYOL_OK)
        return byol__err(rc, "byol_loader_next: epoch %lld batch %lld, sample %lld: %s",
                         (long long)out->epoch, (long long)out->index,
                         (long long)(s->first + s->err_pos), msg);
    return BYOL_OK;
}

/* Withdraws every issued slot: no new claims, then waits for the samples
 * in flight (lock held). */
static void drain(byol_loader *ld)
{
    for (int64_t k = 0; k < ld->nslots; k++)
        if (ld->slots[k].state == SLOT_FILLING)
            ld->slots[k].count = ld->slots[k].claimed;
    for (int64_t k = 0; k < ld->nslots; k++) {
        slot *s = &ld->slots[k];
        while (s->state == SLOT_FILLING && s->done < s->claimed)
            pthread_cond_wait(&ld->ready, &ld->mu);
        s->state = SLOT_FREE;
        s->seq = -1;
    }
}

int byol_loader_seek(byol_loader *ld, int64_t epoch, int64_t index)
{
    if (!ld)
        return byol__err(BYOL_E_INVALID_ARG, "byol_loader_seek: loader is NULL");
    /* Views are drawn for epochs below 2^32 only (byol_augmenter_view): a
     * later epoch would fail every next. */
    if (epoch < 0 || index < 0 || index >= ld->per_epoch ||
        (ld->mode == BYOL_LOADER_EVAL && epoch != 0) || epoch > (int64_t)UINT32_MAX ||
        epoch > INT64_MAX / ld->per_epoch - 1)
        return byol__err(BYOL_E_RANGE, "byol_loader_seek: epoch %lld batch %lld is outside "
                         "epochs [0, %s) and [0, %lld) batches per epoch", (long long)epoch,
                         (long long)index, ld->mode == BYOL_LOADER_EVAL ? "1: the one "
                         "evaluation epoch" : "2^32", (long long)ld->per_epoch);
    pthread_mutex_lock(&ld->mu);
    drain(ld);
    ld->take = ld->issue = epoch * ld->per_epoch + index;
    top_up(ld);
    pthread_mutex_unlock(&ld->mu);
    return BYOL_OK;
}

int byol_loader_set_shard(byol_loader *ld, int32_t rank, int32_t size)
{
    if (!ld)
        return byol__err(BYOL_E_INVALID_ARG, "byol_loader_set_shard: loader is NULL");
    if (size < 1 || rank < 0 || rank >= size)
        return byol__err(BYOL_E_RANGE, "byol_loader_set_shard: rank %d of %d ranks: the size "
                         "must be >= 1 and the rank in [0, size)", (int)rank, (int)size);
    if (ld->batch % size != 0)
        return byol__err(BYOL_E_RANGE, "byol_loader_set_shard: %d ranks do not divide "
                         "train.batch_size %lld into equal slices", (int)size,
                         (long long)ld->batch);
    slot *fresh = alloc_slots(ld, ld->batch / size);
    if (!fresh)
        return byol__err(BYOL_E_NOMEM, "byol_loader_set_shard: out of memory for %lld batches "
                         "of %lld samples", (long long)ld->nslots, (long long)ld->batch / size);
    pthread_mutex_lock(&ld->mu);
    drain(ld);
    slot *old = ld->slots;
    ld->slots = fresh;
    ld->rank = rank;
    ld->ranks = size;
    ld->issue = ld->take; /* the batch that would have come next, now sliced */
    top_up(ld);
    pthread_mutex_unlock(&ld->mu);
    free_slots(old, ld->nslots);
    return BYOL_OK;
}

int64_t byol_loader_batches_per_epoch(const byol_loader *ld) { return ld ? ld->per_epoch : 0; }

int64_t byol_loader_skipped(const byol_loader *ld) { return ld ? ld->skipped : 0; }

void byol_loader_destroy(byol_loader *ld)
{
    if (!ld)
        return;
    pthread_mutex_lock(&ld->mu);
    ld->stop = 1;
    pthread_cond_broadcast(&ld->work);
    pthread_mutex_unlock(&ld->mu);
    for (int32_t k = 0; k < ld->nthreads; k++)
        pthread_join(ld->threads[k], NULL);
    free_slots(ld->slots, ld->nslots);
    byol__free(ld->order);
    byol__free(ld->threads);
    byol_augmenter_destroy(ld->aug);
    pthread_cond_destroy(&ld->work);
    pthread_cond_destroy(&ld->ready);
    pthread_mutex_destroy(&ld->mu);
    byol__free(ld);
}
