/* OUT/metrics.jsonl: one JSON object per line, flushed as written so the
 * file is whole whenever the run stops. Two kinds of record:
 *   {"type":"step","step":S,"epoch":E,"loss":...,"loss_12":...,"loss_21":...,
 *    "lr":...,"tau":...,"grad_norm":...,"collapse_std":...,"img_s":...,"elapsed":...}
 *   {"type":"monitor","step":S,"epoch":E,"knn_top1":...,"bank":N,"queries":M,
 *    "seconds":...,"elapsed":...}
 * step counts the steps done (1 after the first), the number a checkpoint
 * saved at that point holds; epoch is 0-based; elapsed is wall-clock
 * seconds of training, continued across resumes. The records are also kept
 * in memory for the plot.
 *
 * An append log, not rewritten atomically at each record: a crash can cut
 * its last record short (a write interrupted by a full disk, a power loss
 * that also loses the records not yet on disk); --resume drops such a
 * record, with those logged after the checkpoint, and rewrites the file
 * atomically. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_series_add(cli_series *s, double step, double value)
{
    if (s->n == s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 256;
        cli_point *p = realloc(s->p, (size_t)cap * sizeof *p);
        if (!p)
            return cli_error(BYOL_E_NOMEM, "out of memory for metrics");
        s->p = p;
        s->cap = cap;
    }
    s->p[s->n].step = step;
    s->p[s->n++].value = value;
    return BYOL_OK;
}

/* The number after "key": in a line this file wrote. */
static int get_num(const char *line, const char *key, double *v)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(line, pat);
    char *end = NULL;
    if (!at)
        return 0;
    *v = strtod(at + strlen(pat), &end);
    return end != at + strlen(pat);
}

/* Keeps the record in the plot's series; returns 0 for a line to drop. */
static int reload_line(cli_metrics *m, const char *line, int64_t upto, int *rc)
{
    double step, v, elapsed;
    if (!get_num(line, "step", &step) || step > (double)upto)
        return 0;
    if (strstr(line, "\"type\":\"monitor\"") && get_num(line, "knn_top1", &v))
        *rc = cli_series_add(&m->knn, step, v);
    else if (get_num(line, "loss", &v))
        *rc = cli_series_add(&m->loss, step, v);
    if (get_num(line, "elapsed", &elapsed) && elapsed > m->elapsed0)
        m->elapsed0 = elapsed;
    return 1;
}

/* A record as this file writes it: a whole line "{...}\n". The last line of
 * a log cut short by a crash is not one. */
static int whole_record(const char *line, size_t n)
{
    return n >= 3 && line[0] == '{' && line[n - 2] == '}' && line[n - 1] == '\n';
}

/* Resuming at `step`: keeps earlier records, drops those logged after the
 * checkpoint (they will be logged again) and a record cut short, rewrites
 * the file. */
static int reload(cli_metrics *m, int64_t step)
{
    struct stat st;
    FILE *f = NULL;
    if (stat(m->path, &st) != 0 && errno == ENOENT)
        return BYOL_OK; /* no earlier metrics: start afresh */
    int rc = cli_fopen(m->path, O_RDONLY, &f);
    char *kept = NULL, line[4096];
    size_t len = 0;
    int at_start = 1; /* line begins a line of the file (not the rest of a long one) */
    while (rc == BYOL_OK && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        int keep = at_start && whole_record(line, n) && reload_line(m, line, step, &rc);
        at_start = n > 0 && line[n - 1] == '\n';
        if (!keep)
            continue;
        char *k = realloc(kept, len + n + 1);
        if (!k) {
            rc = cli_error(BYOL_E_NOMEM, "out of memory for metrics");
            break;
        }
        kept = k;
        memcpy(kept + len, line, n + 1);
        len += n;
    }
    if (f)
        fclose(f);
    if (rc == BYOL_OK)
        rc = cli_write_file(m->path, kept, len);
    free(kept);
    return rc;
}

int cli_metrics_open(cli_metrics *m, const char *path, int64_t step)
{
    memset(m, 0, sizeof *m);
    if (!(m->path = strdup(path)))
        return cli_error(BYOL_E_NOMEM, "out of memory");
    int rc = step > 0 ? reload(m, step) : BYOL_OK;
    if (rc == BYOL_OK)
        rc = cli_fopen(path, O_WRONLY | O_CREAT | (step > 0 ? O_APPEND : O_TRUNC), &m->f);
    return rc;
}

/* A JSON number, or null for what JSON cannot hold (NaN, infinity). */
static void num(FILE *f, const char *key, double v)
{
    if (isfinite(v))
        fprintf(f, ",\"%s\":%.8g", key, v);
    else
        fprintf(f, ",\"%s\":null", key);
}

static int finish_line(cli_metrics *m)
{
    fputs("}\n", m->f);
    if (fflush(m->f) != 0 || ferror(m->f))
        return cli_error(BYOL_E_IO, "cannot write '%s'", m->path);
    return BYOL_OK;
}

int cli_metrics_step(cli_metrics *m, int64_t epoch, const byol_step_stats *s, double img_s,
                     double elapsed)
{
    int64_t step = s->step + 1;
    fprintf(m->f, "{\"type\":\"step\",\"step\":%lld,\"epoch\":%lld", (long long)step,
            (long long)epoch);
    num(m->f, "loss", s->loss);
    num(m->f, "loss_12", s->loss_12);
    num(m->f, "loss_21", s->loss_21);
    num(m->f, "lr", s->lr);
    num(m->f, "tau", s->tau);
    num(m->f, "grad_norm", s->grad_norm);
    num(m->f, "collapse_std", s->collapse_std);
    num(m->f, "img_s", img_s);
    num(m->f, "elapsed", m->elapsed0 + elapsed);
    int rc = finish_line(m);
    if (rc == BYOL_OK && isfinite(s->loss))
        rc = cli_series_add(&m->loss, (double)step, s->loss);
    return rc;
}

int cli_metrics_monitor(cli_metrics *m, int64_t step, int64_t epoch, double knn, int64_t bank,
                        int64_t queries, double seconds, double elapsed)
{
    fprintf(m->f, "{\"type\":\"monitor\",\"step\":%lld,\"epoch\":%lld", (long long)step,
            (long long)epoch);
    num(m->f, "knn_top1", knn);
    fprintf(m->f, ",\"bank\":%lld,\"queries\":%lld", (long long)bank, (long long)queries);
    num(m->f, "seconds", seconds);
    num(m->f, "elapsed", m->elapsed0 + elapsed);
    int rc = finish_line(m);
    if (rc == BYOL_OK)
        rc = cli_series_add(&m->knn, (double)step, knn);
    return rc;
}

void cli_metrics_close(cli_metrics *m)
{
    if (m->f)
        fclose(m->f);
    free(m->path);
    free(m->loss.p);
    free(m->knn.p);
    memset(m, 0, sizeof *m);
}
