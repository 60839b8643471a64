/* A file read as bytes, gunzipped when it is gzip-compressed (it starts
 * with the gzip magic 1f 8b), for the IDX reader and the format sniffing
 * of byol_dataset_open.
 *
 * zlib's gzread would do the same, but it opens the file in blocking mode
 * (a FIFO hangs the open) and silently ignores any bytes after the last
 * gzip member that do not begin another member. Here the file is opened
 * through io/file.c (regular files only, never blocking), and its gzip
 * stream must run to the end of the file: several members one after the
 * other are one stream (RFC 1952; gzip and gunzip treat them so, and
 * zlib's gzread reads them whole), anything else after the last member is
 * an error. */
#ifndef BYOL_DATA_ZFILE_H
#define BYOL_DATA_ZFILE_H

#include <stddef.h>

typedef struct byol__zfile byol__zfile;

/* Opens the regular file at path (borrowed until byol__zfile_close, and
 * named in every message). Errors: those of byol__file_open_read
 * (BYOL_E_IO), BYOL_E_NOMEM. */
int byol__zfile_open(const char *path, byol__zfile **out);

/* Reads the next len bytes (fewer at the end) of the plain or gunzipped
 * data into buf; *got is the count, 0 at the end. Errors: BYOL_E_IO (a read
 * error), BYOL_E_FORMAT (corrupt or cut gzip data, trailing data after the
 * gzip stream: the message names the file and what is wrong),
 * BYOL_E_NOMEM. */
int byol__zfile_read(byol__zfile *z, void *buf, size_t len, size_t *got);

void byol__zfile_close(byol__zfile *z);

#endif
