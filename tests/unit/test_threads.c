/* libbyol's own threads (core/pool.c): loops cover every index once, split
 * as OpenMP's static schedule does; barriers hold; a region inside a region
 * runs alone; masters on distinct threads have their own workers; a forked
 * child starts afresh. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/internal.h"

static void mark(void *arg, int64_t b, int64_t e)
{
    int *hits = arg;
    for (int64_t i = b; i < e; i++)
        hits[i]++;
}

static void test_cover(void **state)
{
    (void)state;
    const int64_t sizes[] = { 0, 1, 2, 3, 5, 64, 1001 };
    const int counts[] = { 1, 2, 3, 7 };
    for (size_t t = 0; t < sizeof counts / sizeof *counts; t++) {
        byol__set_threads(counts[t]);
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            int64_t n = sizes[s];
            int *hits = calloc((size_t)n + 1, sizeof *hits);
            byol__parallel_for(n, 1, mark, hits);
            for (int64_t i = 0; i < n; i++)
                assert_int_equal(hits[i], 1);
            free(hits);
        }
    }
    byol__set_threads(1);
}

static void test_share(void **state)
{
    (void)state;
    /* OpenMP's static schedule of 10 iterations on 4 threads: 3 3 2 2 */
    const int64_t want[4][2] = { { 0, 3 }, { 3, 6 }, { 6, 8 }, { 8, 10 } };
    for (int t = 0; t < 4; t++) {
        int64_t b, e;
        byol__share(10, t, 4, &b, &e);
        assert_int_equal(b, want[t][0]);
        assert_int_equal(e, want[t][1]);
    }
    int64_t b, e;
    byol__share(2, 3, 4, &b, &e);   /* more threads than iterations */
    assert_int_equal(e - b, 0);
}

/* Each round every thread writes its slot, waits, then reads every slot:
 * a barrier that let one thread through early would show a stale round. */
#define ROUNDS 2000
typedef struct rounds {
    int64_t slot[8];
    int threads;
    int bad;
} rounds;

static void rounds_task(void *arg, int thread, int threads)
{
    rounds *r = arg;
    if (thread == 0)
        r->threads = threads;
    for (int64_t k = 1; k <= ROUNDS; k++) {
        r->slot[thread] = k;
        byol__sync();
        for (int t = 0; t < threads; t++)
            if (r->slot[t] != k)
                r->bad = 1;
        byol__sync();
    }
}

static void test_sync(void **state)
{
    (void)state;
    for (int n = 1; n <= 4; n++) {
        rounds r = { { 0 }, 0, 0 };
        byol__run(n, rounds_task, &r);
        assert_int_equal(r.threads, n);
        assert_int_equal(r.bad, 0);
    }
}

static void inner_task(void *arg, int thread, int threads)
{
    (void)thread;
    int *count = arg;
    __atomic_add_fetch(count, threads, __ATOMIC_SEQ_CST);
}

static void outer_task(void *arg, int thread, int threads)
{
    (void)thread, (void)threads;
    byol__run(4, inner_task, arg);
}

static void test_nested(void **state)
{
    (void)state;
    int count = 0;
    byol__run(3, outer_task, &count);
    assert_int_equal(count, 3);   /* each of 3 threads ran the inner region alone */
}

/* Two masters at once, each with its own workers. */
typedef struct master {
    int64_t sum;
} master;

static void add_range(void *arg, int64_t b, int64_t e)
{
    int64_t s = 0;
    for (int64_t i = b; i < e; i++)
        s += i;
    __atomic_add_fetch((int64_t *)arg, s, __ATOMIC_SEQ_CST);
}

static void *master_main(void *arg)
{
    master *m = arg;
    byol__set_threads(2);
    for (int k = 0; k < 500; k++)
        byol__parallel_for(1000, 1, add_range, &m->sum);
    return NULL;
}

static void test_two_masters(void **state)
{
    (void)state;
    master m[2] = { { 0 }, { 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, master_main, &m[i]), 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(m[i].sum, 500 * (999 * 1000 / 2));
    }
}

static void test_fork(void **state)
{
    (void)state;
    int count = 0;
    byol__run(2, inner_task, &count);   /* this thread's pool has a worker */
    assert_int_equal(count, 2 * 2);     /* each of 2 threads adds 2 */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(20);   /* a child waiting on its parent's workers would hang */
        int c = 0;
        byol__run(2, inner_task, &c);
        _exit(c == 2 * 2 ? 0 : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cover),
        cmocka_unit_test(test_share),
        cmocka_unit_test(test_sync),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_two_masters),
        cmocka_unit_test(test_fork),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
