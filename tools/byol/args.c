/* Option parsing: GNU-style long options (--name value, --name=value), a few
 * short ones, "--" to end options. Hand-written rather than getopt_long so
 * that every mistake gets a message naming the option and the value, and
 * so integer flags are range-checked in one place. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static cli_opt *find_long(cli_opt *opts, const char *name, size_t len)
{
    for (cli_opt *o = opts; o->name; o++)
        if (strlen(o->name) == len && !strncmp(o->name, name, len))
            return o;
    return NULL;
}

static cli_opt *find_short(cli_opt *opts, char c)
{
    for (cli_opt *o = opts; o->name; o++)
        if (o->short_name && o->short_name == c)
            return o;
    return NULL;
}

static int list_add(cli_list *l, const char *value)
{
    const char **items = realloc(l->items, (size_t)(l->count + 1) * sizeof *items);
    if (!items)
        return cli_error(BYOL_E_NOMEM, "out of memory parsing options");
    items[l->count++] = value;
    l->items = items;
    return BYOL_OK;
}

static int parse_int(const cli_opt *o, const char *value)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    if (errno || end == value || *end || v < o->min || v > o->max)
        return cli_error(CLI_USAGE, "--%s: '%s' is not a whole number in [%" PRId64 ", %" PRId64
                         "]", o->name, value, o->min, o->max);
    *(int64_t *)o->dest = v;
    return BYOL_OK;
}

/* Stores value into o; value is NULL for a flag. As with most Unix tools
 * the last of a repeated option wins, so scripts can append overrides. */
static int store(cli_opt *o, const char *value)
{
    o->seen = 1;
    switch (o->kind) {
    case OPT_FLAG: *(int *)o->dest = 1; return BYOL_OK;
    case OPT_STRING:
        if (!*value)
            return cli_error(CLI_USAGE, "--%s: empty value", o->name);
        *(const char **)o->dest = value;
        return BYOL_OK;
    case OPT_INT: return parse_int(o, value);
    case OPT_LIST: return list_add((cli_list *)o->dest, value);
    }
    return BYOL_OK;
}

/* Handles argv[*i] = "--name[=value]"; may consume argv[*i + 1]. */
static int parse_long(int argc, char **argv, int *i, cli_opt *opts)
{
    const char *arg = argv[*i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    if (len == 4 && !strncmp(arg, "help", 4))
        return CLI_HELP;
    cli_opt *o = find_long(opts, arg, len);
    if (!o)
        return cli_error(CLI_USAGE, "unknown option '--%.*s'", (int)len, arg);
    if (o->kind == OPT_FLAG) {
        if (eq)
            return cli_error(CLI_USAGE, "--%s takes no value", o->name);
        return store(o, NULL);
    }
    if (eq)
        return store(o, eq + 1);
    if (*i + 1 >= argc)
        return cli_error(CLI_USAGE, "--%s needs a value", o->name);
    return store(o, argv[++*i]);
}

static int parse_short(int argc, char **argv, int *i, cli_opt *opts)
{
    const char *arg = argv[*i];
    if (!strcmp(arg, "-h"))
        return CLI_HELP;
    cli_opt *o = arg[2] ? NULL : find_short(opts, arg[1]);
    if (!o)
        return cli_error(CLI_USAGE, "unknown option '%s'", arg);
    if (o->kind == OPT_FLAG)
        return store(o, NULL);
    if (*i + 1 >= argc)
        return cli_error(CLI_USAGE, "-%c needs a value", o->short_name);
    return store(o, argv[++*i]);
}

int cli_parse(int argc, char **argv, cli_opt *opts, const char **positional, int max_positional,
              int *npositional)
{
    /* --help wins wherever it is, even after a mistake. */
    for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return CLI_HELP;
    int npos = 0, rc = BYOL_OK, options_done = 0;
    for (int i = 1; i < argc && rc == BYOL_OK; i++) {
        const char *arg = argv[i];
        if (!options_done && !strcmp(arg, "--"))
            options_done = 1;
        else if (!options_done && arg[0] == '-' && arg[1] == '-')
            rc = parse_long(argc, argv, &i, opts);
        else if (!options_done && arg[0] == '-' && arg[1])
            rc = parse_short(argc, argv, &i, opts);
        else if (npos < max_positional)
            positional[npos++] = arg;
        else
            rc = cli_error(CLI_USAGE, "unexpected argument '%s'", arg);
    }
    if (npositional)
        *npositional = npos;
    return rc;
}

int cli_seen(const cli_opt *opts, const char *name)
{
    for (const cli_opt *o = opts; o->name; o++)
        if (!strcmp(o->name, name))
            return o->seen;
    return 0;
}

int cli_require(const cli_opt *opts, const char *a, const char *b)
{
    if (cli_seen(opts, a) && cli_seen(opts, b))
        return BYOL_OK;
    return cli_error(CLI_USAGE, "--%s and --%s are required", a, b);
}

void cli_list_free(cli_list *l)
{
    free(l->items);
    l->items = NULL;
    l->count = 0;
}
