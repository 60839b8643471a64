/* What the library says about a file, for tests/cli/test_info_files.sh,
 * which holds `byol info` to it. Public API only.
 *
 *   file_probe FILE
 *
 * The verdict comes from byol_net_load() into two nets of different
 * architectures (cnn-small and an MLP head): a file both refuse with the
 * same status and message is refused at the file level, before any tensor
 * is matched (tensor-level refusals name a tensor of the net, and the two
 * nets share none). Prints one line and exits 0:
 *   refused<TAB>BYOL_E_FORMAT<TAB><the library's message>
 *   read<TAB><number of tensors>
 * byol_file_open() must agree (the same refusal, or a file it reads); if it
 * does not, the line starts with "inconsistent" and the exit status is 3. */
#include <stdio.h>
#include <string.h>

#include <byol/byol.h>

static byol_net *make_net(const char *settings)
{
    byol_config *cfg = NULL;
    byol_net *net = NULL;
    int rc = byol_config_create(&cfg);
    if (rc == BYOL_OK)
        rc = byol_config_parse(cfg, settings);
    if (rc == BYOL_OK)
        rc = byol_net_create(cfg, &net);
    if (rc != BYOL_OK)
        fprintf(stderr, "file_probe: %s: %s\n", byol_error_name(rc), byol_last_error());
    byol_config_destroy(cfg);
    return net;
}

/* Status and message of byol_net_load(net, path). */
static int load(byol_net *net, const char *path, char *msg, size_t len)
{
    int rc = byol_net_load(net, path, BYOL_LOAD_STRICT);
    snprintf(msg, len, "%s", rc == BYOL_OK ? "" : byol_last_error());
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: file_probe FILE\n");
        return 2;
    }
    const char *path = argv[1];
    byol_net *a = make_net("net.arch=cnn-small net.width=0.25");
    byol_net *b = make_net("net.arch=mlp net.mlp.in=8 net.mlp.hidden=8 net.mlp.out=4");
    if (!a || !b)
        return 2;
    char msg_a[2048], msg_b[2048], msg_f[2048];
    int rc_a = load(a, path, msg_a, sizeof msg_a);
    int rc_b = load(b, path, msg_b, sizeof msg_b);
    int refused = rc_a != BYOL_OK && rc_a == rc_b && !strcmp(msg_a, msg_b);

    byol_file *f = NULL;
    int rc_f = byol_file_open(path, &f);
    snprintf(msg_f, sizeof msg_f, "%s", rc_f == BYOL_OK ? "" : byol_last_error());
    int consistent = refused ? rc_f == rc_a && !strcmp(msg_f, msg_a) : rc_f == BYOL_OK;
    if (!consistent)
        printf("inconsistent\tnet_load %s '%s'\tfile_open %s '%s'\n", byol_error_name(rc_a),
               msg_a, byol_error_name(rc_f), msg_f);
    else if (refused)
        printf("refused\t%s\t%s\n", byol_error_name(rc_a), msg_a);
    else
        printf("read\t%lld\n", (long long)byol_file_tensor_count(f));
    byol_file_close(f);
    byol_net_destroy(a);
    byol_net_destroy(b);
    return consistent ? 0 : 3;
}
