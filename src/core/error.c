/* Status text and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "byol/byol_data.h"
#include "internal.h"

#define BYOL__MSG_MAX 1024

static _Thread_local char last_msg[BYOL__MSG_MAX];

/* One row per status code. The name is the macro's own spelling (#code:
 * stringified before expansion), so byol_error_name() cannot drift from
 * the headers. BYOL_DONE is a status too (byol_loader_next() after the
 * last batch of an evaluation pass). */
#define STATUS(code, text) { code, #code, text }
static const struct {
    int code;
    const char *name, *text;
} statuses[] = {
    STATUS(BYOL_OK, "success"),
    STATUS(BYOL_DONE, "no more batches in this pass"),
    STATUS(BYOL_E_GENERIC, "unclassified failure"),
    STATUS(BYOL_E_NOMEM, "out of memory"),
    STATUS(BYOL_E_INVALID_ARG, "invalid argument"),
    STATUS(BYOL_E_BAD_STATE, "call out of order for the handle's state"),
    STATUS(BYOL_E_SHAPE, "tensor shape or batch size does not fit"),
    STATUS(BYOL_E_UNSUPPORTED, "not supported"),
    STATUS(BYOL_E_IO, "file input/output failed"),
    STATUS(BYOL_E_DECODE, "image could not be decoded"),
    STATUS(BYOL_E_FORMAT, "malformed or incompatible file"),
    STATUS(BYOL_E_NONFINITE, "non-finite value (NaN or infinity)"),
    STATUS(BYOL_E_CANCELLED, "cancelled by the cancel callback"),
    STATUS(BYOL_E_ABI, "struct_size not accepted by this library version"),
    STATUS(BYOL_E_BLAS, "BLAS provider failure"),
    STATUS(BYOL_E_KEY, "unknown configuration key or name"),
    STATUS(BYOL_E_RANGE, "value out of range or of the wrong type"),
    STATUS(BYOL_E_COMM, "communicator call failed"),
};
#undef STATUS
#define N_STATUSES (sizeof statuses / sizeof statuses[0])

const char *byol_strerror(int code)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        if (statuses[i].code == code)
            return statuses[i].text;
    return "unknown status code";
}

const char *byol_error_name(int code)
{
    for (size_t i = 0; i < N_STATUSES; i++)
        if (statuses[i].code == code)
            return statuses[i].name;
    return "BYOL_E_UNKNOWN";
}

int byol__err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_msg, sizeof last_msg, fmt, ap);
    va_end(ap);
    byol__log(BYOL_LOG_DEBUG, "%s: %s", byol_strerror(code), last_msg);
    return code;
}

const char *byol_last_error(void) { return last_msg; }

size_t byol_last_error_copy(char *buf, size_t len)
{
    size_t need = strlen(last_msg) + 1;
    if (buf && len > 0) {
        size_t n = need < len ? need : len;
        memcpy(buf, last_msg, n - 1);
        buf[n - 1] = '\0';
    }
    return need;
}
