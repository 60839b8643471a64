/* byol: train image encoders with BYOL from the command line.
 * Dispatches to one subcommand per file, and owns the error convention of
 * cli.h: one message buffer, printed once by cli_exit(). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_cmd = "byol";

static int g_code;          /* status the message below belongs to */
static char g_msg[4096];    /* the message, "" if none */

static const char usage[] =
    "Usage: byol <command> [options]\n"
    "       byol <command> --help\n"
    "\n"
    "Train image encoders with BYOL (Bootstrap Your Own Latent) on the CPU.\n"
    "\n"
    "Commands:\n"
    "  pretrain   train an encoder on a dataset, with checkpoints, metrics and a plot\n"
    "  eval       k-NN and linear-probe accuracy of an encoder on a train/test split\n"
    "  embed      write a dataset's embeddings to .npy or .safetensors\n"
    "  preview    write a PNG grid of images and their two augmented views\n"
    "  export     write a checkpoint's online encoder with torchvision names\n"
    "  info       describe a checkpoint or weight file\n"
    "\n"
    "Options:\n"
    "  -h, --help     show this help\n"
    "  --version      show the tool's and the library's version\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (file, data or library), 2 usage\n"
    "error (bad option or value), 130 interrupted (pretrain saves a checkpoint).\n"
    "Errors go to stderr as 'byol: <command>: <code>: <message>'.\n";

int cli_quiet;

void cli_warn(const char *fmt, ...)
{
    if (cli_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "byol: %s: warning: ", cli_cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The library's warnings (a warmup cut to the run, ...) are the command's:
 * the library never prints, it tells its log callback. */
static void on_library_log(int level, const char *message, void *user)
{
    (void)level;
    (void)user;
    cli_warn("%s", message);
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
} commands[] = {
    { "pretrain", cmd_pretrain }, { "eval", cmd_eval },       { "embed", cmd_embed },
    { "preview", cmd_preview },   { "export", cmd_export },   { "info", cmd_info },
};

static int set_message(int rc, const char *prefix, const char *fmt, va_list ap)
{
    size_t n = 0;
    if (prefix)
        n = (size_t)snprintf(g_msg, sizeof g_msg, "%s", prefix);
    if (n < sizeof g_msg)
        vsnprintf(g_msg + n, sizeof g_msg - n, fmt, ap);
    g_code = rc;
    return rc;
}

int cli_error(int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    set_message(rc, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int cli_lib(int rc)
{
    if (rc < 0) {
        snprintf(g_msg, sizeof g_msg, "%s", byol_last_error());
        g_code = rc;
    }
    return rc;
}

int cli_libf(int rc, const char *fmt, ...)
{
    if (rc >= 0)
        return rc;
    char ctx[512], lib[1536];
    snprintf(lib, sizeof lib, "%s", byol_last_error());
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    snprintf(g_msg, sizeof g_msg, "%s: %s", ctx, lib);
    g_code = rc;
    return rc;
}

const char *cli_message(int rc)
{
    return g_code == rc && g_msg[0] ? g_msg : byol_strerror(rc);
}

int cli_mute;

int cli_exit(int rc)
{
    if (rc == BYOL_OK || rc == CLI_HELP)
        return 0;
    if (rc == CLI_INTERRUPTED)
        return EXIT_INTERRUPTED;
    if (cli_mute)
        return rc == CLI_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
    const char *msg = cli_message(rc);
    if (rc == CLI_USAGE) {
        fprintf(stderr, "byol: %s: %s\n", cli_cmd, msg);
        fprintf(stderr, "Try 'byol %s --help' for more information.\n", cli_cmd);
        return EXIT_USAGE;
    }
    fprintf(stderr, "byol: %s: %s: %s\n", cli_cmd, byol_error_name(rc), msg);
    return EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
    byol_set_log_callback(on_library_log, NULL, BYOL_LOG_WARN);
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *word = argv[1];
    if (!strcmp(word, "-h") || !strcmp(word, "--help") || !strcmp(word, "help")) {
        fputs(usage, stdout);
        return 0;
    }
    if (!strcmp(word, "--version")) {
        printf("byol (libbyol) %s\n%s\n", byol_version_string(), cli_dist_about());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(word, commands[i].name)) {
            cli_cmd = commands[i].name;
            return commands[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "byol: '%s' is not a command. See 'byol --help'.\n", word);
    return EXIT_USAGE;
}
