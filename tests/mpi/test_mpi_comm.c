/* libbyol-mpi's communicator (byol_mpi.h), run by tests/mpi/run.sh under
 * mpirun on 2 and 3 ranks. */
#include "byol/byol_mpi.h"
#include "mpi_check.h"

/* MPI_Bcast fails with MPI_ERR_OTHER on every rank while set: the
 * profiling interface lets a program replace an MPI function and reach the
 * real one as PMPI_*, so the adapter's error path can be driven by any MPI. */
static int bcast_fails;
int MPI_Bcast(void *buf, int count, MPI_Datatype type, int root, MPI_Comm comm)
{
    if (bcast_fails)
        return MPI_ERR_OTHER;
    return PMPI_Bcast(buf, count, type, root, comm);
}

static void test_create(byol_comm *c)
{
    CHECK(byol_mpi_comm(MPI_COMM_WORLD, c) == 0, "byol_mpi_comm(MPI_COMM_WORLD) failed");
    CHECK(c->struct_size == sizeof *c, "struct_size %u", (unsigned)c->struct_size);
    CHECK(c->rank == rank && c->size == size, "rank/size %d/%d, MPI says %d/%d", (int)c->rank,
          (int)c->size, rank, size);
    CHECK(c->allreduce_f32 && c->allreduce_f64 && c->user, "callbacks or user pointer missing");
}

/* Small integers: every order of the additions gives the exact sum. */
static void test_exact_sums(const byol_comm *c, int64_t n)
{
    float *f = malloc((size_t)n * sizeof *f);
    double *d = malloc((size_t)n * sizeof *d);
    int64_t bad_f = 0, bad_d = 0;
    for (int64_t i = 0; i < n; i++) {
        f[i] = (float)((i % 1000) * (rank + 1));
        d[i] = 0.5 * (double)(i * (rank + 1)) - rank;
    }
    CHECK(c->allreduce_f32(f, n, c->user) == 0, "allreduce_f32 of %lld failed", (long long)n);
    CHECK(c->allreduce_f64(d, n, c->user) == 0, "allreduce_f64 of %lld failed", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        /* sum over r of (r+1) = size(size+1)/2; sum of r = size(size-1)/2 */
        double tri = size * (size + 1) / 2.0;
        bad_f += f[i] != (float)((i % 1000) * tri);
        bad_d += d[i] != 0.5 * (double)i * tri - size * (size - 1) / 2.0;
    }
    CHECK(bad_f == 0, "%lld of %lld float sums wrong", (long long)bad_f, (long long)n);
    CHECK(bad_d == 0, "%lld of %lld double sums wrong", (long long)bad_d, (long long)n);
    free(f);
    free(d);
}

/* 1e8, 1 and -1e8 on different ranks: (1e8 + 1) - 1e8 is 0 in float and
 * (1e8 - 1e8) + 1 is 1, so with 3 or more ranks the result depends on the
 * order of the additions; every rank must still get the same bits. */
static void test_same_bits(const byol_comm *c)
{
    enum { N = 3001 };
    static const float fv[3] = { 1e8f, 1.0f, -1e8f };
    static const double dv[3] = { 1e17, 1.0, -1e17 };
    float f[N];
    double d[N];
    for (int i = 0; i < N; i++) {
        f[i] = fv[(i + rank) % 3] * (1.0f + (float)i / N);
        d[i] = dv[(i + rank) % 3] * (1.0 + (double)i / N);
    }
    CHECK(c->allreduce_f32(f, N, c->user) == 0, "allreduce_f32 failed");
    CHECK(c->allreduce_f64(d, N, c->user) == 0, "allreduce_f64 failed");
    CHECK(same_everywhere(f, sizeof f), "float sums differ between ranks");
    CHECK(same_everywhere(d, sizeof d), "double sums differ between ranks");
}

static void test_empty(const byol_comm *c)
{
    float f = 42.0f;
    double d = 42.0;
    CHECK(c->allreduce_f32(NULL, 0, c->user) == 0, "0 floats at NULL failed");
    CHECK(c->allreduce_f64(NULL, 0, c->user) == 0, "0 doubles at NULL failed");
    CHECK(c->allreduce_f32(&f, 0, c->user) == 0 && f == 42.0f, "0 floats changed data");
    CHECK(c->allreduce_f64(&d, 0, c->user) == 0 && d == 42.0, "0 doubles changed data");
}

static void test_failures(const byol_comm *c)
{
    byol_comm out, foreign;
    MPI_Comm half = MPI_COMM_NULL, inter = MPI_COMM_NULL;
    float f[4] = { 1, 2, 3, 4 };
    memset(&out, 0x5a, sizeof out);
    CHECK(byol_mpi_comm(MPI_COMM_NULL, &out) == BYOL_E_INVALID_ARG, "MPI_COMM_NULL accepted");
    CHECK(byol_mpi_comm(MPI_COMM_WORLD, NULL) == BYOL_E_INVALID_ARG, "NULL out accepted");
    CHECK(c->allreduce_f32(f, -1, c->user) != 0, "negative count accepted");
    CHECK(c->allreduce_f32(NULL, 4, c->user) != 0, "NULL data accepted");

    /* Two groups joined by an intercommunicator: a sum over it would go
     * between the groups, not over the ranks; refused, out unchanged. */
    MPI_Comm_split(MPI_COMM_WORLD, rank % 2, rank, &half);
    MPI_Intercomm_create(half, 0, MPI_COMM_WORLD, rank % 2 ? 0 : 1, 7, &inter);
    CHECK(byol_mpi_comm(inter, &out) == BYOL_E_INVALID_ARG, "intercommunicator accepted");
    CHECK(out.struct_size == 0x5a5a5a5au, "out changed by a failed byol_mpi_comm");
    MPI_Comm_free(&inter);
    MPI_Comm_free(&half);

    /* An MPI error (on every rank) comes back as non-zero, not an abort. */
    bcast_fails = 1;
    CHECK(c->allreduce_f32(f, 4, c->user) == MPI_ERR_OTHER, "failed MPI_Bcast not returned");
    CHECK(c->allreduce_f64((double[]){ 1 }, 1, c->user) == MPI_ERR_OTHER,
          "failed MPI_Bcast not returned (f64)");
    CHECK(byol_mpi_comm(MPI_COMM_WORLD, &out) == 0, "byol_mpi_comm without MPI_Bcast failed");
    bcast_fails = 0;
    byol_mpi_comm_free(&out);

    memcpy(&foreign, c, sizeof foreign);
    foreign.allreduce_f32 = NULL;
    CHECK(byol_mpi_comm_free(&foreign) == BYOL_E_INVALID_ARG, "foreign comm freed");
}

int main(int argc, char **argv)
{
    byol_comm c, zero;
    mc_init(&argc, &argv);
    test_create(&c);
    test_exact_sums(&c, 5);
    test_exact_sums(&c, 10007); /* 11 chunks in the chunked build */
    test_exact_sums(&c, 3000001);
    test_same_bits(&c);
    test_empty(&c);
    if (size >= 2)
        test_failures(&c);
    CHECK(byol_mpi_comm_free(&c) == 0 && c.user == NULL && c.allreduce_f32 == NULL,
          "byol_mpi_comm_free did not clear the comm");
    memset(&zero, 0, sizeof zero);
    CHECK(byol_mpi_comm_free(&c) == 0 && byol_mpi_comm_free(NULL) == 0 &&
          byol_mpi_comm_free(&zero) == 0, "freeing nothing failed");
    return mc_finish(argv[0]);
}
