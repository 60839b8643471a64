/**
 * @file byol_mpi.h
 * @brief libbyol-mpi: a byol_comm made of an MPI communicator.
 *
 * libbyol itself knows nothing of MPI: data-parallel training takes a
 * byol_comm, a small struct of callbacks (byol_trainer.h). This adapter,
 * a separate library (libbyol-mpi.so, pkg-config libbyol-mpi), fills one
 * from any MPI implementation through the standard API:
 *
 * @code
 * MPI_Init(&argc, &argv);
 * byol_comm comm;
 * if (byol_mpi_comm(MPI_COMM_WORLD, &comm) != 0) MPI_Abort(MPI_COMM_WORLD, 1);
 * byol_trainer_set_comm(trainer, &comm);
 * ... train ...
 * byol_trainer_destroy(trainer);
 * byol_mpi_comm_free(&comm);
 * MPI_Finalize();
 * @endcode
 *
 * What the callbacks do, and why:
 * - Every rank gets the same bits. A sum is reduced to rank 0
 *   (MPI_Reduce) and then broadcast (MPI_Bcast): the MPI standard does
 *   not promise that MPI_Allreduce leaves identical results on every rank
 *   (an algorithm may add in a different order on each), and the trainer
 *   needs identical bits so that the optimizer and the EMA keep every
 *   rank's weights equal. The bandwidth of a pipelined reduce plus a
 *   broadcast is close to that of a ring all-reduce for the large
 *   gradient buffers; the latency is about twice (docs/cluster.md).
 * - Counts above INT_MAX (MPI's count type) are sent in chunks.
 * - The adapter works on a duplicate of the caller's communicator, with
 *   MPI_ERRORS_RETURN as its error handler: its messages never mix with
 *   the caller's, and an MPI error is returned as a non-zero value instead
 *   of ending the program (what MPI_ERRORS_ARE_FATAL, the default, does).
 *   A network failure may still end or hang a run, as MPI decides: MPI
 *   does not promise to recover from one.
 *
 * Threads: the callbacks make MPI calls on the thread that calls them
 * (the trainer's stepping thread), so that thread must be one MPI allows:
 * the one that called MPI_Init unless MPI was initialized with
 * MPI_THREAD_SERIALIZED or above; one call at a time per byol_comm.
 */
#ifndef BYOL_MPI_H
#define BYOL_MPI_H

#include <mpi.h>

#include <byol/byol.h>

#if defined(__GNUC__) && __GNUC__ >= 4
#define BYOL_MPI_API __attribute__((visibility("default")))
#else
#define BYOL_MPI_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Fills `out` with a communicator over `c`: rank and size are those of
 * `c`, and the callbacks sum in place over its ranks (see the file's
 * comment). Collective: every rank of `c` calls it, as it duplicates `c`
 * (MPI_Comm_dup). Call it after MPI_Init and free the result with
 * byol_mpi_comm_free() before MPI_Finalize. The callbacks return 0, or
 * the MPI error code (non-zero; MPI_Error_string() gives its text); after
 * a failure the data they were given holds unspecified values.
 * @param c an intracommunicator, borrowed for the call (the adapter keeps
 *        its own duplicate; `c` may be freed afterwards).
 * @param out receives the communicator; its struct_size is set to
 *        sizeof(byol_comm). Unchanged on failure.
 * @return 0; BYOL_E_INVALID_ARG for a NULL `out`, MPI_COMM_NULL or an
 *         intercommunicator; BYOL_E_NOMEM; or the (positive) MPI error
 *         code of a failed MPI call.
 */
BYOL_MPI_API int byol_mpi_comm(MPI_Comm c, byol_comm *out);

/**
 * Frees what byol_mpi_comm() made (the duplicate communicator) and clears
 * `comm`. Collective over the ranks of the communicator. The trainer that
 * uses `comm` must be destroyed, or given another communicator, first.
 * @param comm a communicator filled by byol_mpi_comm(), or one already
 *        freed or all zeros (then nothing happens); NULL is accepted.
 * @return 0; BYOL_E_INVALID_ARG (nothing done) for a `comm` whose callbacks
 *         are not this adapter's; or the MPI error code of MPI_Comm_free
 *         (the memory is freed and `comm` cleared all the same).
 */
BYOL_MPI_API int byol_mpi_comm_free(byol_comm *comm);

#ifdef __cplusplus
}
#endif

#endif
