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

/* The settings without train.allow_mode_change: leave to resume under other
 * modes is given for one load, not inherited by every later resume. */
static int serialize_config(const byol_config *cfg, char **out)
{
    byol_config *c = NULL;
    int rc = byol_config_copy(cfg, &c);
    if (rc == BYOL_OK)
        rc = byol_config_set_int(c, "train.allow_mode_change", 0);
    if (rc == BYOL_OK)
        rc = byol_config_serialize(c, out);
    byol_config_destroy(c);
    return rc;
}

int byol_trainer_save(const byol_trainer *t, const char *path)
{
    if (!t || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_save: NULL argument");
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
    byol__optim_state st;
    byol__optim_get_state(t->optim, &st);
    for (int32_t b = 0; b < st.nbuf; b++) {
        char name[64];
        snprintf(name, sizeof name, "optim.%s", st.name[b]);
        const byol__st_tensor *e = byol__st_find(f, name);
        if (!e || e->dtype != BYOL__ST_F32 || e->nbytes != (size_t)st.count * sizeof(float))
            return byol__err(BYOL_E_FORMAT, "%s: optimizer tensor '%s' is missing or not %lld "
                             "floats (another optimizer or architecture?)", byol__st_label(f),
                             name, (long long)st.count);
        if (copy)
            memcpy(st.buf[b], e->data, e->nbytes);
    }
    /* total_steps is checked, not applied (the trainer keeps its own). A
     * trainer may step past it (lr 0, tau 1 from there), so a step above it
     * is legal; the optimizer counts the same updates as the step. */
    int64_t step = 0, osteps = 0, total = 0;
    int rc = read_int(f, "step", 0, INT64_MAX, &step);
    if (rc == BYOL_OK)
        rc = read_int(f, "total_steps", 1, (int64_t)byol__keys[BYOL__K_TRAIN_TOTAL_STEPS].max,
                      &total);
    if (rc == BYOL_OK)
        rc = read_int(f, "optim_steps", 0, step, &osteps);
    if (rc == BYOL_OK && copy) {
        t->step = step;
        *st.steps = osteps;
    }
    return rc;
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

int byol_trainer_load(byol_trainer *t, const char *path)
{
    if (!t || !path)
        return byol__err(BYOL_E_INVALID_ARG, "byol_trainer_load: NULL argument");
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
        rc = check_modes(t, f);
    if (rc == BYOL_OK)
        rc = restore(t, f, 1);
    byol__st_close(f);
    return rc;
}
