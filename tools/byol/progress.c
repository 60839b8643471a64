/* The progress display on stderr. On a terminal: one line redrawn in place
 * (\r and erase-to-end-of-line), at most 10 times a second so it does not
 * flicker or cost time. Elsewhere (a log file, CI): a plain line every
 * `interval` seconds, since \r would pile up as one huge line. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "cli.h"

#define LIVE_INTERVAL 0.1
#define PLAIN_INTERVAL 10.0

void cli_progress_init(cli_progress *p, int quiet)
{
    p->live = !quiet && isatty(fileno(stderr));
    p->quiet = quiet;
    p->last_print = -1e30;
    p->interval = p->live ? LIVE_INTERVAL : PLAIN_INTERVAL;
    p->line_open = 0;
}

static void format_status(const cli_status *s, char *buf, size_t len)
{
    char eta[32];
    cli_format_duration(s->eta_s, eta, sizeof eta);
    snprintf(buf, len,
             "epoch %lld/%lld  step %lld/%lld  loss %.4f  lr %.4g  tau %.5f  %.1f img/s  ETA %s",
             (long long)(s->epoch + 1), (long long)s->epochs, (long long)s->step,
             (long long)s->total, s->loss, s->lr, s->tau, s->img_s, eta);
}

void cli_progress_step(cli_progress *p, const cli_status *s, int force)
{
    double now = cli_now();
    if (p->quiet || (!force && now - p->last_print < p->interval))
        return;
    p->last_print = now;
    char line[256];
    format_status(s, line, sizeof line);
    if (p->live) {
        fprintf(stderr, "\r\033[K%s", line);
        p->line_open = 1;
    } else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void cli_progress_note(cli_progress *p, const char *fmt, ...)
{
    if (p->quiet)
        return;
    if (p->line_open) {
        fputs("\r\033[K", stderr);
        p->line_open = 0;
        p->last_print = -1e30; /* redraw the status on the next step */
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void cli_progress_end(cli_progress *p)
{
    if (p->line_open) {
        fputc('\n', stderr);
        p->line_open = 0;
    }
    fflush(stderr);
}
