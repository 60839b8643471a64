/* What the library does with what is at a path it saves to or reads from
 * (issue 13, items 1, 2, 5 and 6), through the public API.
 *
 * Saves: byol_net_save, byol_trainer_save, byol_file_write_atomic,
 * byol_file_write_safetensors and byol_image_write_png all go through one
 * atomic write, which
 * - refuses a directory, a FIFO, a socket or a device with BYOL_E_IO naming
 *   the path and what it is, and creates nothing;
 * - follows a symbolic link to a regular file (the link stays a link, the
 *   file it names is replaced, its temporary file beside it) and refuses a
 *   dangling one;
 * - after a successful save, removes the temporary files of the same
 *   target that dead processes left, and never one of a live process.
 *
 * Loads: a FIFO (or a folder) given as a weight file, a checkpoint, a file
 * to describe or an image is refused at once with BYOL_E_IO naming it,
 * where the open used to wait forever for a writer (those tests run under
 * an alarm, so a regression kills the program instead of hanging it); a
 * valid weight file padded with gigabytes of junk is refused from its
 * header and size alone, in milliseconds, without the junk becoming
 * resident memory. (The IDX readers' cases are in test_dataset.c.) */
#define _XOPEN_SOURCE 700 /* mknod */
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "test_util.h"
#include "data_util.h"

#define NET "net.arch=cnn-small net.width=0.25 seed=3"
#define TRAINER NET " train.batch_size=4 train.total_steps=7 byol.proj_hidden=32 " \
                "byol.proj_out=16 byol.pred_hidden=32"

static byol_net *make_net(void)
{
    byol_config *cfg = tu_config(NET);
    byol_net *net = NULL;
    assert_byol_ok(byol_net_create(cfg, &net));
    byol_config_destroy(cfg);
    return net;
}

static byol_trainer *make_trainer(void)
{
    byol_config *cfg = tu_config(TRAINER);
    byol_trainer *t = NULL;
    assert_byol_ok(byol_trainer_create(cfg, NULL, &t));
    byol_config_destroy(cfg);
    return t;
}

static int write_text(const char *path, const char *text)
{
    const void *parts[1] = { text };
    size_t sizes[1] = { strlen(text) };
    return byol_file_write_atomic(path, parts, sizes, 1);
}

static void assert_text(const char *path, const char *want)
{
    size_t len;
    unsigned char *got = tu_slurp(path, &len);
    got[len] = '\0';
    assert_string_equal((const char *)got, want);
    free(got);
}

/* A FIFO made as du_dir/name; returns its path. */
static const char *fifo(const char *name)
{
    const char *path = du_path(name);
    assert_int_equal(mkfifo(path, 0600), 0);
    return path;
}

static mode_t type_of(const char *path)
{
    struct stat st;
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode & S_IFMT;
}

/* Every public writer refuses path with BYOL_E_IO naming it and `what`. */
static void every_writer_refuses(const char *path, const char *what)
{
    byol_net *net = make_net();
    byol_trainer *t = make_trainer();
    uint8_t pix[12] = { 0 };
    byol_image img = { sizeof img, 2, 2, 3, pix };
    float x = 1;
    byol_file_tensor ft = { .struct_size = sizeof ft, .dtype = BYOL_DTYPE_F32, .name = "x",
                            .ndim = 1, .shape = { 1 }, .nbytes = 4, .data = &x };
    assert_int_equal(byol_net_save(net, path), BYOL_E_IO);
    du_msg_has(path, what);
    assert_int_equal(byol_trainer_save(t, path), BYOL_E_IO);
    du_msg_has(path, what);
    assert_int_equal(write_text(path, "text"), BYOL_E_IO);
    du_msg_has(path, what);
    assert_int_equal(byol_file_write_safetensors(path, &ft, 1, NULL, 0), BYOL_E_IO);
    du_msg_has(path, what);
    assert_int_equal(byol_image_write_png(path, &img), BYOL_E_IO);
    du_msg_has(path, what);
    assert_int_equal(du_count_temp_files(), 0);
    byol_trainer_destroy(t);
    byol_net_destroy(net);
}

/* ---- targets that are not regular files ---------------------------------- */

static void test_fifo_refused(void **state)
{
    (void)state;
    const char *path = fifo("fifo");
    every_writer_refuses(path, "is a FIFO");
    assert_int_equal(type_of(path), S_IFIFO);
    /* a link to it is followed, and refused the same */
    assert_int_equal(symlink("fifo", du_path("to-fifo")), 0);
    every_writer_refuses(du_path("to-fifo"), "a FIFO");
    assert_int_equal(type_of(du_path("to-fifo")), S_IFLNK);
    assert_int_equal(type_of(path), S_IFIFO);
}

static void test_directory_refused(void **state)
{
    (void)state;
    du_mkdir("folder");
    every_writer_refuses(du_path("folder"), "is a directory");
    assert_int_equal(type_of(du_path("folder")), S_IFDIR);
}

static void test_socket_refused(void **state)
{
    (void)state;
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    const char *path = du_path("socket");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    assert_true(strlen(path) < sizeof addr.sun_path);
    strcpy(addr.sun_path, path);
    assert_int_equal(bind(fd, (const struct sockaddr *)&addr, sizeof addr), 0);
    every_writer_refuses(path, "is a socket");
    assert_int_equal(type_of(path), S_IFSOCK);
    close(fd);
}

/* A device node like /dev/null (made here, as /dev/null itself must not be
 * risked): needs root (and CAP_MKNOD), so skipped otherwise. */
static void test_char_device_refused(void **state)
{
    (void)state;
    struct stat null;
    const char *path = du_path("null");
    assert_int_equal(stat("/dev/null", &null), 0);
    if (mknod(path, S_IFCHR | 0666, null.st_rdev) != 0) {
        printf("SKIPPED: cannot make a device node here (%s)\n", strerror(errno));
        skip();
    }
    every_writer_refuses(path, "is a character device");
    assert_int_equal(type_of(path), S_IFCHR);
}

/* ---- symbolic links ------------------------------------------------------- */

/* The link stays a link; the file it names is replaced, and its temporary
 * file was beside that file, not beside the link. */
static void test_symlink_followed(void **state)
{
    (void)state;
    char target[512];
    du_mkdir("real");
    assert_int_equal(write_text(du_path("real/file.txt"), "old"), BYOL_OK);
    assert_int_equal(symlink("real/file.txt", du_path("link.txt")), 0);
    assert_int_equal(write_text(du_path("link.txt"), "new"), BYOL_OK);
    assert_int_equal(type_of(du_path("link.txt")), S_IFLNK);
    ssize_t n = readlink(du_path("link.txt"), target, sizeof target - 1);
    assert_true(n > 0);
    target[n] = '\0';
    assert_string_equal(target, "real/file.txt");
    assert_text(du_path("real/file.txt"), "new");

    /* a net saved through a link (to a link) loads back through it */
    byol_net *net = make_net(), *back = make_net();
    assert_int_equal(symlink("link.txt", du_path("link2.txt")), 0);
    assert_byol_ok(byol_net_save(net, du_path("link2.txt")));
    assert_int_equal(type_of(du_path("link2.txt")), S_IFLNK);
    assert_int_equal(type_of(du_path("link.txt")), S_IFLNK);
    assert_int_equal(type_of(du_path("real/file.txt")), S_IFREG);
    assert_byol_ok(byol_net_load(back, du_path("real/file.txt"), BYOL_LOAD_STRICT));
    byol_net_destroy(back);
    byol_net_destroy(net);
    assert_int_equal(du_count_temp_files(), 0);
}

static void test_dangling_symlink_refused(void **state)
{
    (void)state;
    const char *link = du_path("dangling");
    assert_int_equal(symlink("nowhere/missing.txt", link), 0);
    every_writer_refuses(link, "does not exist");
    du_msg_has("nowhere/missing.txt", NULL);
    assert_int_equal(type_of(link), S_IFLNK);
    assert_int_equal(access(du_path("nowhere"), F_OK), -1);
}

/* ---- leftovers of dead writers -------------------------------------------- */

/* A pid that no process has: a child's, once reaped. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(kill(pid, 0), -1);
    return pid;
}

static const char *name_of(const char *fmt, long pid, long serial)
{
    static char buf[16][128];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], fmt, pid, serial);
    return buf[k];
}

/* A process that holds the write lock on name until killed: a writer of
 * another pid namespace, whose pid (in the name) this system does not
 * know. Returns its pid. */
static pid_t lock_holder(const char *name)
{
    int ready[2];
    char c;
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        int fd = open(du_path(name), O_WRONLY);
        if (fd < 0 || fcntl(fd, F_SETLK, &l) != 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    close(ready[1]);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    return pid;
}

static void test_dead_writers_temps_removed(void **state)
{
    (void)state;
    long dead = (long)dead_pid(), self = (long)getpid();
    const char *gone[] = {
        name_of("ck.bin.tmp.%ld.%ld", dead, 0),
        name_of("ck.bin.tmp.%ld.%ld", dead, 17),
        name_of("ck.bin.tmp.%ld", dead, 0),      /* byol 1.2's command */
        name_of("ck.bin.tmp.%ld.99999999999999999999%.0ld", dead, 0), /* past int64 */
    };
    const char *kept[] = {
        name_of("ck.bin.tmp.%ld.%ld", self, 999999),  /* this process's */
        name_of("ck.bin.tmp.%ld.%ld", 1, 5),         /* a live process's */
        name_of("ck.bin.tmp.%ld.%ld", dead, 5),      /* locked: see lock_holder */
        name_of("other.bin.tmp.%ld.%ld", dead, 0),   /* another target's */
        name_of("ck.bin2.tmp.%ld.%ld", dead, 0),
        name_of("ck.bin.tmp.%ld.%ldx", dead, 0),     /* not a temporary name */
        name_of("ck.bin.tmp.%ld.%ld.1", dead, 0),
        name_of("ck.bin.tmp.0%ld.%ld", dead, 0),
    };
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
        du_write(gone[i], "stale", 5, 0);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        du_write(kept[i], "alive", 5, 0);
    pid_t holder = lock_holder(kept[2]);

    assert_int_equal(write_text(du_path("ck.bin"), "saved"), BYOL_OK);
    kill(holder, SIGKILL);
    waitpid(holder, NULL, 0);
    for (size_t i = 0; i < sizeof gone / sizeof *gone; i++)
        if (access(du_path(gone[i]), F_OK) == 0)
            fail_msg("%s, a dead writer's, is still there", gone[i]);
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        if (access(du_path(kept[i]), F_OK) != 0)
            fail_msg("%s was removed", kept[i]);
    assert_text(du_path("ck.bin"), "saved");
    for (size_t i = 0; i < sizeof kept / sizeof *kept; i++)
        unlink(du_path(kept[i]));
}

/* The temporary names a save may take are already there, as a FIFO or as
 * a hard link to another file: the save must neither wait on the FIFO nor
 * write through the link, but take a free name. (This test runs first, so
 * the process's serials start at 0.) */
static void test_temp_names_taken(void **state)
{
    (void)state;
    enum { TAKEN = 16 };
    long self = (long)getpid();
    du_write("victim", "keep", 4, 0);
    for (long k = 0; k < TAKEN; k++) {
        const char *name = du_path(name_of("t.bin.tmp.%ld.%ld", self, k));
        if (k % 2)
            assert_int_equal(link(du_path("victim"), name), 0);
        else
            assert_int_equal(mkfifo(name, 0600), 0);
    }
    assert_int_equal(write_text(du_path("t.bin"), "saved"), BYOL_OK);
    assert_text(du_path("t.bin"), "saved");
    assert_text(du_path("victim"), "keep");
    for (long k = 0; k < TAKEN; k++) {
        const char *name = du_path(name_of("t.bin.tmp.%ld.%ld", self, k));
        assert_int_equal(type_of(name), k % 2 ? S_IFREG : S_IFIFO);
        unlink(name);
    }
}

/* A failed save leaves the leftovers (it removes only its own temporary). */
static void test_failed_save_removes_nothing(void **state)
{
    (void)state;
    const char *stale = name_of("f.bin.tmp.%ld.%ld", (long)dead_pid(), 3);
    du_write(stale, "stale", 5, 0);
    du_mkdir("f.bin");
    assert_int_equal(write_text(du_path("f.bin"), "x"), BYOL_E_IO);
    assert_int_equal(access(du_path(stale), F_OK), 0);
    unlink(du_path(stale));
}

/* ---- loads of what is not a regular file ---------------------------------- */

/* Seconds a refusal may take before the alarm ends the program. */
#define HANG_LIMIT 10

static int start_alarm(void **state)
{
    (void)state;
    alarm(HANG_LIMIT);
    return 0;
}

static int stop_alarm(void **state)
{
    (void)state;
    alarm(0);
    return 0;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void test_net_load_fifo(void **state)
{
    (void)state;
    byol_net *net = make_net();
    const char *path = fifo("weights.safetensors");
    assert_int_equal(byol_net_load(net, path, 0), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    assert_int_equal(byol_net_load(net, du_dir, 0), BYOL_E_IO);
    du_msg_has(du_dir, "is a directory");
    byol_net_destroy(net);
}

static void test_trainer_load_fifo(void **state)
{
    (void)state;
    byol_trainer *t = make_trainer();
    const char *path = fifo("ck.safetensors");
    assert_int_equal(byol_trainer_load(t, path), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    byol_trainer_destroy(t);
}

static void test_file_open_fifo(void **state)
{
    (void)state;
    byol_file *f = (byol_file *)&f;  /* must be reset to NULL */
    const char *path = fifo("any.safetensors");
    assert_int_equal(byol_file_open(path, &f), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
    assert_null(f);
}

static void test_image_decode_fifo(void **state)
{
    (void)state;
    byol_image img = { .struct_size = sizeof img };
    const char *path = fifo("image.png");
    assert_int_equal(byol_image_decode(NULL, path, &img), BYOL_E_IO);
    du_msg_has(path, "is a FIFO");
}

/* ---- a weight file padded with junk --------------------------------------- */

static long peak_rss_kb(void)
{
    struct rusage ru;
    assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
    return ru.ru_maxrss;
}

/* A valid weight file followed by 8 GiB of zeros (a sparse hole: no disk):
 * refused from its header and size, fast, with resident memory growing by
 * far less than the file. */
static void test_padded_weight_file(void **state)
{
    (void)state;
    const uint64_t padded = (uint64_t)8 << 30;
    const char *path = du_path("padded.safetensors");
    byol_net *net = make_net();
    byol_file *f = NULL;
    struct stat st;
    char sizes[2][32];
    assert_byol_ok(byol_net_save(net, path));
    assert_int_equal(stat(path, &st), 0);
    snprintf(sizes[0], sizeof sizes[0], "holds %llu bytes", (unsigned long long)padded);
    snprintf(sizes[1], sizeof sizes[1], "declares %llu", (unsigned long long)st.st_size);
    assert_int_equal(truncate(path, (off_t)padded), 0);

    long rss0 = peak_rss_kb();
    double t0 = now();
    assert_int_equal(byol_net_load(net, path, 0), BYOL_E_FORMAT);
    double seconds = now() - t0;
    long grown_mb = (peak_rss_kb() - rss0) / 1024;
    if (seconds > 2 || grown_mb > 64)
        fail_msg("refusing a %llu-byte file took %.2f s and %ld MB of resident memory",
                 (unsigned long long)padded, seconds, grown_mb);
    du_msg_has(path, sizes[0]);
    du_msg_has(sizes[1], NULL);
    /* byol info's reader too */
    assert_int_equal(byol_file_open(path, &f), BYOL_E_FORMAT);
    du_msg_has(path, sizes[0]);
    assert_true((peak_rss_kb() - rss0) / 1024 <= 64);
    byol_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_temp_names_taken, start_alarm, stop_alarm),
        cmocka_unit_test(test_fifo_refused),
        cmocka_unit_test(test_directory_refused),
        cmocka_unit_test(test_socket_refused),
        cmocka_unit_test(test_char_device_refused),
        cmocka_unit_test(test_symlink_followed),
        cmocka_unit_test(test_dangling_symlink_refused),
        cmocka_unit_test(test_dead_writers_temps_removed),
        cmocka_unit_test(test_failed_save_removes_nothing),
        cmocka_unit_test_setup_teardown(test_net_load_fifo, start_alarm, stop_alarm),
        cmocka_unit_test_setup_teardown(test_trainer_load_fifo, start_alarm, stop_alarm),
        cmocka_unit_test_setup_teardown(test_file_open_fifo, start_alarm, stop_alarm),
        cmocka_unit_test_setup_teardown(test_image_decode_fifo, start_alarm, stop_alarm),
        cmocka_unit_test(test_padded_weight_file),
    };
    return cmocka_run_group_tests(tests, du_setup, du_teardown);
}
