/* Data-parallel runs of `byol pretrain` under an MPI launcher (mpirun,
 * srun; docs/cluster.md): one rank per process, each with a full trainer
 * stepping on its slice of the global batch through libbyol-mpi.
 *
 * The rule that keeps a run from hanging: ranks leave the training loop
 * only together, at cli_dist_agree(), which every rank calls the same
 * number of times. A rank whose loader, save or trainer fails does not
 * stop on its own; it takes its error to the next agreement, where every
 * rank learns it and stops. What no agreement can catch (a rank killed,
 * a network gone) is the launcher's to end: mpirun kills the other ranks
 * when one dies.
 *
 * Built with MPI when the Makefile finds it (BYOL_CLI_MPI); without, a
 * launcher's environment naming more than one rank is refused, since each
 * process would train alone on the same --out. */
#define _GNU_SOURCE /* sched_getaffinity */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifdef BYOL_CLI_MPI
#include <byol/byol_mpi.h>
#endif

/* A launcher's rank or size from its environment: Open MPI, MPICH's
 * Hydra (PMI), PMIx (srun --mpi=pmix, Open MPI 5); -1 if none is set. */
static int launcher_var(const char *const names[])
{
    for (int i = 0; names[i]; i++) {
        const char *v = getenv(names[i]);
        if (v && *v)
            return atoi(v);
    }
    return -1;
}

static int launched(int *rank, int *size)
{
    static const char *const ranks[] = { "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", NULL };
    static const char *const sizes[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", NULL };
    *rank = launcher_var(ranks);
    *size = launcher_var(sizes);
    return *rank >= 0 || *size >= 0;
}

/* Cores this process may run on: those of its affinity mask (mpirun binds
 * a rank to a core or a socket), shared evenly by the ranks on its machine
 * when they are not bound apart. */
static int64_t threads_per_rank(int local_size)
{
    cpu_set_t set;
    long online = sysconf(_SC_NPROCESSORS_ONLN), mine = online;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        mine = CPU_COUNT(&set);
    long share = online / (local_size > 0 ? local_size : 1);
    long n = mine < share ? mine : share;
    return n > 0 ? n : 1;
}

#ifdef BYOL_CLI_MPI

/* What the lowest failing rank sends the others at an agreement. */
typedef struct peer_error {
    int code;
    char msg[2048];
} peer_error;

int cli_dist_init(cli_dist *d)
{
    int rank, size, provided;
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (!launched(&rank, &size))
        return BYOL_OK;
    /* FUNNELED: the loader's worker threads exist but never call MPI; the
     * trainer's collectives run on the thread that steps, this one. */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return cli_error(BYOL_E_COMM, "MPI_Init_thread failed");
    d->mpi = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm local;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
    MPI_Comm_size(local, &d->local_size);
    MPI_Comm_free(&local);
    if (provided < MPI_THREAD_FUNNELED)
        return cli_error(BYOL_E_COMM, "this MPI gives thread level %d, below MPI_THREAD_FUNNELED",
                         provided);
    int rc = d->size > 1 ? byol_mpi_comm(MPI_COMM_WORLD, &d->comm) : 0;
    if (rc != 0)
        return cli_error(BYOL_E_COMM, "byol_mpi_comm failed (MPI error %d)", rc);
    return BYOL_OK;
}

/* The failing ranks' errors after an agreement found them: rank `low`, the
 * lowest, sends its own; rank 0 prints it (so that rank 0's output, which
 * a launcher may keep apart, always holds it) and every other rank stays
 * silent, but for a failing rank whose message differs. All ranks return
 * an error, theirs or rank low's, so all exit with a failure. */
static int take_error(cli_dist *d, int low, int rc)
{
    peer_error e = { 0 };
    if (d->rank == low) {
        e.code = rc;
        snprintf(e.msg, sizeof e.msg, "%s", cli_message(rc));
    }
    MPI_Bcast(&e, (int)sizeof e, MPI_BYTE, low, MPI_COMM_WORLD);
    if (rc != BYOL_OK) {
        cli_mute = d->rank == low ? low != 0 : d->rank != 0 && !strcmp(e.msg, cli_message(rc));
        return rc;
    }
    cli_mute = d->rank != 0;
    return cli_error(e.code, "rank %d of %d: %s", low, d->size, e.msg);
}

int cli_dist_agree(cli_dist *d, int rc, int *go)
{
    if (d->size == 1)
        return rc;
    /* One MIN over the ranks: the lowest failing rank (size if none), and
     * whether every rank wants to go on. */
    int v[2] = { rc == BYOL_OK ? d->size : d->rank, *go != 0 };
    if (MPI_Allreduce(MPI_IN_PLACE, v, 2, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS)
        MPI_Abort(MPI_COMM_WORLD, EXIT_RUNTIME); /* no agreement: the launcher ends all */
    *go = v[1];
    return v[0] == d->size ? BYOL_OK : take_error(d, v[0], rc);
}

void cli_dist_end(cli_dist *d)
{
    if (d->size > 1)
        byol_mpi_comm_free(&d->comm);
    /* MPI_Finalize need not wait for the other ranks: rank 0 may still be
     * printing the run's error when the others exit non-zero, and a
     * launcher then kills it */
    if (d->mpi) {
        MPI_Barrier(MPI_COMM_WORLD);
        MPI_Finalize();
    }
    d->mpi = 0;
}

#else /* no MPI */

int cli_dist_init(cli_dist *d)
{
    int rank, size;
    memset(d, 0, sizeof *d);
    d->size = 1;
    if (launched(&rank, &size) && (size > 1 || rank > 0))
        return cli_error(BYOL_E_COMM, "started as one of several MPI ranks, but this byol was "
                         "built without MPI: every rank would train alone. Build it where MPI "
                         "is installed (make MPI=1; docs/cluster.md), or run one process");
    return BYOL_OK;
}

int cli_dist_agree(cli_dist *d, int rc, int *go)
{
    (void)d;
    (void)go;
    return rc;
}

void cli_dist_end(cli_dist *d) { (void)d; }

#endif

const char *cli_dist_about(void)
{
#ifdef BYOL_CLI_MPI
    return "MPI: yes (mpirun -np N byol pretrain trains on N ranks)";
#else
    return "MPI: no (built without; see docs/cluster.md)";
#endif
}

int cli_dist_threads(const cli_dist *d, byol_config *cfg)
{
    if (d->size == 1)
        return BYOL_OK;
    return cli_lib(byol_config_set_int(cfg, "threads", threads_per_rank(d->local_size)));
}
