/* Trainer checkpoints: every network's state_dict under a prefix
 * ("online.encoder.", ..., "target.projector."), the optimizer buffers
 * ("optim.<name>") and the scalars and configuration in the metadata. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/internal.h"
#include "io/safetensors.h"
#include "nn/nn.h"
#include "train/trainer.h"

static int add_optim(const byol_trainer *t, byol__st_list *l)
{
    byol__optim_state st;
    byol__optim_get_state(t->optim, &st);
    int rc = BYOL_OK;
    for (int32_t b = 0; rc == BYOL_OK && b < st.nbuf; b++) {
        char name[64];
        snprintf(name, sizeof name, "optim.%s", st.name[b]);
        rc = byol__st_list_add(l, name, BYOL__ST_F32, 1, &st.count, st.buf[b],
                               (size_t)st.count * sizeof(float));
    }
    return rc;
}

/* The settings without train.allow_mode_change and allow_optim_change:
 * leave to resume under other modes or another optimizer is given for one
 * load, not inherited by every later resume. */
static int serialize_config(const byol_config *cfg, char **out)
{
    byol_config *c = NULL;
    int rc = byol_config_copy(cfg, &c);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(c, "train.allow_mode_change", 0);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(c, "train.allow_optim_change", 0);
    if (rc == BYOL_OK)
        rc = byol_config_serialize(c, out);
    byol_config_destroy(c);
    return rc;
}

int byol_trainer_save(const byol_trainer *t, const char *path)
{
    if (!t || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_save: NULL argument");
    if (!*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_save: empty path");
    byol__st_list l = { 0 };
    byol_net *nets[BYOL__NETS];
    const char *prefix[BYOL__NETS];
    byol__trainer_nets(t, nets, prefix);
    int rc = BYOL_OK;
    for (int k = 0; rc == BYOL_OK && k < BYOL__NETS; k++)
        rc = byol__nn_entries(nets[k], prefix[k], &l);
    if (rc == BYOL_OK)
        rc = add_optim(t, &l);
    char *config = NULL;
    if (rc == BYOL_OK)
        rc = serialize_config(t->cfg, &config);
    byol__optim_state st;
    byol__optim_get_state(t->optim, &st);
    char step[32], total[32], osteps[32];
    snprintf(step, sizeof step, "%" PRId64, t->step);
    snprintf(total, sizeof total, "%" PRId64, t->total_steps);
    snprintf(osteps, sizeof osteps, "%" PRId64, *st.steps);
    char modes[128];
    byol__nn_modes(t->online[BYOL__ENC], modes, sizeof modes);
    const char *meta[] = { "format", BYOL__CHECKPOINT_FORMAT,
                           "libbyol_version", BYOL_VERSION_STRING,
                           "step", step, "total_steps", total, "optim_steps", osteps,
                           "modes", modes, "config", config ? config : "" };
    if (rc == BYOL_OK)
        rc = byol__st_write(path, l.t, l.n, meta, 7);
    byol_free(config);
    byol__st_list_free(&l);
    return rc;
}

/* A metadata count in [lo, hi]: ASCII digits only (strtoll alone would take
 * a sign, leading spaces, and clamp "99999999999999999999999" to INT64_MAX),
 * or BYOL_E_FORMAT naming the file and key. */
static int read_int(const byol__st_file *f, const char *key, int64_t lo, int64_t hi,
                    int64_t *out)
{
    const char *v = byol__st_meta(f, key);
    errno = 0;
    long long x = v && byol__text_is_decimal(v, 0) ? strtoll(v, NULL, 10) : -1;
    if (!v || x < lo || x > hi || errno == ERANGE)
        return byol__err(BYOL_E_FORMAT, "%s: metadata '%s' is %s%.40s%s, not a count in "
                         "[%lld, %lld]", byol__st_label(f), key, v ? "'" : "missing",
                         v ? v : "", v ? "'" : "", (long long)lo, (long long)hi);
    *out = x;
    return BYOL_OK;
}

/* The tensor of f that the trainer has no place for, or NULL. Optimizer
 * state of any optimizer in the table has a place: check_optim rules on it. */
static const char *stray_tensor(const byol_trainer *t, const byol__st_file *f)
{
    byol_net *nets[BYOL__NETS];
    const char *prefix[BYOL__NETS];
    byol__trainer_nets(t, nets, prefix);
    for (size_t i = 0; i < byol__st_count(f); i++) {
        const char *name = byol__st_get(f, i)->name;
        int placed = !strncmp(name, "optim.", 6) && byol__optim_buffer_owner(name + 6);
        for (int k = 0; !placed && k < BYOL__NETS; k++) {
            size_t n = strlen(prefix[k]);
            placed = !strncmp(name, prefix[k], n) && byol__nn_has_entry(nets[k], name + n);
        }
        if (!placed)
            return name;
    }
    return NULL;
}

static int refuse_stray(const byol_trainer *t, const byol__st_file *f, const char *name)
{
    byol_net *nets[BYOL__NETS];
    const char *prefix[BYOL__NETS];
    byol__trainer_nets(t, nets, prefix);
    const char *why = !strncmp(name, "optim.", 6) ? "the state of no optimizer libbyol has"
                                                   : "not part of a libbyol checkpoint";
    for (int k = 0; k < BYOL__NETS; k++)
        if (!strncmp(name, prefix[k], strlen(prefix[k])))
            why = "the trainer's network has no such entry: another architecture?";
    return byol__err(BYOL_E_FORMAT, "%s: unexpected tensor '%s' (%s)", byol__st_label(f), name,
                     why);
}

/* The tensor of f holding the trainer's optimizer buffer b, or NULL. */
static const byol__st_tensor *find_buffer(const byol__st_file *f, const byol__optim_state *st,
                                          int32_t b)
{
    char name[64];
    snprintf(name, sizeof name, "optim.%s", st->name[b]);
    return byol__st_find(f, name);
}

/* The first optim.* tensor of f that the trainer's optimizer does not keep,
 * or NULL (stray_tensor has refused any that is no optimizer's). */
static const char *other_optim_state(const byol__st_file *f, const byol__optim_state *st)
{
    for (size_t i = 0; i < byol__st_count(f); i++) {
        const char *name = byol__st_get(f, i)->name;
        int own = 0;
        if (strncmp(name, "optim.", 6))
            continue;
        for (int32_t b = 0; b < st->nbuf; b++)
            own |= !strcmp(name + 6, st->name[b]);
        if (!own)
            return name;
    }
    return NULL;
}

static int refuse_optim(const byol__st_file *f, const byol__optim_state *st, const char *other,
                        const char *missing)
{
    const char *owner = other ? byol__optim_buffer_owner(other + 6) : NULL;
    const char *hint = "; set train.allow_optim_change=1 to load the networks and start the "
                       "optimizer afresh";
    if (other)
        return byol__err(BYOL_E_FORMAT, "%s: optimizer state '%s' of another optimizer (%s%s?): "
                         "this trainer's %s keeps %s%s%s%s", byol__st_label(f), other, owner,
                         strcmp(owner, st->optimizer) ? "" : " with other settings",
                         st->optimizer, st->nbuf ? "'optim." : "no state",
                         st->nbuf ? st->name[0] : "", st->nbuf ? "'" : "", hint);
    return byol__err(BYOL_E_FORMAT, "%s: no optimizer state 'optim.%s' for this trainer's %s "
                     "(a checkpoint of another optimizer, one that keeps none?)%s",
                     byol__st_label(f), missing, st->optimizer, hint);
}

/* Does f hold the state of the trainer's optimizer: each of its buffers (as
 * count F32 values; a wrong size is refused) and no other optimizer's? A
 * checkpoint of another optimizer is refused unless
 * train.allow_optim_change is set; then *fits = 0 and its state is dropped.
 * The check (copy = 0) also checks the values of the state to load. */
static int check_optim(const byol_trainer *t, const byol__st_file *f,
                       const byol__optim_state *st, int copy, int *fits)
{
    const char *missing = NULL;
    for (int32_t b = 0; b < st->nbuf; b++) {
        const byol__st_tensor *e = find_buffer(f, st, b);
        if (!e && !missing)
            missing = st->name[b];
        if (e && (e->dtype != BYOL__ST_F32 || e->nbytes != (size_t)st->count * sizeof(float)))
            return byol__err(BYOL_E_FORMAT, "%s: optimizer tensor '%s' is not %lld F32 values "
                             "(another architecture?)", byol__st_label(f), e->name,
                             (long long)st->count);
    }
    const char *other = other_optim_state(f, st);
    *fits = !missing && !other;
    if (!*fits && !byol__cfg_int(t->cfg, BYOL__K_TRAIN_ALLOW_OPTIM_CHANGE))
        return refuse_optim(f, st, other, missing);
    int rc = BYOL_OK;
    for (int32_t b = 0; rc == BYOL_OK && !copy && *fits && b < st->nbuf; b++)
        rc = byol__nn_check_finite(f, find_buffer(f, st, b));
    return rc;
}

/* train.allow_optim_change: the trainer's optimizer starts afresh, as a
 * new one would (zero buffers; AdamW's bias correction and SGD's first
 * step count from step 0 again); the schedules keep the loaded step. */
static void drop_optim(const byol__st_file *f, const byol__optim_state *st, int64_t step)
{
    for (int32_t b = 0; b < st->nbuf; b++)
        memset(st->buf[b], 0, (size_t)st->count * sizeof(float));
    *st->steps = 0;
    char dropped[256] = "";
    for (size_t i = 0; i < byol__st_count(f); i++) {
        const char *name = byol__st_get(f, i)->name;
        if (!strncmp(name, "optim.", 6))
            snprintf(dropped + strlen(dropped), sizeof dropped - strlen(dropped), "%s'%s'",
                     *dropped ? ", " : "", name);
    }
    byol__log(BYOL_LOG_WARN, "%s: the checkpoint's optimizer state (%s) is dropped "
              "(train.allow_optim_change=1): the networks resume at step %lld, %s starts "
              "afresh", byol__st_label(f), *dropped ? dropped : "none", (long long)step,
              st->optimizer);
}

/* Checks (copy = 0) or restores (copy = 1) the whole state from f. */
static int restore(byol_trainer *t, const byol__st_file *f, int copy)
{
    byol_net *nets[BYOL__NETS];
    const char *prefix[BYOL__NETS];
    int64_t matched = 0;
    byol__trainer_nets(t, nets, prefix);
    for (int k = 0; k < BYOL__NETS; k++) {
        int rc = byol__nn_read_entries(nets[k], f, prefix[k], copy, &matched);
        if (rc != BYOL_OK)
            return rc;
    }
    const char *stray = copy ? NULL : stray_tensor(t, f);
    if (stray)
        return refuse_stray(t, f, stray);
    byol__optim_state st;
    byol__optim_get_state(t->optim, &st);
    int fits = 0;
    int rc = check_optim(t, f, &st, copy, &fits);
    /* total_steps is checked, not applied (the trainer keeps its own). A
     * trainer may step past it (lr 0, tau 1 from there), so a step above it
     * is legal; the optimizer counts the same updates as the step. */
    int64_t step = 0, osteps = 0, total = 0;
    if (rc == BYOL_OK)
        rc = read_int(f, "step", 0, INT64_MAX, &step);
    if (rc == BYOL_OK)
        rc = read_int(f, "total_steps", 1, (int64_t)byol__keys[BYOL__K_TRAIN_TOTAL_STEPS].max,
                      &total);
    if (rc == BYOL_OK)
        rc = read_int(f, "optim_steps", 0, step, &osteps);
    if (rc != BYOL_OK || !copy)
        return rc;
    t->step = step;
    if (!fits) {
        drop_optim(f, &st, step);
        return BYOL_OK;
    }
    for (int32_t b = 0; b < st.nbuf; b++)
        memcpy(st.buf[b], find_buffer(f, &st, b)->data, (size_t)st.count * sizeof(float));
    *st.steps = osteps;
    return BYOL_OK;
}

/* A checkpoint trained under other numerics modes would continue with other
 * bits than the run that wrote it, so it resumes only when the trainer's
 * settings allow it. Checkpoints written before 1.3 record no modes. */
static int check_modes(const byol_trainer *t, const byol__st_file *f)
{
    const char *stored = byol__st_meta(f, "modes");
    char modes[128];
    byol__nn_modes(t->online[BYOL__ENC], modes, sizeof modes);
    if (!stored || !strcmp(stored, modes) ||
        byol__cfg_int(t->cfg, BYOL__K_TRAIN_ALLOW_MODE_CHANGE))
        return BYOL_OK;
    return byol__err(BYOL_E_UNSUPPORTED, "%s: trained with %s, this trainer runs %s on this "
                     "CPU; set the stored modes to continue the same run, or "
                     "train.allow_mode_change=1 to continue under the new ones",
                     byol__st_label(f), stored, modes);
}

/* byol.mode of the checkpoint, from its stored settings, must be the
 * trainer's: a BYOL checkpoint's target networks are a moving average that
 * a SimSiam trainer would carry along unused, and a SimSiam checkpoint's are
 * copies of the start, which a BYOL trainer would take for its target. */
static int check_byol_mode(const byol_trainer *t, const byol__st_file *f)
{
    const char *text = byol__st_meta(f, "config");
    const char *own = byol__cfg_str(t->cfg, BYOL__K_BYOL_MODE);
    char *mode = NULL;
    if (!text)
        return byol__err(BYOL_E_FORMAT, "%s: metadata 'config' is missing", byol__st_label(f));
    /* Only byol.mode is read: a file of a later version, with keys this one
     * does not know, still loads. Unlisted, it has its default. */
    int rc = byol__config_find_text(text, "byol.mode", &mode);
    if (rc < 0 && rc != BYOL_E_NOMEM) {
        char why[512];
        byol_last_error_copy(why, sizeof why);
        return byol__err(BYOL_E_FORMAT, "%s: metadata 'config': %s", byol__st_label(f), why);
    }
    if (rc < 0)
        return rc;
    const char *stored = mode ? mode : byol__keys[BYOL__K_BYOL_MODE].def;
    rc = BYOL_OK;
    if (strcmp(stored, own))
        rc = byol__err(BYOL_E_FORMAT, "%s: a byol.mode=%s checkpoint cannot resume in a "
                       "byol.mode=%s trainer (their target networks mean different things)",
                       byol__st_label(f), stored, own);
    byol__free(mode);
    return rc;
}

int byol_trainer_load(byol_trainer *t, const char *path)
{
    if (!t || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_load: NULL argument");
    if (!*path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_load: empty path");
    byol__st_file *f;
    int rc = byol__st_open(path, &f);
    if (rc != BYOL_OK)
        return rc;
    const char *format = byol__st_meta(f, "format");
    if (!format || strcmp(format, BYOL__CHECKPOINT_FORMAT))
        rc = byol__err(BYOL_E_FORMAT, "%s: not a libbyol checkpoint (format '%s', expected '%s')",
                       path, format ? format : "none", BYOL__CHECKPOINT_FORMAT);
    if (rc == BYOL_OK)
        rc = restore(t, f, 0);
    if (rc == BYOL_OK)
        rc = check_byol_mode(t, f);
    if (rc == BYOL_OK)
        rc = check_modes(t, f);
    if (rc == BYOL_OK)
        rc = restore(t, f, 1);
    byol__st_close(f);
    return rc;
}
