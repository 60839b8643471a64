/* Checks of the MPI test programs (tests/mpi). Every rank runs the same
 * collectives whatever a check's outcome (a rank that skipped one would
 * hang the others): a failed check prints and counts, and mc_finish() sums
 * the counts over the ranks for the exit status. */
#ifndef BYOL_MPI_CHECK_H
#define BYOL_MPI_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static int rank, size, failures, checks;

#define CHECK(cond, ...)                                              \
    do {                                                              \
        checks++;                                                     \
        if (!(cond)) {                                                \
            failures++;                                               \
            printf("rank %d: FAIL %s:%d: ", rank, __FILE__, __LINE__); \
            printf(__VA_ARGS__);                                      \
            printf("\n");                                             \
        }                                                             \
    } while (0)

static inline void mc_init(int *argc, char ***argv)
{
    MPI_Init(argc, argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
}

/* 1 when every rank holds the same `bytes` bytes at p as rank 0. PMPI_Bcast:
 * test_mpi_comm.c replaces MPI_Bcast to make it fail. */
static inline int same_everywhere(const void *p, size_t bytes)
{
    char *root = malloc(bytes ? bytes : 1);
    int same, all;
    memcpy(root, p, bytes);
    PMPI_Bcast(root, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD);
    same = memcmp(root, p, bytes) == 0;
    free(root);
    MPI_Allreduce(&same, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

/* Sums the failures over the ranks, says the outcome, ends MPI; the exit
 * status of main. */
static inline int mc_finish(const char *prog)
{
    int total;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0)
        printf("%s on %d ranks: %s (%d checks per rank)\n", prog, size, total ? "FAILED" : "OK",
               checks);
    MPI_Finalize();
    return total != 0;
}

#endif
