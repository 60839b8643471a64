/* Image-folder datasets: ROOT/<class>/.../<image> with one sub-folder per
 * class (labels number the class names in strcmp order), or ROOT/<image>
 * for an unlabeled set. A class folder is walked as torchvision's
 * ImageFolder walks it (sorted(os.walk(cls, followlinks=True)), each
 * folder's files sorted): images at any depth, folders in strcmp order of
 * their paths, files by name within a folder; a link back to an enclosing
 * folder is skipped with a warning instead of looping. Names starting with
 * '.' and files without an image extension (png jpg jpeg bmp tga gif pnm
 * pgm ppm, any case) are ignored. So labels and indices never depend on
 * the file system's order. A class folder without images keeps its label
 * and is reported through the log (BYOL_LOG_WARN). */
#define _DEFAULT_SOURCE /* d_type and DT_*: no stat per entry where the file system tells */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "dataset.h"

/* NUL-terminated names back to back, their offsets, and (after
 * names_sort) pointers to them in strcmp order. */
typedef struct names {
    char *pool;
    size_t used, cap;
    size_t *at;
    size_t n, cap_n;
    char **sorted;
} names;

static void names_free(names *l)
{
    byol__free(l->pool);
    byol__free(l->at);
    byol__free(l->sorted);
    memset(l, 0, sizeof *l);
}

/* Appends the parts joined by '/' as one name. */
static int names_add(names *l, const char *const *parts, int nparts)
{
    size_t len = 0, start = l->used;
    for (int i = 0; i < nparts; i++)
        len += strlen(parts[i]) + 1;
    if (byol__grow((void **)&l->pool, &l->cap, l->used + len, 1) != 0 ||
        byol__grow((void **)&l->at, &l->cap_n, l->n + 1, sizeof *l->at) != 0)
        return -1;
    for (int i = 0; i < nparts; i++) {
        size_t k = strlen(parts[i]);
        memcpy(l->pool + l->used, parts[i], k);
        l->used += k;
        /* a root given as "dir/" needs no second slash */
        if (i + 1 < nparts && !(k && parts[i][k - 1] == '/'))
            l->pool[l->used++] = '/';
    }
    l->pool[l->used++] = '\0';
    l->at[l->n++] = start;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* os.walk's order of whole paths: the folder parts by strcmp ("a" <
 * "a-b" < "a/x"), then the file names. */
static int cmp_walk(const void *a, const void *b)
{
    const char *p = *(char *const *)a, *q = *(char *const *)b;
    size_t dp = (size_t)(strrchr(p, '/') - p), dq = (size_t)(strrchr(q, '/') - q);
    int c = memcmp(p, q, dp < dq ? dp : dq);
    if (c == 0 && dp != dq)
        return dp < dq ? -1 : 1;
    return c ? c : strcmp(p + dp, q + dq);
}

static int names_sort(names *l, int (*cmp)(const void *, const void *))
{
    byol__free(l->sorted);
    l->sorted = byol__malloc((l->n ? l->n : 1) * sizeof *l->sorted);
    if (!l->sorted)
        return -1;
    for (size_t i = 0; i < l->n; i++)
        l->sorted[i] = l->pool + l->at[i];
    qsort(l->sorted, l->n, sizeof *l->sorted, cmp);
    return 0;
}

static int is_image_name(const char *name)
{
    static const char *const ext[] = { "png", "jpg", "jpeg", "bmp", "tga",
                                       "gif", "pnm", "pgm", "ppm" };
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name)
        return 0;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (strcasecmp(dot + 1, ext[i]) == 0)
            return 1;
    return 0;
}

/* BYOL__PATH_DIR, BYOL__PATH_FILE or 0 (anything else, or gone) for entry
 * de of d. */
static int entry_type(DIR *d, const struct dirent *de)
{
    struct stat st;
#ifdef DT_DIR
    if (de->d_type == DT_DIR)
        return BYOL__PATH_DIR;
    if (de->d_type == DT_REG)
        return BYOL__PATH_FILE;
#endif
    /* links and file systems that give no type: ask for the target */
    if (fstatat(dirfd(d), de->d_name, &st, 0) != 0)
        return 0;
    return S_ISDIR(st.st_mode) ? BYOL__PATH_DIR : S_ISREG(st.st_mode) ? BYOL__PATH_FILE : 0;
}

/* Lists dir: sub-folders into dirs (when not NULL), image files into
 * files, each sorted. BYOL_E_IO names dir. */
static int scan(const char *dir, names *dirs, names *files)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int rc = BYOL_OK;
    if (!d)
        return byol__err(BYOL_E_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    for (errno = 0; rc == BYOL_OK && (de = readdir(d)) != NULL; errno = 0) {
        const char *name = de->d_name;
        int type = name[0] == '.' ? 0 : entry_type(d, de);
        names *to = type == BYOL__PATH_DIR ? dirs
                    : type == BYOL__PATH_FILE && is_image_name(name) ? files : NULL;
        if (to && names_add(to, &name, 1) != 0)
            rc = byol__err(BYOL_E_NOMEM, "%s: out of memory listing the folder", dir);
    }
    if (rc == BYOL_OK && errno != 0)
        rc = byol__err(BYOL_E_IO, "%s: cannot list the folder: %s", dir, strerror(errno));
    closedir(d);
    if (rc == BYOL_OK && ((dirs && names_sort(dirs, cmp_str) != 0) ||
                          names_sort(files, cmp_str) != 0))
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory sorting the folder", dir);
    return rc;
}

/* Appends [dir/]file for every file to out, with label `label` into
 * ds->labels (-1: none; ds and cap_labels may then be NULL). */
static int add_files(byol_dataset *ds, names *out, size_t *cap_labels, const char *root,
                     const char *dir, const names *files, int32_t label)
{
    for (size_t i = 0; i < files->n; i++) {
        const char *parts[2] = { dir, files->sorted[i] };
        if ((dir ? names_add(out, parts, 2) : names_add(out, parts + 1, 1)) != 0 ||
            (label >= 0 && byol__grow((void **)&ds->labels, cap_labels, out->n,
                                      sizeof *ds->labels) != 0))
            return byol__err(BYOL_E_NOMEM, "%s: out of memory listing %zu images", root,
                             out->n);
        if (label >= 0)
            ds->labels[out->n - 1] = label;
    }
    return BYOL_OK;
}

/* The folders being walked, innermost first: a link to one of them loops. */
typedef struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
} ancestor;

static int walk(const char *dir, const ancestor *up, names *found);

/* Walks each sub-folder of dir (names in subs) into found. */
static int walk_subs(const char *dir, const ancestor *here, const names *subs, names *found)
{
    int rc = BYOL_OK;
    for (size_t i = 0; rc == BYOL_OK && i < subs->n; i++) {
        char *sub = byol__path_join(dir, subs->sorted[i]);
        rc = sub ? walk(sub, here, found)
                 : byol__err(BYOL_E_NOMEM, "%s: out of memory", dir);
        byol__free(sub);
    }
    return rc;
}

/* Appends the path of every image file under dir, at any depth, to found
 * (unsorted: add_class sorts them in os.walk's order). */
static int walk(const char *dir, const ancestor *up, names *found)
{
    struct stat st;
    names subs = { 0 }, files = { 0 };
    if (stat(dir, &st) != 0)
        return byol__err(BYOL_E_IO, "%s: cannot open the folder: %s", dir, strerror(errno));
    for (const ancestor *a = up; a; a = a->up)
        if (a->dev == st.st_dev && a->ino == st.st_ino) {
            byol__log(BYOL_LOG_WARN, "%s: a link back to an enclosing folder, skipped", dir);
            return BYOL_OK;
        }
    ancestor here = { st.st_dev, st.st_ino, up };
    int rc = scan(dir, &subs, &files);
    if (rc == BYOL_OK)
        rc = add_files(NULL, found, NULL, dir, dir, &files, -1);
    if (rc == BYOL_OK)
        rc = walk_subs(dir, &here, &subs, found);
    names_free(&subs);
    names_free(&files);
    return rc;
}

/* Class k: the images under root/cls, in os.walk's order, labelled k.
 * top is the root, so that a link to it is a loop too. */
static int add_class(byol_dataset *ds, names *out, size_t *cap_labels, const ancestor *top,
                     const char *root, const char *cls, int32_t k)
{
    names files = { 0 };
    char *dir = byol__path_join(root, cls);
    int rc = dir ? walk(dir, top, &files) : byol__err(BYOL_E_NOMEM, "%s: out of memory", root);
    if (rc == BYOL_OK && names_sort(&files, cmp_walk) != 0)
        rc = byol__err(BYOL_E_NOMEM, "%s: out of memory sorting the folder", dir);
    if (rc == BYOL_OK)
        rc = add_files(ds, out, cap_labels, root, NULL, &files, k);
    if (rc == BYOL_OK && files.n == 0)
        byol__log(BYOL_LOG_WARN, "%s: class folder \"%s\" holds no image files: class %d has "
                  "no samples", root, cls, (int)k);
    names_free(&files);
    byol__free(dir);
    return rc;
}

/* One class per sub-folder of root, in the sorted order of classes. */
static int add_classes(byol_dataset *ds, names *out, const char *root, const names *classes)
{
    size_t cap_labels = 0;
    struct stat st;
    int rc = BYOL_OK;
    if (classes->n > BYOL__MAX_CLASSES)
        return byol__err(BYOL_E_FORMAT, "%s: %zu class folders, more than %d", root,
                         classes->n, BYOL__MAX_CLASSES);
    if (stat(root, &st) != 0)
        return byol__err(BYOL_E_IO, "%s: cannot open the folder: %s", root, strerror(errno));
    ancestor top = { st.st_dev, st.st_ino, NULL };
    for (size_t k = 0; rc == BYOL_OK && k < classes->n; k++)
        rc = add_class(ds, out, &cap_labels, &top, root, classes->sorted[k], (int32_t)k);
    if (rc == BYOL_OK)
        rc = byol__ds_set_classes(ds, (int32_t)classes->n,
                                  (const char *const *)classes->sorted);
    return rc;
}

static int check_layout(const char *root, const names *dirs, const names *files)
{
    if (dirs->n && files->n)
        return byol__err(BYOL_E_FORMAT, "%s: holds both class folders (%s, ...) and loose "
                         "image files (%s, ...): labels would be ambiguous; move the "
                         "files into a class folder or the folders away", root,
                         dirs->sorted[0], files->sorted[0]);
    if (!dirs->n && !files->n)
        return byol__err(BYOL_E_FORMAT, "%s: empty folder: no image files (png, jpg, jpeg, "
                         "bmp, tga, gif, pnm, pgm, ppm) and no class sub-folders", root);
    return BYOL_OK;
}

static int list_images(byol_dataset *ds, const char *root, names *out)
{
    names dirs = { 0 }, files = { 0 };
    int rc = scan(root, &dirs, &files);
    if (rc == BYOL_OK)
        rc = check_layout(root, &dirs, &files);
    if (rc == BYOL_OK)
        rc = dirs.n ? add_classes(ds, out, root, &dirs)
                    : add_files(ds, out, NULL, root, root, &files, -1);
    if (rc == BYOL_OK && out->n == 0)
        rc = byol__err(BYOL_E_FORMAT, "%s: its %zu class folders hold no image files", root,
                       dirs.n);
    names_free(&dirs);
    names_free(&files);
    return rc;
}

int byol__folder_open(const byol_config *cfg, const char *path, byol_dataset **out)
{
    byol_dataset *ds = NULL;
    names list = { 0 };
    int rc = byol__ds_new(cfg, path, BYOL__DS_FILES, &ds);
    if (rc != BYOL_OK)
        return rc;
    rc = list_images(ds, path, &list);
    if (rc != BYOL_OK) {
        names_free(&list);
        byol_dataset_destroy(ds);
        return rc;
    }
    /* the list's blocks become the dataset's */
    ds->paths = list.pool;
    ds->path_at = list.at;
    ds->count = (int64_t)list.n;
    /* names_add joined the root with one '/', or none after a trailing one */
    ds->root_len = strlen(path) + (path[strlen(path) - 1] != '/');
    byol__free(list.sorted);
    *out = ds;
    return BYOL_OK;
}
