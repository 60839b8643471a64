/* Status text and the thread-local last-error message. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

#define BYOL__MSG_MAX 1024

static _Thread_local char last_msg[BYOL__MSG_MAX];

const char *byol_strerror(int code)
{
    switch (code) {
    case BYOL_OK: return "success";
    case BYOL_E_GENERIC: return "unclassified failure";
    case BYOL_E_NOMEM: return "out of memory";
    case BYOL_E_INVALID_ARG: return "invalid argument";
    case BYOL_E_BAD_STATE: return "call out of order for the handle's state";
    case BYOL_E_SHAPE: return "tensor shape or batch size does not fit";
    case BYOL_E_UNSUPPORTED: return "not supported";
    case BYOL_E_IO: return "file input/output failed";
    case BYOL_E_DECODE: return "image could not be decoded";
    case BYOL_E_FORMAT: return "malformed or incompatible file";
    case BYOL_E_NONFINITE: return "non-finite value (NaN or infinity)";
    case BYOL_E_CANCELLED: return "cancelled by the cancel callback";
    case BYOL_E_ABI: return "struct_size not accepted by this library version";
    case BYOL_E_BLAS: return "BLAS provider failure";
    case BYOL_E_KEY: return "unknown configuration key or name";
    case BYOL_E_RANGE: return "value out of range or of the wrong type";
    default: return "unknown status code";
    }
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
