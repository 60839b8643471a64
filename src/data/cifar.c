/* CIFAR-10 and CIFAR-100 binary batches (the "binary version" of
 * https://www.cs.toronto.edu/~kriz/cifar.html): fixed-size records of label
 * byte(s) then 32x32 R, G and B planes. The edition comes from the file
 * name (data_batch_*, test_batch* -> 10; train.bin, test.bin -> 100) or,
 * for other names, from which record size divides the file. Records are
 * copied into one block at open; images stay planar until byol_dataset_get
 * interleaves them. */
#include <stdio.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "dataset.h"
#include "io/file.h"

#define CIFAR_SIDE 32
#define CIFAR_MAX_FILES 5 /* data_batch_1 .. data_batch_5 */
#define CIFAR_MAX_CLASSES 100

int byol__cifar_edition(const char *path)
{
    const char *b = byol__path_base(path);
    if (!strncmp(b, "data_batch_", 11) || !strncmp(b, "test_batch", 10))
        return 10;
    if (!strcmp(b, "train.bin") || !strcmp(b, "test.bin"))
        return 100;
    return 0;
}

static int edition_by_size(size_t len, const char *name, int *edition)
{
    int d10 = len % (BYOL__CIFAR_PIXELS + 1) == 0, d100 = len % (BYOL__CIFAR_PIXELS + 2) == 0;
    if (d10 && d100)
        return byol__err(BYOL_E_FORMAT, "%s: %zu bytes divide into CIFAR-10 (3073-byte) and "
                         "CIFAR-100 (3074-byte) records alike; name the file data_batch_N.bin "
                         "or test_batch.bin (CIFAR-10), train.bin or test.bin (CIFAR-100)",
                         name, len);
    if (!d10 && !d100)
        return byol__err(BYOL_E_FORMAT, "%s: %zu bytes is not a whole number of CIFAR-10 "
                         "(3073-byte) or CIFAR-100 (3074-byte) records", name, len);
    *edition = d10 ? 10 : 100;
    return BYOL_OK;
}

/* Label bytes of record i in range: 0..9, or coarse 0..19 and fine 0..99. */
static int check_labels(const uint8_t *rec, size_t i, const char *name, int edition)
{
    if (edition == 10 && rec[0] >= 10)
        return byol__err(BYOL_E_FORMAT, "%s: record %zu: label %u is not a CIFAR-10 class "
                         "(0..9)", name, i, rec[0]);
    if (edition == 100 && (rec[0] >= 20 || rec[1] >= 100))
        return byol__err(BYOL_E_FORMAT, "%s: record %zu: labels %u (coarse, 0..19) and %u "
                         "(fine, 0..99) are not both CIFAR-100 classes", name, i, rec[0],
                         rec[1]);
    return BYOL_OK;
}

int byol__cifar_parse(const uint8_t *buf, size_t len, const char *name, int edition,
                      byol__cifar *out)
{
    size_t rs;
    int rc;
    if (len == 0)
        return byol__err(BYOL_E_FORMAT, "%s: empty file (0 bytes), not a CIFAR batch", name);
    if (edition == 0 && (rc = edition_by_size(len, name, &edition)) != BYOL_OK)
        return rc;
    rs = BYOL__CIFAR_PIXELS + (edition == 10 ? 1 : 2);
    if (len % rs)
        return byol__err(BYOL_E_FORMAT, "%s: %zu bytes is not a whole number of %zu-byte "
                         "CIFAR-%d records (%zu records and %zu bytes over)", name, len, rs,
                         edition, len / rs, len % rs);
    for (size_t i = 0; i < len / rs; i++)
        if ((rc = check_labels(buf + i * rs, i, name, edition)) != BYOL_OK)
            return rc;
    out->classes = edition;
    out->count = len / rs;
    out->record_size = rs;
    out->records = buf;
    return BYOL_OK;
}

/* ---- the dataset --------------------------------------------------------- */

/* Appends the records of one parsed file to the dataset's block and labels. */
static int append(byol_dataset *ds, size_t *cap_px, size_t *cap_lb, const byol__cifar *c,
                  int coarse, const char *path)
{
    size_t n = (size_t)ds->count, label_at = c->classes == 100 && !coarse ? 1 : 0;
    if (byol__grow((void **)&ds->block, cap_px, (n + c->count) * BYOL__CIFAR_PIXELS, 1) != 0 ||
        byol__grow((void **)&ds->labels, cap_lb, n + c->count, sizeof *ds->labels) != 0)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory for %zu records", path,
                         n + c->count);
    for (size_t i = 0; i < c->count; i++) {
        const uint8_t *rec = c->records + i * c->record_size;
        memcpy(ds->block + (n + i) * BYOL__CIFAR_PIXELS, rec + c->record_size -
               BYOL__CIFAR_PIXELS, BYOL__CIFAR_PIXELS);
        ds->labels[n + i] = rec[label_at];
    }
    ds->count = (int64_t)(n + c->count);
    return BYOL_OK;
}

/* Reads, checks and appends one batch file; every file of a dataset must
 * be of the same edition (*edition 0 until the first). */
static int add_file(byol_dataset *ds, size_t caps[2], const char *path, int coarse,
                    int *edition)
{
    unsigned char *buf;
    size_t len;
    byol__cifar c;
    int rc = byol__file_read(path, &buf, &len);
    if (rc != BYOL_OK)
        return rc;
    rc = byol__cifar_parse(buf, len, path, byol__cifar_edition(path), &c);
    if (rc == BYOL_OK && *edition && c.classes != *edition)
        rc = byol__err(BYOL_E_FORMAT, "%s: a CIFAR-%d batch among CIFAR-%d batches", path,
                       c.classes, *edition);
    if (rc == BYOL_OK)
        rc = append(ds, &caps[0], &caps[1], &c, coarse, path);
    *edition = rc == BYOL_OK ? c.classes : *edition;
    byol__free(buf);
    return rc;
}

/* Adds dir/name to files when it is a regular file. */
static int add_if_file(const char *dir, const char *name, char **files, int *n)
{
    char *p = byol__path_join(dir, name);
    if (!p)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory", dir);
    if (byol__path_type(p) == BYOL__PATH_FILE)
        files[(*n)++] = p;
    else
        byol__free(p);
    return BYOL_OK;
}

/* CIFAR-10's training batches data_batch_1..5.bin, all of them: a folder
 * holding only some (an interrupted download or extraction) would train on
 * part of the data without a word, so it is refused, naming the missing. */
static int train_batches(const char *dir, char **files, int *n)
{
    char name[32], missing[128] = "";
    int rc = BYOL_OK;
    for (int k = 1; rc == BYOL_OK && k <= CIFAR_MAX_FILES; k++) {
        int had = *n;
        snprintf(name, sizeof name, "data_batch_%d.bin", k);
        rc = add_if_file(dir, name, files, n);
        if (*n == had)
            snprintf(missing + strlen(missing), sizeof missing - strlen(missing), "%s%s",
                     *missing ? ", " : "", name);
    }
    if (rc == BYOL_OK && *n > 0 && *n < CIFAR_MAX_FILES)
        rc = byol__err(BYOL_E_FORMAT, "%s: %s missing: a CIFAR-10 folder holds "
                       "data_batch_1.bin .. data_batch_5.bin (an interrupted download?); "
                       "name one batch file to use it alone", dir, missing);
    return rc;
}

/* The batches of a folder for data.split: data_batch_1..5.bin, else
 * train.bin; test_batch.bin, else test.bin. */
static int batch_files(const byol_config *cfg, const char *dir, char **files, int *n)
{
    const char *split = byol__cfg_str(cfg, BYOL__K_DATA_SPLIT);
    int rc = BYOL_OK;
    if (!strcmp(split, "test")) {
        rc = add_if_file(dir, "test_batch.bin", files, n);
        if (rc == BYOL_OK && *n == 0)
            rc = add_if_file(dir, "test.bin", files, n);
    } else {
        rc = train_batches(dir, files, n);
        if (rc == BYOL_OK && *n == 0)
            rc = add_if_file(dir, "train.bin", files, n);
    }
    if (rc == BYOL_OK && *n == 0)
        rc = byol__err(BYOL_E_IO, "%s: no CIFAR batch files for data.split=%s (%s)", dir,
                       split, strcmp(split, "test") ? "data_batch_1.bin .. data_batch_5.bin "
                       "or train.bin" : "test_batch.bin or test.bin");
    return rc;
}

/* Cuts text into trimmed non-empty lines; more than max is an error (-1). */
static int split_lines(char *text, size_t len, const char **lines, int max)
{
    int n = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;
        while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        if (*p && n == max)
            return -1;
        if (*p)
            lines[n++] = p;
        p = nl ? nl + 1 : end;
    }
    return n;
}

/* Class names from the edition's names file in dir, else "0", "1", ... */
static int class_names(byol_dataset *ds, const char *dir, int edition, int coarse)
{
    const char *file = edition == 10 ? "batches.meta.txt"
                       : coarse ? "coarse_label_names.txt" : "fine_label_names.txt";
    int want = edition == 10 ? 10 : coarse ? 20 : 100, n, rc;
    const char *names[CIFAR_MAX_CLASSES];
    char *path = byol__path_join(dir, file);
    unsigned char *text;
    size_t len;
    if (!path)
        return byol__err(BYOL_E_NOMEM, "%s: out of memory", dir);
    if (byol__path_type(path) != BYOL__PATH_FILE) {
        byol__free(path);
        return byol__ds_set_classes(ds, want, NULL);
    }
    /* byol__file_read ends the text with a NUL, where a last line without
     * '\n' is cut */
    rc = byol__file_read(path, &text, &len);
    if (rc == BYOL_OK) {
        n = split_lines((char *)text, len, names, want);
        rc = n == want ? byol__ds_set_classes(ds, want, names)
                       : byol__err(BYOL_E_FORMAT, "%s: %s class names where CIFAR-%d has %d",
                                   path, n < 0 ? "more" : "fewer", edition, want);
        byol__free(text);
    }
    byol__free(path);
    return rc;
}

/* The batch files (one, or a folder's) and the folder of the names file. */
static int locate(const byol_config *cfg, const char *path, char **files, int *n, char **dir)
{
    if (byol__path_type(path) == BYOL__PATH_DIR) {
        *dir = byol__strdup(path);
        return *dir ? batch_files(cfg, path, files, n)
                    : byol__err(BYOL_E_NOMEM, "%s: out of memory", path);
    }
    *dir = byol__path_dir(path);
    files[0] = byol__strdup(path);
    if (!*dir || !files[0])
        return byol__err(BYOL_E_NOMEM, "%s: out of memory", path);
    *n = 1;
    return BYOL_OK;
}

static int load(byol_dataset *ds, const byol_config *cfg, char **files, int n,
                const char *dir)
{
    int coarse = !strcmp(byol__cfg_str(cfg, BYOL__K_DATA_CIFAR_LABELS), "coarse"), edition = 0;
    size_t caps[2] = { 0, 0 };
    int rc = BYOL_OK;
    for (int i = 0; rc == BYOL_OK && i < n; i++)
        rc = add_file(ds, caps, files[i], coarse, &edition);
    if (rc == BYOL_OK)
        rc = class_names(ds, dir, edition, coarse);
    ds->pixels = ds->block;
    ds->height = ds->width = CIFAR_SIDE;
    ds->src_channels = 3;
    ds->planar = 1;
    return rc;
}

int byol__cifar_open(const byol_config *cfg, const char *path, byol_dataset **out)
{
    char *files[CIFAR_MAX_FILES + 1] = { NULL }, *dir = NULL;
    byol_dataset *ds = NULL;
    int n = 0, rc = locate(cfg, path, files, &n, &dir);
    if (rc == BYOL_OK)
        rc = byol__ds_new(cfg, path, BYOL__DS_RECORDS, &ds);
    if (rc == BYOL_OK)
        rc = load(ds, cfg, files, n, dir);
    for (int i = 0; i <= CIFAR_MAX_FILES; i++)
        byol__free(files[i]);
    byol__free(dir);
    if (rc != BYOL_OK) {
        byol_dataset_destroy(ds);
        return rc;
    }
    *out = ds;
    return BYOL_OK;
}
