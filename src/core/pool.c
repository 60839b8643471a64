/* libbyol's own threads for its parallel loops.
 *
 * Why not OpenMP: libgomp's threads spin up to 300,000 times at every
 * barrier before they sleep, and it reads its wait policy once, as it
 * loads, before any code of ours runs. With the loader's worker threads (or
 * any other work) on the same cores that spinning held the cores the
 * partner thread needed, and a program that did not set GOMP_SPINCOUNT
 * trained 2-4x slower than the byol command, which did. Here every wait
 * spins briefly (SPINS pauses, what GOMP_SPINCOUNT=1000 gave the command),
 * then polls between sched_yield() calls (YIELDS of them), and then sleeps
 * on a condition variable, for every caller. The yields keep an idle core's
 * thread awake (waking a sleeping one took tens of microseconds on a VM, and
 * sleeping at once cost the exact resnet18 step 9 %) while handing a shared
 * core to whatever else is runnable there (docs/threading.md has figures).
 *
 * Each thread that starts a region owns a pool of workers (as libgomp keeps
 * one per master thread), so handles used on distinct threads at once never
 * share workers. Workers are started at the first region that needs them and
 * end with their master thread (the main thread's with the process). A region
 * started inside a region runs on the calling thread alone. A thread must not
 * be cancelled inside a call into the library: its waits are cancellation
 * points, and a cancelled master would leave its pool's lock held. The split
 * of a loop over threads never changes results: every kernel sums in an
 * order fixed by its shape. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

#define SPINS 1000
#define YIELDS 20000
#define MAX_WORKERS 255

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv, sync_cv;
    pthread_t tid[MAX_WORKERS];
    int workers;      /* started */
    int cannot_grow;  /* a worker could not be started: stop trying */
    pid_t pid;        /* the process whose threads these are (fork) */
    /* the region: written by the master before it bumps gen */
    byol__task_fn fn;
    void *ctx;
    int threads;
    atomic_uint gen;       /* regions started; a worker runs each new one */
    atomic_uint pending;   /* workers of the region not yet done */
    atomic_int sleepers;   /* workers asleep waiting for a region */
    atomic_int master_asleep;
    /* byol__sync: arrivals of the current barrier, and barriers passed */
    atomic_int arrived;
    atomic_uint sync_gen;
    atomic_int sync_sleepers;
} pool;

/* The pool this thread owns (as a master); the pool of the region it runs
 * a part of (NULL in a region run alone); whether it runs in any region
 * (workers always do). */
static _Thread_local pool *own_pool;
static _Thread_local pool *in_region;
static _Thread_local int busy;

static pthread_key_t pool_key;
static pthread_once_t pool_once = PTHREAD_ONCE_INIT;
static int pool_key_ok;

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Polls until *word != seen (*word == 0 when zero is set): 1 when it
 * happened, 0 after SPINS pauses and YIELDS yields. */
static int poll_word(atomic_uint *word, unsigned seen, int zero)
{
    for (int i = 0; i < SPINS + YIELDS; i++) {
        unsigned v = atomic_load_explicit(word, memory_order_acquire);
        if (zero ? v == 0 : v != seen)
            return 1;
        if (i < SPINS)
            relax();
        else
            sched_yield();
    }
    return 0;
}

/* Waits until *word != seen: spins, then sleeps on cv. Wakers change the
 * word before they read *sleepers, and sleepers count themselves before they
 * read the word again (both sequentially consistent), so either the waker
 * sees a sleeper and broadcasts under the lock, or the sleeper sees the new
 * word and does not sleep. */
static void wait_change(pool *p, atomic_uint *word, unsigned seen, atomic_int *sleepers,
                        pthread_cond_t *cv)
{
    if (poll_word(word, seen, 0))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(sleepers, 1);
    while (atomic_load(word) == seen)
        pthread_cond_wait(cv, &p->mu);
    atomic_fetch_sub(sleepers, 1);
    pthread_mutex_unlock(&p->mu);
}

static void wake(pool *p, atomic_int *sleepers, pthread_cond_t *cv)
{
    if (atomic_load(sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(cv);
        pthread_mutex_unlock(&p->mu);
    }
}

typedef struct worker_arg {
    pool *p;
    int index;      /* thread number within a region, 1.. */
    unsigned gen;   /* regions started before this worker */
} worker_arg;

static void *worker_main(void *arg)
{
    worker_arg w = *(worker_arg *)arg;
    free(arg);
    pool *p = w.p;
    unsigned seen = w.gen;
    busy = 1;
    in_region = p;
    for (;;) {
        /* Every worker reports on every region, taking part or not, so the
         * next region cannot start while one of them still reads this one. */
        wait_change(p, &p->gen, seen, &p->sleepers, &p->work_cv);
        seen++;
        if (!p->fn)
            return NULL;   /* the master thread has ended */
        if (w.index < p->threads)
            p->fn(p->ctx, w.index, p->threads);
        if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->master_asleep)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done_cv);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* Ends the workers of a master thread that exits. */
static void pool_end(void *arg)
{
    pool *p = arg;
    if (own_pool == p)
        own_pool = NULL;
    if (p->pid != getpid())
        return;   /* a parent's pool in a forked child: no workers, maybe a held lock */
    p->fn = NULL;
    atomic_fetch_add(&p->gen, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->workers; i++)
        pthread_join(p->tid[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_cond_destroy(&p->sync_cv);
    free(p);
}

/* After fork() only the forking thread exists in the child: its pool's
 * workers are gone, so it starts a new pool (the old one is abandoned; its
 * key destructor sees another pid and leaves it). */
static void forget_pool_in_child(void) { own_pool = NULL; }

static void make_key(void)
{
    pool_key_ok = pthread_key_create(&pool_key, pool_end) == 0 &&
                  pthread_atfork(NULL, NULL, forget_pool_in_child) == 0;
}

static pool *pool_new(void)
{
    pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->pid = getpid();
    if (pthread_mutex_init(&p->mu, NULL) != 0 || pthread_cond_init(&p->work_cv, NULL) != 0 ||
        pthread_cond_init(&p->done_cv, NULL) != 0 || pthread_cond_init(&p->sync_cv, NULL) != 0) {
        free(p);   /* glibc's init cannot fail; elsewhere a partial init is leaked */
        return NULL;
    }
    if (pthread_setspecific(pool_key, p) != 0) {
        pool_end(p);
        return NULL;
    }
    return p;
}

/* This thread's pool with at least want workers, or as many as could be
 * started; NULL when none can be had (the region then runs alone). */
static pool *get_pool(int want)
{
    pthread_once(&pool_once, make_key);
    if (!pool_key_ok)
        return NULL;
    if (!own_pool)
        own_pool = pool_new();
    pool *p = own_pool;
    if (want > MAX_WORKERS)
        want = MAX_WORKERS;
    while (p && !p->cannot_grow && p->workers < want) {
        worker_arg *a = malloc(sizeof *a);
        if (a)
            *a = (worker_arg){ p, p->workers + 1, atomic_load(&p->gen) };
        if (!a || pthread_create(&p->tid[p->workers], NULL, worker_main, a) != 0) {
            free(a);
            p->cannot_grow = 1;
            break;
        }
        p->workers++;
    }
    return p;
}

static void run_alone(byol__task_fn fn, void *ctx)
{
    pool *outer = in_region;
    in_region = NULL;
    busy++;
    fn(ctx, 0, 1);
    busy--;
    in_region = outer;
}

void byol__run(int threads, byol__task_fn fn, void *ctx)
{
    pool *p = threads > 1 && !busy ? get_pool(threads - 1) : NULL;
    if (p && threads > p->workers + 1)
        threads = p->workers + 1;
    if (!p || threads <= 1) {
        run_alone(fn, ctx);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    p->threads = threads;
    atomic_store(&p->arrived, 0);
    atomic_store(&p->pending, p->workers);
    atomic_fetch_add(&p->gen, 1);
    wake(p, &p->sleepers, &p->work_cv);
    in_region = p;
    busy = 1;
    fn(ctx, 0, threads);
    busy = 0;
    in_region = NULL;
    if (poll_word(&p->pending, 0, 1))
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->master_asleep, 1);
    while (atomic_load(&p->pending) > 0)
        pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store(&p->master_asleep, 0);
    pthread_mutex_unlock(&p->mu);
}

void byol__sync(void)
{
    pool *p = in_region;
    if (!p)
        return;   /* a region run alone */
    unsigned seen = atomic_load(&p->sync_gen);
    if (atomic_fetch_add(&p->arrived, 1) == p->threads - 1) {
        atomic_store(&p->arrived, 0);
        atomic_fetch_add(&p->sync_gen, 1);
        wake(p, &p->sync_sleepers, &p->sync_cv);
        return;
    }
    wait_change(p, &p->sync_gen, seen, &p->sync_sleepers, &p->sync_cv);
}

void byol__share(int64_t n, int thread, int threads, int64_t *begin, int64_t *end)
{
    /* OpenMP's static schedule: the first n % threads threads take one more. */
    int64_t q = n / threads, r = n % threads;
    *begin = thread * q + (thread < r ? thread : r);
    *end = *begin + q + (thread < r);
}

typedef struct for_ctx {
    int64_t n;
    byol__range_fn fn;
    void *ctx;
} for_ctx;

static void for_task(void *arg, int thread, int threads)
{
    const for_ctx *f = arg;
    int64_t b, e;
    byol__share(f->n, thread, threads, &b, &e);
    if (b < e)
        f->fn(f->ctx, b, e);
}

void byol__parallel_for(int64_t n, int par, byol__range_fn fn, void *ctx)
{
    int threads = par ? byol__num_threads() : 1;
    if (threads > n)
        threads = n > 1 ? (int)n : 1;
    if (threads <= 1) {
        if (n > 0)
            fn(ctx, 0, n);
        return;
    }
    for_ctx f = { n, fn, ctx };
    byol__run(threads, for_task, &f);
}
