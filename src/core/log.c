/* Logging through the user's callback; silent by default. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static byol_log_fn log_fn;
static void *log_user;
static int log_max = -1;

void byol_set_log_callback(byol_log_fn fn, void *user, int max_level)
{
    log_fn = fn;
    log_user = user;
    log_max = fn ? max_level : -1;
}

void byol__log(int level, const char *fmt, ...)
{
    if (!log_fn || level > log_max)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_fn(level, msg, log_user);
}
