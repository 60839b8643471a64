/* Data-parallel equivalence, run by tests/mpi/run.sh on 2 ranks: each rank
 * trains 5 LARS steps on its 32 of 64 images with a libbyol-mpi
 * communicator (synchronized BatchNorm, the default with more than one
 * rank; train.batch_size is the global 64); rank 0 then trains the same 64
 * images in one process. Checked:
 * - each of the 5 steps' losses (the ranks' mean of the global loss each
 *   reports) within 1e-5 relative;
 * - every tensor of the two checkpoints after the first step (online and
 *   target parameters, BatchNorm statistics, optimizer state) within 1e-5
 *   of the tensor's largest value. Not after 5: two float32 runs whose
 *   sums differ only in order drift apart by up to 1e-3 in 5 LARS steps
 *   (a rounding flips a ReLU, LARS rescales whole tensors), as one
 *   process does from itself when its inputs move by 1e-6; see
 *   docs/distributed.md;
 * - the ranks' parameters and BatchNorm statistics after 5 steps identical
 *   bit for bit.
 * On cnn-small and on resnet18-cifar at width 0.125. With 3 ranks (run.sh
 * also runs 3) the 64 images do not split: the test says so and passes.
 *
 * With $BYOL_MPI_REFERENCE set to a directory (tests/mpi/run.sh sets it),
 * rank 0 leaves its one-process runs there for tests/mpi/test_mpi_python.py,
 * which trains the same through mpi4py: run k (0 cnn-small, 1
 * resnet18-cifar) as refK.txt, its settings (lines 1 and 2) then its STEPS
 * losses (%.17g, one a line), and refK.ckpt, its state after the first
 * step. */
#include <math.h>

#include "byol/byol_mpi.h"
#include "mpi_check.h"

enum { GLOBAL = 64, STEPS = 5 };

static int close_rel(double a, double b)
{
    return fabs(a - b) <= 1e-5 * fmax(fmax(fabs(a), fabs(b)), 1e-2);
}

/* The same pseudo-random views on every rank (a fixed LCG), [GLOBAL, c, h, w]. */
static float *make_views(int64_t per_image, int which)
{
    float *v = malloc((size_t)(GLOBAL * per_image) * sizeof *v);
    uint64_t s = 0x9e3779b97f4a7c15ull * (uint64_t)(which + 1);
    for (int64_t i = 0; i < GLOBAL * per_image; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((s >> 40) & 0xffff) / 65536.0f - 0.5f;
    }
    return v;
}

/* The settings every run adds to its own. */
static void extra_settings(char *out, size_t n, int64_t batch)
{
    snprintf(out, n, " train.batch_size=%lld train.total_steps=%d threads=1", (long long)batch,
             STEPS);
}

/* A trainer of `batch` images per step; NULL on failure. */
static byol_trainer *trainer(const char *settings, int64_t batch)
{
    byol_config *cfg = NULL;
    byol_trainer *t = NULL;
    char extra[128];
    extra_settings(extra, sizeof extra, batch);
    if (byol_config_create(&cfg) || byol_config_parse(cfg, settings) ||
        byol_config_parse(cfg, extra) || byol_trainer_create(cfg, NULL, &t))
        printf("rank %d: %s: %s\n", rank, settings, byol_last_error());
    byol_config_destroy(cfg);
    return t;
}

/* STEPS steps on images [first, first + n) of the views; losses[k]; the
 * state after the first step saved to ckpt unless it is NULL. */
static int train(byol_trainer *t, float *const v[2], int64_t first, int64_t n, int64_t per_image,
                 double losses[STEPS], const char *ckpt)
{
    byol_tensor x[2] = { BYOL_TENSOR_INIT, BYOL_TENSOR_INIT };
    int64_t dims[3];
    byol_net_input_dims(byol_trainer_encoder(t), dims);
    for (int k = 0; k < 2; k++) {
        x[k].ndim = 4;
        x[k].shape[0] = n;
        memcpy(&x[k].shape[1], dims, sizeof dims);
        x[k].data = v[k] + first * per_image;
    }
    for (int s = 0; s < STEPS; s++) {
        byol_step_stats st = { .struct_size = sizeof st };
        int rc = byol_trainer_step(t, &x[0], &x[1], &st);
        if (rc != BYOL_OK) {
            printf("rank %d: step %d: %s\n", rank, s, byol_last_error());
            return rc;
        }
        losses[s] = st.loss;
        if (s == 0 && ckpt && (rc = byol_trainer_save(t, ckpt)) != BYOL_OK) {
            printf("rank %d: save: %s\n", rank, byol_last_error());
            return rc;
        }
    }
    return BYOL_OK;
}

static double element(const byol_file_tensor *t, int64_t i)
{
    float f;
    double d;
    if (t->dtype == BYOL_DTYPE_F32)
        return memcpy(&f, (const char *)t->data + 4 * i, 4), f;
    if (t->dtype == BYOL_DTYPE_F64)
        return memcpy(&d, (const char *)t->data + 8 * i, 8), d;
    return NAN;
}

/* Every float tensor of checkpoint a within 1e-5 of b's, relative to the
 * tensor's largest value (max|a-b| / max|b|, as tests/test_util.h's
 * tu_rel_err: an element near 0 has no meaningful relative error). The
 * LARS momentum holds raw gradient sums, which differ in their last bits
 * with the order of summation, so it gets 1e-4. */
static void compare_checkpoints(const char *a_path, const char *b_path, const char *what)
{
    byol_file *a = NULL, *b = NULL;
    CHECK(byol_file_open(a_path, &a) == BYOL_OK && byol_file_open(b_path, &b) == BYOL_OK,
          "%s: %s", what, byol_last_error());
    for (int64_t i = 0; a && b && i < byol_file_tensor_count(a); i++) {
        byol_file_tensor ta = { .struct_size = sizeof ta }, tb = { .struct_size = sizeof tb };
        double diff = 0, ref = 0;
        byol_file_tensor_info(a, i, &ta);
        if (byol_file_tensor_find(b, ta.name, &tb) != BYOL_OK || tb.numel != ta.numel) {
            CHECK(0, "%s: tensor %s missing or of another size", what, ta.name);
            continue;
        }
        if (ta.dtype != BYOL_DTYPE_F32 && ta.dtype != BYOL_DTYPE_F64) {
            CHECK(ta.nbytes == tb.nbytes && !memcmp(ta.data, tb.data, ta.nbytes),
                  "%s: %s differs", what, ta.name);
            continue;
        }
        for (int64_t e = 0; e < ta.numel; e++) {
            double d = fabs(element(&ta, e) - element(&tb, e)), r = fabs(element(&tb, e));
            diff = d > diff || d != d ? d : diff;
            ref = r > ref ? r : ref;
        }
        double err = ref > 0 ? diff / ref : diff, tol = strncmp(ta.name, "optim.", 6) ? 1e-5 : 1e-4;
        CHECK(err <= tol, "%s: %s: max|a-b|/max|b| = %.3g > %g", what, ta.name, err, tol);
    }
    byol_file_close(a);
    byol_file_close(b);
}

/* refK.txt in dir (the header comment): 0 on success. */
static int write_reference(const char *dir, int k, const char *settings,
                           const double losses[STEPS])
{
    char path[512], extra[128];
    FILE *f;
    snprintf(path, sizeof path, "%s/ref%d.txt", dir, k);
    if (!(f = fopen(path, "w")))
        return -1;
    extra_settings(extra, sizeof extra, GLOBAL);
    fprintf(f, "%s\n%s\n", settings, extra);
    for (int s = 0; s < STEPS; s++)
        fprintf(f, "%.17g\n", losses[s]);
    return fclose(f);
}

static void equivalence(const char *settings, const byol_comm *comm, const char *dir)
{
    static int run; /* K of refK */
    const char *ref_dir = getenv("BYOL_MPI_REFERENCE");
    int64_t local = GLOBAL / size, per_image, dims[3], n;
    double losses[STEPS] = { 0 }, mean[STEPS], ref[STEPS];
    byol_trainer *t = trainer(settings, GLOBAL);
    char path[2][512];
    float *v[2];
    CHECK(t && byol_trainer_set_comm(t, comm) == BYOL_OK, "%s: set_comm: %s", settings,
          byol_last_error());
    if (!t)
        MPI_Abort(MPI_COMM_WORLD, 1); /* the other ranks would wait in a collective */
    byol_net_input_dims(byol_trainer_encoder(t), dims);
    per_image = dims[0] * dims[1] * dims[2];
    v[0] = make_views(per_image, 0);
    v[1] = make_views(per_image, 1);
    if (ref_dir) { /* kept for test_mpi_python.py: the ranks' state and the one process's */
        snprintf(path[0], sizeof path[0], "%s/ref%d-ranks.ckpt", ref_dir, run);
        snprintf(path[1], sizeof path[1], "%s/ref%d.ckpt", ref_dir, run);
    } else {
        snprintf(path[0], sizeof path[0], "%s/ranks.ckpt", dir);
        snprintf(path[1], sizeof path[1], "%s/one.ckpt", dir);
    }
    CHECK(train(t, v, rank * local, local, per_image, losses, rank == 0 ? path[0] : NULL) ==
          BYOL_OK, "%s: training", settings);
    MPI_Allreduce(losses, mean, STEPS, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    float *params = byol_trainer_buffer(t, BYOL_BUFFER_PARAMS, &n);
    CHECK(same_everywhere(params, (size_t)n * sizeof *params),
          "%s: parameters differ between ranks", settings);
    float *state = byol_net_buffer(byol_trainer_encoder(t), BYOL_BUFFER_STATE, &n);
    CHECK(same_everywhere(state, (size_t)n * sizeof *state),
          "%s: BatchNorm statistics differ between ranks", settings);
    if (rank == 0) {
        byol_trainer *one = trainer(settings, GLOBAL);
        CHECK(one && train(one, v, 0, GLOBAL, per_image, ref, path[1]) == BYOL_OK, "%s: 1 rank",
              settings);
        for (int s = 0; one && s < STEPS; s++)
            CHECK(close_rel(mean[s] / size, ref[s]), "%s: step %d: loss %.9g on %d ranks, "
                  "%.9g on 1", settings, s, mean[s] / size, size, ref[s]);
        compare_checkpoints(path[0], path[1], settings);
        if (ref_dir)
            CHECK(write_reference(ref_dir, run, settings, ref) == 0, "%s: writing %s/ref%d.txt",
                  settings, ref_dir, run);
        else
            remove(path[1]), remove(path[0]);
        byol_trainer_destroy(one);
    }
    run++;
    byol_trainer_destroy(t);
    free(v[0]);
    free(v[1]);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/byol_mpi_XXXXXX";
    byol_comm comm;
    mc_init(&argc, &argv);
    if (GLOBAL % size) {
        if (rank == 0)
            printf("%s: %d images do not split over %d ranks: not run\n", argv[0], GLOBAL, size);
        MPI_Finalize();
        return 0;
    }
    if (rank == 0 && !mkdtemp(dir))
        MPI_Abort(MPI_COMM_WORLD, 1);
    if (byol_mpi_comm(MPI_COMM_WORLD, &comm) != 0)
        MPI_Abort(MPI_COMM_WORLD, 1);
    equivalence("net.arch=cnn-small optim.name=lars", &comm, dir);
    equivalence("net.arch=resnet18-cifar net.width=0.125 optim.name=lars", &comm, dir);
    byol_mpi_comm_free(&comm);
    if (rank == 0)
        remove(dir);
    return mc_finish(argv[0]);
}
