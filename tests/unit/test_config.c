/* Config keys, parsing, presets, listing; status codes, errors, version,
 * allocator and log hooks. */
#include "test_util.h"

#include "core/internal.h"

static void test_defaults_and_typed_access(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(NULL);
    const char *s;
    int64_t i;
    double f;
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "resnet18");
    assert_byol_ok(byol_config_get_int(cfg, "threads", &i));
    assert_int_equal(i, 0);
    assert_byol_ok(byol_config_get_float(cfg, "net.width", &f));
    assert_true(f == 1.0);
    assert_byol_ok(byol_config_set_float(cfg, "net.width", 0.5));
    assert_byol_ok(byol_config_get_float(cfg, "net.width", &f));
    assert_true(f == 0.5);
    assert_byol_ok(byol_config_set_int(cfg, "net.width", 2)); /* integers fit float keys */
    assert_byol_ok(byol_config_get_float(cfg, "net.width", &f));
    assert_true(f == 2.0);
    assert_byol_ok(byol_config_set_int(cfg, "net.zero_init_residual", 1));
    assert_byol_ok(byol_config_get_int(cfg, "net.zero_init_residual", &i));
    assert_int_equal(i, 1);
    byol_config_destroy(cfg);
}

static void test_errors_name_the_key_and_change_nothing(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(NULL);
    double f;
    const char *s;
    assert_int_equal(byol_config_set_int(cfg, "net.nope", 1), BYOL_E_KEY);
    assert_non_null(strstr(byol_last_error(), "net.nope"));
    assert_int_equal(byol_config_set_float(cfg, "net.width", 100.0), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "net.width"));
    assert_int_equal(byol_config_set_float(cfg, "net.width", NAN), BYOL_E_RANGE);
    assert_byol_ok(byol_config_get_float(cfg, "net.width", &f));
    assert_true(f == 1.0);
    assert_int_equal(byol_config_set_string(cfg, "net.arch", "vgg"), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "resnet18-cifar")); /* lists the choices */
    assert_int_equal(byol_config_set_string(cfg, "threads", "2"), BYOL_E_RANGE);
    assert_int_equal(byol_config_get_string(cfg, "threads", &s), BYOL_E_RANGE);
    assert_int_equal(byol_config_set_int(cfg, "threads", -1), BYOL_E_RANGE);
    assert_int_equal(byol_config_set_int(NULL, "threads", 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_config_set_int(cfg, NULL, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_config_create(NULL), BYOL_E_INVALID_ARG);
    byol_config_destroy(cfg);
    byol_config_destroy(NULL);
}

static void test_parse(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(NULL);
    const char *s;
    int64_t i;
    double f;
    assert_byol_ok(byol_config_parse(cfg, " net.arch=cnn-small,threads=2\nnet.width=0.25 "
                                          "net.zero_init_residual=true"));
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "cnn-small");
    assert_byol_ok(byol_config_get_int(cfg, "threads", &i));
    assert_int_equal(i, 2);
    assert_byol_ok(byol_config_get_float(cfg, "net.width", &f));
    assert_true(f == 0.25);
    assert_byol_ok(byol_config_get_int(cfg, "net.zero_init_residual", &i));
    assert_int_equal(i, 1);
    /* all or nothing: the bad value in the middle leaves threads at 2 */
    assert_int_equal(byol_config_parse(cfg, "threads=1 net.width=abc net.arch=mlp"), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "net.width"));
    assert_byol_ok(byol_config_get_int(cfg, "threads", &i));
    assert_int_equal(i, 2);
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "cnn-small");
    assert_int_equal(byol_config_parse(cfg, "threads"), BYOL_E_INVALID_ARG);
    assert_int_equal(byol_config_parse(cfg, "bogus=1"), BYOL_E_KEY);
    assert_non_null(strstr(byol_last_error(), "bogus"));
    assert_int_equal(byol_config_parse(cfg, "net.zero_init_residual=maybe"), BYOL_E_RANGE);
    assert_int_equal(byol_config_parse(cfg, "threads=2x"), BYOL_E_RANGE);
    assert_int_equal(byol_config_parse(cfg, "net.arch=\"cnn-small"), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol_config_parse(cfg, "net.arch=\"mlp\""));
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "mlp");
    assert_byol_ok(byol_config_parse(cfg, ""));
    byol_config_destroy(cfg);
}

static void test_presets(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(NULL);
    const char *s;
    int n = 0;
    while (byol_config_preset_name(n))
        n++;
    assert_true(n >= 3);
    assert_null(byol_config_preset_name(-1));
    for (int i = 0; i < n; i++)
        assert_byol_ok(byol_config_apply_preset(cfg, byol_config_preset_name(i)));
    assert_byol_ok(byol_config_apply_preset(cfg, "imagenet"));
    assert_byol_ok(byol_config_get_string(cfg, "augment.jitter", &s));
    assert_string_equal(s, "tf"); /* the reference's jitter at the paper's scale */
    assert_byol_ok(byol_config_apply_preset(cfg, "cifar10"));
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "resnet18-cifar");
    assert_byol_ok(byol_config_get_string(cfg, "augment.jitter", &s));
    assert_string_equal(s, "torchvision"); /* docs/QUALITY.md */
    assert_byol_ok(byol_config_apply_preset(cfg, "fashion-mnist"));
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "cnn-small");
    assert_int_equal(byol_config_apply_preset(cfg, "mnist-xl"), BYOL_E_KEY);
    assert_non_null(strstr(byol_last_error(), "mnist-xl"));
    assert_non_null(strstr(byol_last_error(), "fashion-mnist"));
    byol_config_destroy(cfg);
}

static void test_listing_and_round_trip(void **state)
{
    (void)state;
    byol_config *cfg = tu_config(NULL), *back = tu_config(NULL);
    int32_t n = byol_config_key_count();
    assert_true(n > 10);
    for (int32_t i = 0; i < n; i++) {
        byol_key_info info = { .struct_size = sizeof info };
        int32_t idx;
        assert_byol_ok(byol_config_key_info(i, &info));
        assert_true(info.type >= BYOL_TYPE_INT && info.type <= BYOL_TYPE_BOOL);
        assert_true(strlen(info.help) > 0);
        assert_byol_ok(byol_config_key_find(info.name, &idx));
        assert_int_equal(idx, i);
        /* the default, as text, is accepted by the parser */
        char buf[512];
        snprintf(buf, sizeof buf, "%s=\"%s\"", info.name, info.default_value);
        assert_byol_ok(byol_config_parse(cfg, buf));
    }
    byol_key_info small = { .struct_size = 4 };
    assert_int_equal(byol_config_key_info(0, &small), BYOL_E_ABI);
    byol_key_info info = { .struct_size = sizeof info };
    assert_int_equal(byol_config_key_info(n, &info), BYOL_E_RANGE);

    assert_byol_ok(byol_config_parse(cfg, "net.arch=cnn-small net.width=0.3 seed=77"));
    char *text = NULL;
    assert_byol_ok(byol_config_serialize(cfg, &text));
    assert_non_null(strstr(text, "net.arch=cnn-small\n"));
    assert_null(strstr(text, "threads=")); /* defaults are left out */
    assert_byol_ok(byol_config_parse(back, text));
    byol_free(text);
    for (int32_t i = 0; i < n; i++) {
        byol_key_info k = { .struct_size = sizeof k };
        char a[256], b[256];
        assert_byol_ok(byol_config_key_info(i, &k));
        assert_true(byol_config_format(cfg, k.name, a, sizeof a) > 0);
        assert_true(byol_config_format(back, k.name, b, sizeof b) > 0);
        assert_string_equal(a, b);
    }
    char tiny[4];
    assert_int_equal(byol_config_format(cfg, "net.arch", tiny, sizeof tiny), 10);
    assert_string_equal(tiny, "cnn");
    byol_config *copy = NULL;
    assert_byol_ok(byol_config_copy(cfg, &copy));
    assert_byol_ok(byol_config_set_string(cfg, "net.arch", "mlp"));
    const char *s;
    assert_byol_ok(byol_config_get_string(copy, "net.arch", &s));
    assert_string_equal(s, "cnn-small");
    byol_config_destroy(copy);
    byol_config_destroy(cfg);
    byol_config_destroy(back);
}

/* Floats are written in their shortest form that reads back exactly: by
 * byol__format_double over random bit patterns and edge values (exact
 * round trip, never longer than %.17g), and through the public API for
 * every float key of every preset (serialize, then parse back bit for bit). */
static void assert_shortest_round_trip(double v)
{
    char text[32], full[32];
    byol__format_double(text, sizeof text, v);
    snprintf(full, sizeof full, "%.17g", v);
    double back = strtod(text, NULL);
    if (memcmp(&back, &v, sizeof v) != 0 || strlen(text) > strlen(full))
        fail_msg("%s (from %.17g) reads back as %.17g", text, v, back);
}

static void test_floats_shortest_round_trip(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *text;
    } known[] = { { 0.99, "0.99" }, { 1e-5, "1e-05" }, { 10, "10" }, { 0.1, "0.1" },
                  { 1.5e-6, "1.5e-06" }, { 4.0 / 3, "1.3333333333333333" }, { 0, "0" },
                  { -0.0, "-0" }, { 5e-324, "5e-324" }, { 1e6, "1e+06" },
                  { 9007199254740991.0, "9007199254740991" } };
    char text[32];
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        byol__format_double(text, sizeof text, known[i].v);
        assert_string_equal(text, known[i].text);
        assert_shortest_round_trip(known[i].v);
    }
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        double v;
        memcpy(&v, &x, sizeof v);
        if (isfinite(v))
            assert_shortest_round_trip(v);
    }
    for (int32_t p = 0; byol_config_preset_name(p); p++) {
        byol_config *cfg = tu_config(NULL), *back = tu_config(NULL);
        char *serialized = NULL;
        assert_byol_ok(byol_config_apply_preset(cfg, byol_config_preset_name(p)));
        assert_byol_ok(byol_config_serialize(cfg, &serialized));
        assert_null(strstr(serialized, "99999"));
        assert_null(strstr(serialized, "00000"));
        assert_byol_ok(byol_config_parse(back, serialized));
        for (int32_t i = 0; i < byol_config_key_count(); i++) {
            byol_key_info k = { .struct_size = sizeof k };
            double a, b;
            assert_byol_ok(byol_config_key_info(i, &k));
            if (k.type != BYOL_TYPE_FLOAT)
                continue;
            assert_byol_ok(byol_config_get_float(cfg, k.name, &a));
            assert_byol_ok(byol_config_get_float(back, k.name, &b));
            assert_memory_equal(&a, &b, sizeof a);
        }
        byol_free(serialized);
        byol_config_destroy(cfg);
        byol_config_destroy(back);
    }
    byol_config *cfg = tu_config("ema.tau_base=0.99 optim.weight_decay=1e-5");
    char *serialized = NULL;
    assert_byol_ok(byol_config_serialize(cfg, &serialized));
    assert_non_null(strstr(serialized, "ema.tau_base=0.99\n"));
    assert_non_null(strstr(serialized, "optim.weight_decay=1e-05\n"));
    byol_free(serialized);
    assert_int_equal(byol_config_set_float(cfg, "net.width", 20), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "20 is outside [0.015625, 16]"));
    assert_int_equal(byol_config_set_int(cfg, "seed", -1), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "-1 is outside [0, 9007199254740991]"));
    byol_config_destroy(cfg);
}

static void test_status_codes_and_last_error(void **state)
{
    (void)state;
    for (int c = 0; c >= BYOL_E_RANGE; c--) {
        assert_true(strlen(byol_strerror(c)) > 0);
        for (int d = c - 1; d >= BYOL_E_RANGE; d--)
            assert_string_not_equal(byol_strerror(c), byol_strerror(d));
    }
    assert_string_equal(byol_strerror(-999), "unknown status code");
    byol_config *cfg = tu_config(NULL);
    assert_int_equal(byol_config_set_int(cfg, "no.such.key", 1), BYOL_E_KEY);
    size_t need = byol_last_error_copy(NULL, 0);
    assert_int_equal(need, strlen(byol_last_error()) + 1);
    char small[5];
    assert_int_equal(byol_last_error_copy(small, sizeof small), need);
    assert_int_equal(strlen(small), 4);
    assert_memory_equal(small, byol_last_error(), 4);
    byol_config_destroy(cfg);
    assert_int_equal(byol_version_number(), BYOL_VERSION_NUMBER);
    assert_string_equal(byol_version_string(), BYOL_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", BYOL_VERSION_MAJOR, BYOL_VERSION_MINOR, BYOL_VERSION_PATCH);
    assert_string_equal(BYOL_VERSION_STRING, want);
}

/* ---- hooks ----------------------------------------------------------------- */

static void test_allocator_hook(void **state)
{
    (void)state;
    tu_failing c = { -1, 0, 0 };   /* counts, never fails */
    byol_allocator a = { sizeof a, 0, tu_failing_alloc, tu_failing_free, &c };
    byol_allocator bad = a;
    bad.struct_size = 8;
    assert_int_equal(byol_set_allocator(&bad), BYOL_E_ABI);
    bad = a;
    bad.free = NULL;
    assert_int_equal(byol_set_allocator(&bad), BYOL_E_INVALID_ARG);
    assert_byol_ok(byol_set_allocator(&a));
    byol_config *cfg = tu_config(NULL);
    char *text = NULL;
    assert_byol_ok(byol_config_set_string(cfg, "net.arch", "mlp"));
    assert_byol_ok(byol_config_serialize(cfg, &text));
    assert_true(c.total > 0 && c.live > 0);
    assert_byol_ok(byol_set_allocator(NULL));
    /* blocks made by the hook go back to it even after the switch */
    byol_free(text);
    byol_config_destroy(cfg);
    assert_int_equal(c.live, 0);
}

typedef struct log_seen {
    int calls, level;
    char msg[256];
} log_seen;

static void on_log(int level, const char *msg, void *user)
{
    log_seen *s = user;
    s->calls++;
    s->level = level;
    snprintf(s->msg, sizeof s->msg, "%s", msg);
}

static void test_log_callback(void **state)
{
    (void)state;
    log_seen seen = { 0, -1, "" };
    byol_config *cfg = tu_config(NULL);
    byol_set_log_callback(on_log, &seen, BYOL_LOG_DEBUG);
    assert_int_equal(byol_config_set_int(cfg, "logged.key", 1), BYOL_E_KEY);
    assert_true(seen.calls >= 1);
    assert_non_null(strstr(seen.msg, "logged.key"));
    byol_set_log_callback(on_log, &seen, BYOL_LOG_ERROR);
    int calls = seen.calls;
    assert_int_equal(byol_config_set_int(cfg, "quiet.key", 1), BYOL_E_KEY);
    assert_int_equal(seen.calls, calls); /* debug messages filtered out */
    byol_set_log_callback(NULL, NULL, 0);
    assert_int_equal(byol_config_set_int(cfg, "silent.key", 1), BYOL_E_KEY);
    assert_int_equal(seen.calls, calls);
    byol_config_destroy(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_typed_access),
        cmocka_unit_test(test_errors_name_the_key_and_change_nothing),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_presets),
        cmocka_unit_test(test_listing_and_round_trip),
        cmocka_unit_test(test_floats_shortest_round_trip),
        cmocka_unit_test(test_status_codes_and_last_error),
        cmocka_unit_test(test_allocator_hook),
        cmocka_unit_test(test_log_callback),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
