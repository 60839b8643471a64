/* Shared helpers for the cmocka unit tests. */
#ifndef BYOL_TEST_UTIL_H
#define BYOL_TEST_UTIL_H

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "byol/byol.h"

/* Fails the test with the library's message when rc is not BYOL_OK. */
#define assert_byol_ok(rc)                                                    \
    do {                                                                      \
        int rc_ = (rc);                                                       \
        if (rc_ != BYOL_OK)                                                   \
            fail_msg("%s returned %d (%s): %s", #rc, rc_,                     \
                     byol_strerror(rc_), byol_last_error());                  \
    } while (0)

/* Deterministic pseudo-random fill in [-scale, scale). */
static inline void tu_fill(float *x, size_t n, uint32_t seed, float scale)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        x[i] = scale * (float)((double)(s >> 11) / 4503599627370496.0 - 1.0);
    }
}

/* Relative error as the issues define it: max |a-b| / max |ref|; a tensor
 * whose reference is all zero is compared with an absolute tolerance. */
static inline double tu_rel_err(const float *got, const float *ref, size_t n,
                                double *max_abs_ref)
{
    double md = 0, mr = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (d > md || isnan(d)) md = isnan(d) ? INFINITY : d;
        if (fabs(ref[i]) > mr) mr = fabs(ref[i]);
    }
    if (max_abs_ref) *max_abs_ref = mr;
    return mr > 0 ? md / mr : md;
}

static inline void tu_assert_close(const char *what, const float *got,
                                   const float *ref, size_t n, double rtol,
                                   double atol_if_zero)
{
    double mr;
    double e = tu_rel_err(got, ref, n, &mr);
    double tol = mr > 0 ? rtol : atol_if_zero;
    if (!(e <= tol))
        fail_msg("%s: error %.3g exceeds %.3g (max |ref| %.3g, n=%zu)", what,
                 e, tol, mr, n);
}

/* ---- allocation failures ------------------------------------------------
 * A counting allocator for byol_set_allocator that fails once `countdown`
 * allocations have succeeded (< 0: never) and counts live blocks and the
 * allocations that succeeded (a hook test checks that the library used it). */
typedef struct tu_failing {
    long countdown;
    long live;
    long total;
} tu_failing;

static inline void *tu_failing_alloc(size_t size, size_t align, void *user)
{
    tu_failing *f = user;
    if (f->countdown == 0)
        return NULL;
    if (f->countdown > 0)
        f->countdown--;
    void *p = NULL;
    if (posix_memalign(&p, align, size) != 0)
        return NULL;
    f->live++;
    f->total++;
    return p;
}

static inline void tu_failing_free(void *p, void *user)
{
    ((tu_failing *)user)->live--;
    free(p);
}

/* Runs fn(arg) with its 1st, 2nd, ... allocation failing until it succeeds.
 * Each failure must be BYOL_E_NOMEM and leave no block alive; check(arg),
 * if given, runs after each failure. Returns the number of failures. */
static inline long tu_each_allocation_fails(int (*fn)(void *), void *arg,
                                            void (*check)(void *))
{
    tu_failing f = { -1, 0, 0 };
    byol_allocator a = { sizeof a, 0, tu_failing_alloc, tu_failing_free, &f };
    assert_int_equal(byol_set_allocator(&a), BYOL_OK);
    long failures = 0;
    for (long n = 0;; n++) {
        f.countdown = n;
        int rc = fn(arg);
        if (f.live != 0)
            fail_msg("allocation %ld failing leaked %ld blocks", n, f.live);
        if (rc == BYOL_OK)
            break;
        if (rc != BYOL_E_NOMEM)
            fail_msg("allocation %ld failing gave %d (%s), not BYOL_E_NOMEM: %s", n, rc,
                     byol_strerror(rc), byol_last_error());
        failures++;
        if (check)
            check(arg);
    }
    assert_int_equal(byol_set_allocator(NULL), BYOL_OK);
    return failures;
}

/* A config from settings text (byol_config_parse syntax, NULL: the
 * defaults); destroy it after. */
static inline byol_config *tu_config(const char *settings)
{
    byol_config *cfg = NULL;
    assert_byol_ok(byol_config_create(&cfg));
    if (settings)
        assert_byol_ok(byol_config_parse(cfg, settings));
    return cfg;
}

/* A scratch file of this process, /tmp/byol_test_<pid>_<name> (the pid
 * keeps test programs that run at once apart); four results stay valid at
 * once. */
static inline char *tu_tmp_path(const char *name)
{
    static char buf[4][256];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 256, "/tmp/byol_test_%d_%s", (int)getpid(), name);
    return p;
}

/* The whole file at path, in a malloc'ed block one byte longer than *len;
 * fails the test when it cannot be read. */
static inline unsigned char *tu_slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s: %s", path, strerror(errno));
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    unsigned char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

/* Copies the safetensors file src to dst through byol_file, adding an F32 tensor
 * [4] named extra (NULL: none) and writing v at index 3 of the tensor named
 * poison (NULL: none). */
static inline void tu_rewrite(const char *src, const char *dst, const char *extra,
                              const char *poison, float v)
{
    byol_file *f;
    assert_byol_ok(byol_file_open(src, &f));
    int64_t n = byol_file_tensor_count(f), nm = byol_file_metadata_count(f);
    byol_file_tensor *t = calloc((size_t)n + 1, sizeof *t);
    const char **meta = calloc(2 * (size_t)nm, sizeof *meta);
    void **data = calloc((size_t)n + 1, sizeof *data);
    for (int64_t i = 0; i < n; i++) {
        t[i].struct_size = sizeof t[i];
        assert_byol_ok(byol_file_tensor_info(f, i, &t[i]));
        data[i] = malloc(t[i].nbytes + 1);
        memcpy(data[i], t[i].data, t[i].nbytes);
        if (poison && !strcmp(t[i].name, poison))
            memcpy((char *)data[i] + 3 * sizeof v, &v, sizeof v);
        t[i].data = data[i];
    }
    for (int64_t i = 0; i < nm; i++)
        assert_byol_ok(byol_file_metadata_entry(f, i, &meta[2 * i], &meta[2 * i + 1]));
    static const float four[4] = { 1, 2, 3, 4 };
    byol_file_tensor add = { .struct_size = sizeof add, .dtype = BYOL_DTYPE_F32, .name = extra,
                             .ndim = 1, .shape = { 4 }, .nbytes = sizeof four, .data = four };
    t[n] = add;
    assert_byol_ok(byol_file_write_safetensors(dst, t, n + (extra != NULL), meta, nm));
    for (int64_t i = 0; i < n; i++)
        free(data[i]);
    free(data);
    free(meta);
    free(t);
    byol_file_close(f);
}

/* Folder of the shared real data (../shared/data by default). */
static inline const char *tu_data_dir(void)
{
    const char *d = getenv("BYOL_DATA_DIR");
    return d && *d ? d : "../shared/data";
}

static inline const char *tu_fixtures_dir(void)
{
    const char *d = getenv("BYOL_FIXTURES");
    return d && *d ? d : "tests/fixtures";
}

#endif
