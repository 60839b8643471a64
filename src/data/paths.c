/* Small path helpers of the dataset readers (see dataset.h). */
#include <string.h>
#include <sys/stat.h>

#include "core/internal.h"
#include "dataset.h"

char *byol__path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    size_t slash = a && dir[a - 1] != '/';
    char *p = byol__malloc(a + slash + b + 1);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    if (slash)
        p[a] = '/';
    memcpy(p + a + slash, name, b + 1);
    return p;
}

char *byol__path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *p;
    if (!slash)
        return byol__strdup(".");
    if (slash == path)
        return byol__strdup("/");
    p = byol__malloc((size_t)(slash - path) + 1);
    if (p) {
        memcpy(p, path, (size_t)(slash - path));
        p[slash - path] = '\0';
    }
    return p;
}

int byol__path_type(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0;
    return S_ISDIR(st.st_mode) ? BYOL__PATH_DIR : S_ISREG(st.st_mode) ? BYOL__PATH_FILE : 0;
}

const char *byol__path_base(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}
