/* An out-of-tree consumer of the installed libbyol: it sees only what
 * `make install` put under the prefix (see run.sh) and includes only the
 * umbrella header, as users are told to. Exit status 0 means all agreed. */
#include <stdio.h>
#include <string.h>

#include <byol/byol.h>

int main(void)
{
    int ok = 1;
    const char *lib = byol_version_string();
    const char *msg = byol_strerror(BYOL_E_NOMEM);

    printf("libbyol %s (header %s); BYOL_E_NOMEM: %s\n", lib, BYOL_VERSION_STRING, msg);
    if (strcmp(lib, BYOL_VERSION_STRING) != 0 || byol_version_number() != BYOL_VERSION_NUMBER) {
        fprintf(stderr, "hello: library %s does not match header %s\n", lib, BYOL_VERSION_STRING);
        ok = 0;
    }
    if (msg == NULL || msg[0] == '\0') {
        fprintf(stderr, "hello: byol_strerror returned no text\n");
        ok = 0;
    }
    return ok ? 0 : 1;
}
