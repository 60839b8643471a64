/* The byol command: declarations shared by its subcommands and helpers.
 *
 * Built only on libbyol's public API (<byol/byol.h>). Error handling is one
 * convention throughout: a fallible function returns a libbyol status
 * (BYOL_OK or a negative BYOL_E_* code) or one of the two codes below, and
 * leaves its message in one buffer (cli_error*); the subcommand's last act
 * is `return cli_exit(rc)`, which prints the message once and maps the
 * status to the process exit code. */
#ifndef BYOL_CLI_H
#define BYOL_CLI_H

#include <stdint.h>
#include <stdio.h>

#include <byol/byol.h>

/* Exit codes, documented in every --help and in tools/byol/README.md. */
#define EXIT_RUNTIME 1      /* a library or file error */
#define EXIT_USAGE 2        /* a bad flag, value or missing argument */
#define EXIT_INTERRUPTED 130 /* SIGINT/SIGTERM; a checkpoint was saved */

/* Statuses of the tool itself, beside the library's BYOL_E_* codes. */
#define CLI_USAGE (-1000)       /* usage error: exit 2 */
#define CLI_INTERRUPTED (-1001) /* stopped by a signal: exit 130 */
#define CLI_HELP 1              /* --help was asked for: print usage, exit 0 */

/* ---- subcommands (one file each) ----------------------------------------- */
int cmd_pretrain(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_preview(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* ---- errors (main.c) -------------------------------------------------------- */
/* Name of the running subcommand, for messages ("pretrain"). */
extern const char *cli_cmd;
/* Records a message of the tool's own for status rc; returns rc. */
int cli_error(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Passes a library status through, copying byol_last_error() when it failed. */
int cli_lib(int rc);
/* Like cli_lib, prefixing the library's message with context ("--set 'x=1'"). */
int cli_libf(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message recorded for rc, else the library's text for the code. */
const char *cli_message(int rc);
/* Prints the recorded message for rc (if any, unless cli_mute) and returns
 * the exit code. */
int cli_exit(int rc);
/* Set on a rank of a data-parallel run whose error another rank prints. */
extern int cli_mute;
/* Set by a subcommand's --quiet: warnings are not printed. */
extern int cli_quiet;
/* Prints "byol: <command>: warning: <message>" on stderr unless cli_quiet;
 * the library's BYOL_LOG_WARN messages come out the same way. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- option parsing (args.c) -------------------------------------------------- */
typedef enum { OPT_FLAG, OPT_STRING, OPT_INT, OPT_LIST } cli_opt_kind;

/* A repeatable option's values (argv strings, borrowed). */
typedef struct cli_list {
    const char **items;
    int count;
} cli_list;

typedef struct cli_opt {
    const char *name;   /* long name without dashes: "data" for --data */
    char short_name;    /* 'o' for -o, or 0 */
    cli_opt_kind kind;
    void *dest;         /* int * (FLAG), const char ** (STRING), int64_t * (INT), cli_list * */
    int64_t min, max;   /* bounds of an OPT_INT */
    int seen;           /* set by the parser */
} cli_opt;

/* Rows of option tables that several subcommands share, so that a flag
 * reads, checks and stores the same everywhere. Each expands to rows
 * separated by commas: put it in a table like one row. */
/* The encoder (a cli_model *m): --checkpoint, --weights, --arch, --random-init, --pixels. */
#define CLI_OPTS_MODEL(m)                                             \
    { "checkpoint", 0, OPT_STRING, &(m)->checkpoint, 0, 0, 0 },        \
    { "arch", 0, OPT_STRING, &(m)->arch, 0, 0, 0 },                    \
    { "weights", 0, OPT_STRING, &(m)->weights, 0, 0, 0 },              \
    { "random-init", 0, OPT_FLAG, &(m)->random_init, 0, 0, 0 },        \
    { "pixels", 0, OPT_FLAG, &(m)->pixels, 0, 0, 0 }
/* The recipe (a cli_common *c): --preset, --set. */
#define CLI_OPTS_RECIPE(c)                                            \
    { "preset", 0, OPT_STRING, &(c)->preset, 0, 0, 0 },                \
    { "set", 0, OPT_LIST, &(c)->sets, 0, 0, 0 }
/* How the data is read (a cli_common *c): --format, --split. */
#define CLI_OPTS_DATA(c)                                              \
    { "format", 0, OPT_STRING, &(c)->format, 0, 0, 0 },                \
    { "split", 0, OPT_STRING, &(c)->split, 0, 0, 0 }
/* Batch and threads (a cli_common *c): --batch-size, --threads, --workers. */
#define CLI_OPTS_COMPUTE(c)                                           \
    { "batch-size", 0, OPT_INT, &(c)->batch_size, 2, 1 << 20, 0 },     \
    { "threads", 0, OPT_INT, &(c)->threads, 0, 1024, 0 },              \
    { "workers", 0, OPT_INT, &(c)->workers, 1, 256, 0 }
/* The row that ends every table. */
#define CLI_OPTS_END { NULL, 0, OPT_FLAG, NULL, 0, 0, 0 }

/* Parses argv[1..argc-1] against opts (terminated by a NULL name). Non-option
 * words go to positional[0..*npositional-1] (at most max_positional).
 * Returns BYOL_OK, CLI_HELP (-h/--help seen) or CLI_USAGE (message recorded). */
int cli_parse(int argc, char **argv, cli_opt *opts, const char **positional, int max_positional,
              int *npositional);
/* True if option `name` was given on the command line. */
int cli_seen(const cli_opt *opts, const char *name);
/* A usage error naming both unless options a and b were both given. */
int cli_require(const cli_opt *opts, const char *a, const char *b);
void cli_list_free(cli_list *l);

/* ---- configuration and models (common.c) ------------------------------------- */
/* The flags every data-reading subcommand shares. Zero/NULL means "not given". */
typedef struct cli_common {
    const char *preset;
    cli_list sets;
    const char *format;
    const char *split;
    int64_t batch_size, threads, workers;
    const char *arch;  /* net.arch, from the model's --arch */
} cli_common;

/* Applies the user's recipe to cfg: --preset, every --set in order, then
 * the explicit flags. A bad preset, key or value is a usage error. */
int cli_recipe_apply(byol_config *cfg, const cli_common *c);
/* Does the recipe set `key` (to any value, its default included)? */
int cli_recipe_sets(const cli_common *c, const char *key);
/* Builds the config: defaults, then `base` settings (a checkpoint's stored
 * config, may be NULL), then --preset, then every --set in order, then the
 * explicit flags. A bad preset, key or value is a usage error. */
int cli_config_build(const char *base, const cli_common *c, byol_config **out);

/* Reads a libbyol checkpoint's stored configuration (owned by the caller, free()). */
int cli_checkpoint_config(const char *path, char **config);

/* How a subcommand starts, given the status of its parse(): prints usage
 * for CLI_HELP; after a good parse builds the config from the settings
 * stored in `checkpoint` (NULL: none) and the flags (cli_config_build). */
int cli_setup(int rc, const char *usage, const char *checkpoint, const cli_common *c,
              byol_config **cfg);

/* Where an encoder's weights come from. */
typedef struct cli_model {
    const char *checkpoint;  /* a trainer checkpoint */
    const char *weights;     /* an encoder state_dict (byol export, torchvision) */
    const char *arch;        /* --arch: the weights' architecture; their fc.* is left out */
    int random_init;         /* the architecture's initialisation, seed from the config */
    int pixels;              /* no encoder: the evaluation transform's pixels are the features */
} cli_model;

/* Checks that exactly one source is chosen (usage error otherwise). */
int cli_model_check(const cli_model *m, const char *choices);

/* The encoder for m: from a checkpoint (through a trainer, which *trainer
 * then owns; destroy it after the encoder is no longer used), a weights file
 * or a fresh initialisation (*net owned by the caller). For m->pixels both
 * stay NULL. *encoder is the one to use. */
int cli_model_open(const cli_model *m, const byol_config *cfg, byol_trainer **trainer,
                   byol_net **net, byol_net **encoder);

/* How eval and embed start: cli_setup() with the checkpoint's settings as
 * the base, then (--weights) the settings the weight file records
 * (byol_net_export), which the recipe may repeat but not contradict.
 * *stored: a checkpoint or the file gave the image size. */
int cli_model_setup(int rc, const char *usage, const cli_model *m, cli_common *c,
                    byol_config **cfg, int *stored);
/* The size of images and views (fit.c): where neither the recipe nor a
 * stored configuration (`stored`) sets net.image_size or augment.size,
 * both become the data's (its first image's shorter side) up to 224; where
 * one is set the other follows it. Both set and different: an error.
 * Views larger than the images: a warning. */
int cli_fit_image_size(byol_config *cfg, const cli_common *c, int stored,
                       const byol_dataset *ds, const char *path);
/* Opens a dataset, test split if `test` (matters for IDX/CIFAR directories). */
int cli_dataset_open(const byol_config *cfg, const char *path, int test, byol_dataset **out);

/* Features of n images and their labels. */
typedef struct cli_feats {
    float *x;          /* [n, dim] */
    int32_t *y;        /* [n], -1 for unlabelled images */
    int64_t n, dim;
    int from_library;  /* from byol_embed_dataset(): released with byol_free() */
} cli_feats;

/* Features of a dataset: with limit 0 (or >= its size) all images, else
 * `limit` images evenly spaced over it (so a folder sorted by class keeps
 * every class). encoder NULL gives the evaluation transform's pixels. */
int cli_features(byol_net *encoder, const byol_config *cfg, const byol_dataset *ds,
                 int64_t limit, cli_feats *f);
/* The dataset index of feature row k of n taken from `size` images. */
int64_t cli_feature_index(int64_t k, int64_t n, int64_t size);
void cli_feats_free(cli_feats *f);

/* Writes s as a JSON string literal (quotes and escapes). */
void cli_json_string(FILE *f, const char *s);
/* Creates a directory (and missing parents); an existing one is fine. */
int cli_mkdir_p(const char *path);
/* Seconds on a monotonic clock. */
double cli_now(void);
/* "1h02m", "3m05s", "12s" into buf. */
void cli_format_duration(double seconds, char *buf, size_t len);

/* ---- files the tool writes ------------------------------------------------------ */
/* len bytes as the file at path, atomically (byol_file_write_atomic). */
int cli_write_file(const char *path, const void *data, size_t len);
/* NPY v1.0, float32 [rows, cols] or int32 [rows] (cols 0); atomic (npy.c). */
int cli_npy_write_f32(const char *path, const float *data, int64_t rows, int64_t cols);
int cli_npy_write_i32(const char *path, const int32_t *data, int64_t rows);

/* A file the tool opens itself (rundir.c; open(2) flags: O_RDONLY, O_WRONLY | O_CREAT
 * | O_APPEND, ...), following links: anything but a regular file (a FIFO,
 * a device, a directory) is refused with BYOL_E_IO naming it and its kind,
 * at once (opened O_NONBLOCK, so a FIFO cannot block the open). *fd, or
 * *f as a stream ("r", "a" or "w" after the flags), owned by the caller. */
int cli_open_regular(const char *path, int flags, int *fd);
int cli_fopen(const char *path, int flags, FILE **f);

/* ---- the run directory (rundir.c) ------------------------------------------------ */
/* DIR/name into buf; too long for buf: a usage error naming --out. */
int cli_out_path(char *buf, size_t len, const char *dir, const char *name);
/* Takes the lock of run directory DIR for as long as *fd stays open (the
 * process's life: close(*fd) or exit releases it, kill -9 included): an
 * flock(LOCK_EX) on DIR/byol.lock, into which the holder writes "byol
 * <command>, pid N on host H". Held elsewhere: BYOL_E_IO at once, naming
 * DIR and the holder. */
int cli_rundir_lock(const char *dir, int *fd);
/* A fresh run's start in DIR (locked): removes the files a run writes
 * (checkpoint.safetensors first, then plot.svg, metrics.jsonl, preview.png,
 * config.txt) and syncs DIR; nothing else. One of them that is not a
 * regular file (a link, a FIFO, ...) is refused before anything is removed. */
int cli_rundir_clear(const char *dir);

/* ---- progress line (progress.c) -------------------------------------------------- */
typedef struct cli_progress {
    int live;            /* stderr is a terminal: one line redrawn with \r */
    int quiet;
    double last_print;   /* when the last plain line was printed */
    double interval;     /* seconds between plain lines */
    int line_open;       /* a live line is on screen */
} cli_progress;

/* What the progress line shows after a step. */
typedef struct cli_status {
    int64_t epoch, epochs;   /* 0-based epoch of the step, epochs in the run */
    int64_t step, total;     /* steps done, steps in the run */
    double loss, lr, tau, img_s, eta_s;
} cli_status;

void cli_progress_init(cli_progress *p, int quiet);
/* Shows the state after a step; lines are rate-limited, `force` prints one. */
void cli_progress_step(cli_progress *p, const cli_status *s, int force);
/* Prints a message on its own line (ends a live line first). */
void cli_progress_note(cli_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cli_progress_end(cli_progress *p);

/* ---- metrics and plot (metrics.c, svg.c) -------------------------------------------- */
typedef struct cli_point {
    double step, value;
} cli_point;

typedef struct cli_series {
    cli_point *p;
    int64_t n, cap;
} cli_series;

typedef struct cli_metrics {
    FILE *f;
    char *path;
    cli_series loss;     /* loss at each logged step */
    cli_series knn;      /* k-NN accuracy of each monitor run */
    double elapsed0;     /* elapsed seconds of the run(s) before a resume */
} cli_metrics;

/* Opens OUT/metrics.jsonl. Resuming from `step` > 0 keeps the records of
 * earlier steps (dropping any logged after the checkpoint) and reloads them
 * for the plot; step 0 starts a new file. */
int cli_metrics_open(cli_metrics *m, const char *path, int64_t step);
int cli_metrics_step(cli_metrics *m, int64_t epoch, const byol_step_stats *s, double img_s,
                     double elapsed);
int cli_metrics_monitor(cli_metrics *m, int64_t step, int64_t epoch, double knn, int64_t bank,
                        int64_t queries, double seconds, double elapsed);
void cli_metrics_close(cli_metrics *m);
int cli_series_add(cli_series *s, double step, double value);

/* ---- data-parallel runs (dist.c) --------------------------------------------------- */
/* This process's place in `mpirun -np N byol pretrain` (docs/cluster.md):
 * rank 0 of 1 in a plain run. */
typedef struct cli_dist {
    int rank, size;
    int local_size;  /* ranks on this machine, which share its cores */
    int mpi;         /* MPI was initialised here; cli_dist_end() finalises it */
    byol_comm comm;  /* the trainer's communicator when size > 1 (libbyol-mpi) */
} cli_dist;

/* Joins the run when an MPI launcher started this process (its environment
 * says so), else stays rank 0 of 1. A build without MPI refuses a launch
 * of several ranks (BYOL_E_COMM). */
int cli_dist_init(cli_dist *d);
/* Collective: every rank passes its status and, in *go, whether it wants
 * to go on; every rank gets back whether all do, and an error if any rank
 * failed: its own, or the lowest failing rank's (a message naming that
 * rank, printed by rank 0 alone: see cli_mute). Ranks must call it the same
 * number of times; a plain run gets rc back. */
int cli_dist_agree(cli_dist *d, int rc, int *go);
/* Sets `threads` to the cores of this rank's share of its machine (a plain
 * run: nothing). */
int cli_dist_threads(const cli_dist *d, byol_config *cfg);
void cli_dist_end(cli_dist *d);
/* Whether this build trains under mpirun, for --version. */
const char *cli_dist_about(void);

/* Writes the SVG plot of loss and monitor accuracy, atomically. */
int cli_plot_write(const char *path, const cli_series *loss, const cli_series *knn,
                   int64_t total_steps);

#endif
