/* libbyol-mpi: byol_comm callbacks over an MPI communicator (byol_mpi.h).
 * Kept apart from libbyol so that the core library never needs MPI. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "byol/byol_mpi.h"

/* Elements per MPI call: MPI counts are int. Tests build this file with a
 * small value to exercise the chunking without gigabytes of memory. */
#ifndef BYOL_MPI_CHUNK
#define BYOL_MPI_CHUNK INT_MAX
#endif

/* What the user pointer of a byol_comm from byol_mpi_comm() points to. */
typedef struct mpi_ctx {
    MPI_Comm comm; /* our duplicate, with MPI_ERRORS_RETURN */
} mpi_ctx;

/* Sum of count elements of `type` (elem bytes each) into rank 0, then
 * rank 0's bits to every rank: identical results whatever MPI's algorithm. */
static int reduce_bcast(void *data, int64_t count, MPI_Datatype type, size_t elem, void *user)
{
    mpi_ctx *ctx = user;
    int rank, rc;
    if (!ctx || count < 0 || (count > 0 && !data))
        return MPI_ERR_ARG;
    if ((rc = MPI_Comm_rank(ctx->comm, &rank)) != MPI_SUCCESS)
        return rc;
    for (int64_t done = 0; done < count;) {
        int n = (int)(count - done < BYOL_MPI_CHUNK ? count - done : BYOL_MPI_CHUNK);
        char *p = (char *)data + (size_t)done * elem;
        rc = MPI_Reduce(rank == 0 ? MPI_IN_PLACE : p, p, n, type, MPI_SUM, 0, ctx->comm);
        if (rc == MPI_SUCCESS)
            rc = MPI_Bcast(p, n, type, 0, ctx->comm);
        if (rc != MPI_SUCCESS)
            return rc;
        done += n;
    }
    return 0;
}

static int sum_f32(float *data, int64_t count, void *user)
{
    return reduce_bcast(data, count, MPI_FLOAT, sizeof *data, user);
}

static int sum_f64(double *data, int64_t count, void *user)
{
    return reduce_bcast(data, count, MPI_DOUBLE, sizeof *data, user);
}

/* The duplicate of c, with errors returned; *dup is MPI_COMM_NULL on failure. */
static int dup_returning(MPI_Comm c, MPI_Comm *dup)
{
    int rc = MPI_Comm_dup(c, dup);
    if (rc != MPI_SUCCESS) {
        *dup = MPI_COMM_NULL;
        return rc;
    }
    rc = MPI_Comm_set_errhandler(*dup, MPI_ERRORS_RETURN);
    if (rc != MPI_SUCCESS)
        MPI_Comm_free(dup);
    return rc;
}

BYOL_MPI_API int byol_mpi_comm(MPI_Comm c, byol_comm *out)
{
    int inter = 0, rank, size, rc;
    mpi_ctx *ctx;
    /* Checked here: MPI reports a bad communicator through the handler of
     * MPI_COMM_WORLD, which by default ends the program. */
    if (!out || c == MPI_COMM_NULL)
        return BYOL_E_INVALID_ARG;
    if ((rc = MPI_Comm_test_inter(c, &inter)) != MPI_SUCCESS)
        return rc;
    if (inter) /* a reduction over an intercommunicator goes between groups */
        return BYOL_E_INVALID_ARG;
    if (!(ctx = malloc(sizeof *ctx)))
        return BYOL_E_NOMEM;
    if ((rc = dup_returning(c, &ctx->comm)) == MPI_SUCCESS &&
        (rc = MPI_Comm_rank(ctx->comm, &rank)) == MPI_SUCCESS)
        rc = MPI_Comm_size(ctx->comm, &size);
    if (rc != MPI_SUCCESS) {
        if (ctx->comm != MPI_COMM_NULL)
            MPI_Comm_free(&ctx->comm);
        free(ctx);
        return rc;
    }
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out;
    out->rank = rank;
    out->size = size;
    out->allreduce_f32 = sum_f32;
    out->allreduce_f64 = sum_f64;
    out->user = ctx;
    return 0;
}

BYOL_MPI_API int byol_mpi_comm_free(byol_comm *comm)
{
    mpi_ctx *ctx;
    if (!comm || !(ctx = comm->user))
        return 0;
    if (comm->allreduce_f32 != sum_f32) /* not ours: its user pointer is no mpi_ctx */
        return BYOL_E_INVALID_ARG;
    int rc = MPI_Comm_free(&ctx->comm);
    free(ctx);
    memset(comm, 0, sizeof *comm);
    return rc == MPI_SUCCESS ? 0 : rc;
}
