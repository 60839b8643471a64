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
    /* cifar10-short is cifar10 (its views) with the short-budget network,
     * optimizer and evaluation (docs/presets.md) */
    byol_config *fresh = tu_config(NULL);
    double width, lr;
    int64_t grid;
    assert_byol_ok(byol_config_apply_preset(fresh, "cifar10-short"));
    assert_byol_ok(byol_config_get_string(fresh, "augment.jitter", &s));
    assert_string_equal(s, "torchvision");
    assert_byol_ok(byol_config_get_string(fresh, "optim.name", &s));
    assert_string_equal(s, "sgd");
    assert_byol_ok(byol_config_get_float(fresh, "net.width", &width));
    assert_byol_ok(byol_config_get_float(fresh, "optim.lr", &lr));
    assert_byol_ok(byol_config_get_int(fresh, "eval.grid", &grid));
    assert_true(width == 0.25 && lr == 0.05 && grid == 2);
    byol_config_destroy(fresh);
    assert_byol_ok(byol_config_apply_preset(cfg, "fashion-mnist"));
    assert_byol_ok(byol_config_get_string(cfg, "net.arch", &s));
    assert_string_equal(s, "cnn-small");
    assert_byol_ok(byol_config_get_int(cfg, "eval.grid", &grid));
    assert_int_equal(grid, 2); /* the demo's embedding: conv3's map pooled 2x2 */
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

/* ---- settings text: parse(serialize(c)) == c ------------------------------- */

/* Every key of a and b holds the same value (floats bit for bit). */
static void assert_same_config(const byol_config *a, const byol_config *b)
{
    for (int32_t i = 0; i < byol_config_key_count(); i++) {
        byol_key_info k = { .struct_size = sizeof k };
        assert_byol_ok(byol_config_key_info(i, &k));
        if (k.type == BYOL_TYPE_STRING) {
            const char *x, *y;
            assert_byol_ok(byol_config_get_string(a, k.name, &x));
            assert_byol_ok(byol_config_get_string(b, k.name, &y));
            if (strcmp(x, y))
                fail_msg("%s: '%.80s' (%zu bytes) read back as '%.80s' (%zu bytes)", k.name, x,
                         strlen(x), y, strlen(y));
        } else if (k.type == BYOL_TYPE_FLOAT) {
            double x, y;
            assert_byol_ok(byol_config_get_float(a, k.name, &x));
            assert_byol_ok(byol_config_get_float(b, k.name, &y));
            if (memcmp(&x, &y, sizeof x))
                fail_msg("%s: %.17g read back as %.17g", k.name, x, y);
        } else {
            int64_t x, y;
            assert_byol_ok(byol_config_get_int(a, k.name, &x));
            assert_byol_ok(byol_config_get_int(b, k.name, &y));
            if (x != y)
                fail_msg("%s: %lld read back as %lld", k.name, (long long)x, (long long)y);
        }
    }
}

/* Serialises cfg, parses the text into a fresh config and compares. */
static void assert_round_trip(const byol_config *cfg)
{
    char *text = NULL;
    byol_config *back = tu_config(NULL);
    assert_byol_ok(byol_config_serialize(cfg, &text));
    int rc = byol_config_parse(back, text);
    if (rc != BYOL_OK)
        fail_msg("the parser refuses the serialiser's text (%s): %s", byol_strerror(rc),
                 byol_last_error());
    assert_same_config(cfg, back);
    byol_free(text);
    byol_config_destroy(back);
}

static uint64_t next_random(uint64_t *x)
{
    *x ^= *x << 13, *x ^= *x >> 7, *x ^= *x << 17; /* xorshift64 */
    return *x;
}

/* Pieces that have broken, or could break, a settings text: separators,
 * quotes, escapes of other syntaxes, control bytes, and UTF-8 of 2 to 4
 * bytes (U+00A0's second byte is a space to isspace() in Latin-1 locales). */
static const char *const nasty[] = {
    "\"", "\"\"", "\\", "\\\"", " ", "=", ",", "\t", "\n", "\r", "\v", "\f", "\x01", "\x1f",
    "\x7f", "\xc2\xa0", "a", "Z", "0", "-", ".", "'", "#", "$", "key=value", "\xc3\xa9",
    "\xe2\x82\xac", "\xf0\x9f\x98\x80",
};

/* A random string of up to 24 pieces of nasty[] into buf (>= 24*9+1 bytes). */
static void random_text(uint64_t *x, char *buf)
{
    size_t n = next_random(x) % 25;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++)
        strcat(buf, nasty[next_random(x) % (sizeof nasty / sizeof nasty[0])]);
}

/* A random value within key k's bounds: often a bound, -0 or the smallest
 * subnormal, which a text form can lose. */
static void set_random(byol_config *cfg, const byol_key_info *k, uint64_t *x)
{
    uint64_t r = next_random(x);
    if (k->type == BYOL_TYPE_STRING && !k->choices) {
        char buf[24 * 9 + 1];
        random_text(x, buf);
        assert_byol_ok(byol_config_set_string(cfg, k->name, buf));
    } else if (k->type == BYOL_TYPE_STRING) {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", k->choices);
        int n = 1, pick;
        for (char *p = buf; *p; p++)
            n += *p == '|';
        pick = (int)(r % (uint64_t)n);
        char *s = strtok(buf, "|");
        while (pick-- > 0)
            s = strtok(NULL, "|");
        assert_byol_ok(byol_config_set_string(cfg, k->name, s));
    } else if (k->type == BYOL_TYPE_FLOAT) {
        double v, bits, u = (double)(next_random(x) >> 11) / 9007199254740992.0;
        uint64_t b = next_random(x);
        memcpy(&bits, &b, sizeof bits);
        switch (r % 6) {
        case 0: v = k->min; break;
        case 1: v = k->max; break;
        case 2: v = k->min == 0 ? -0.0 : k->min; break;
        case 3: v = k->min == 0 ? 5e-324 : k->min; break;
        case 4: v = bits >= k->min && bits <= k->max ? bits : k->min; break;
        default: v = k->min + (k->max - k->min) * u; break;
        }
        assert_byol_ok(byol_config_set_float(cfg, k->name, v));
    } else {
        uint64_t span = (uint64_t)(k->max - k->min) + 1;
        assert_byol_ok(byol_config_set_int(cfg, k->name, (int64_t)k->min +
                                                          (int64_t)(next_random(x) % span)));
    }
}

/* Property: for configs with every key at a random value (free-text keys
 * from nasty[]), parsing the serialised text gives the same config. */
static void test_serialize_parse_round_trip_random(void **state)
{
    (void)state;
    uint64_t x = 0x2545F4914F6CDD1Du; /* fixed seed: a failure reproduces */
    for (int round = 0; round < 3000; round++) {
        byol_config *cfg = tu_config(NULL);
        for (int32_t i = 0; i < byol_config_key_count(); i++) {
            byol_key_info k = { .struct_size = sizeof k };
            assert_byol_ok(byol_config_key_info(i, &k));
            if (next_random(&x) % 4)
                set_random(cfg, &k, &x);
        }
        assert_round_trip(cfg);
        byol_config_destroy(cfg);
    }
}

/* The same for fixed values: the quote that made checkpoints unusable
 * (issue 13), the syntax's own characters at every place, and long text. */
static void test_serialize_parse_round_trip_edges(void **state)
{
    (void)state;
    static const char *const edges[] = {
        "la\"b.gz", "/data/la\"b.gz", "\"", "\"\"", "\"\"\"", "\"x", "x\"", "\"x\"", "x\"\"y",
        "\\", "\\\"", "x\\", "\"\\", "a b", " ", " x", "x ", "a=b", "=", "==", ",", "a,b",
        "\t", "\n", "a\nb=c", "\r\n", "\x01\x02\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac",
        "\xf0\x9f\x98\x80", "key=\"v\" other=1", "",
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        byol_config *cfg = tu_config(NULL);
        assert_byol_ok(byol_config_set_string(cfg, "data.labels", edges[i]));
        assert_byol_ok(byol_config_set_string(cfg, "augment.mean", edges[i]));
        assert_round_trip(cfg);
        byol_config_destroy(cfg);
    }
    /* past the serialiser's old 512-byte buffer, and the longest value */
    static const size_t lengths[] = { 511, 512, 600, 4096, 65535 };
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        char *s = malloc(lengths[i] + 1);
        for (size_t j = 0; j < lengths[i]; j++)
            s[j] = "ab\" ,=\\\n"[j % 8];
        s[lengths[i]] = '\0';
        byol_config *cfg = tu_config(NULL);
        assert_byol_ok(byol_config_set_string(cfg, "data.labels", s));
        assert_round_trip(cfg);
        byol_config_destroy(cfg);
        free(s);
    }
    /* a longer value is refused: a checkpoint could not hold many (issue 13) */
    char *s = malloc(12 + 65536 + 1);
    memcpy(s, "data.labels=", 12);
    memset(s + 12, 'x', 65536);
    s[12 + 65536] = '\0';
    byol_config *cfg = tu_config(NULL);
    assert_int_equal(byol_config_set_string(cfg, "data.labels", s + 12), BYOL_E_RANGE);
    assert_non_null(strstr(byol_last_error(), "data.labels"));
    assert_int_equal(byol_config_parse(cfg, s), BYOL_E_RANGE);
    assert_round_trip(cfg);
    byol_config_destroy(cfg);
    free(s);
}

/* A string that is not UTF-8 is refused when set or parsed, naming the key:
 * a checkpoint's settings are JSON text, so such a value would train and
 * then fail at the first save (issue 13). */
static void test_non_utf8_refused(void **state)
{
    (void)state;
    static const char *const bad[] = { "\xff\xfe", "la\xa0" "b", "\xc3\x28", "\xe2\x82",
                                       "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        byol_config *cfg = tu_config("data.labels=ok.gz");
        char text[64];
        assert_int_equal(byol_config_set_string(cfg, "data.labels", bad[i]), BYOL_E_RANGE);
        assert_non_null(strstr(byol_last_error(), "data.labels"));
        snprintf(text, sizeof text, "data.labels=\"%s\"", bad[i]);
        assert_int_equal(byol_config_parse(cfg, text), BYOL_E_RANGE);
        const char *v = NULL;
        assert_byol_ok(byol_config_get_string(cfg, "data.labels", &v));
        assert_string_equal(v, "ok.gz");
        byol_config_destroy(cfg);
    }
}

/* What 1.2 and 1.3 wrote reads as it did: the pinned checkpoints' settings
 * (serialised again to the same text), values quoted only around spaces and
 * commas with backslashes in them, and a quote inside an unquoted value. */
static void test_settings_of_older_versions(void **state)
{
    (void)state;
    static const char *const pins[] = { "adamw", "lars", "sgd", "simsiam" };
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++) {
        char path[512], *again = NULL;
        const char *stored = NULL;
        byol_file *f = NULL;
        snprintf(path, sizeof path, "%s/pin/%s.safetensors", tu_fixtures_dir(), pins[i]);
        assert_byol_ok(byol_file_open(path, &f));
        assert_byol_ok(byol_file_metadata_find(f, "config", &stored));
        byol_config *cfg = tu_config(stored);
        assert_byol_ok(byol_config_serialize(cfg, &again));
        assert_string_equal(again, stored);
        byol_free(again);
        byol_config_destroy(cfg);
        byol_file_close(f);
    }
    static const struct {
        const char *text, *labels;
    } old[] = {
        { "data.labels=\"/my data/labels\\x.gz\"\n", "/my data/labels\\x.gz" },
        { "data.labels=\"C:\\new folder\\\"\n", "C:\\new folder\\" },
        { "data.labels=C:\\labels\\t10k.gz\n", "C:\\labels\\t10k.gz" },
        { "data.labels=a\"b\n", "a\"b" },
        { "data.labels=\"a,b\"seed=1", "a,b" },
        { "data.labels=\n", "" },
        { "data.labels=\"\"\n", "" },
    };
    for (size_t i = 0; i < sizeof old / sizeof old[0]; i++) {
        const char *s;
        byol_config *cfg = tu_config(old[i].text);
        assert_byol_ok(byol_config_get_string(cfg, "data.labels", &s));
        assert_string_equal(s, old[i].labels);
        byol_config_destroy(cfg);
    }
    byol_config *cfg = tu_config("augment.mean=\"0.5,0.4,0.3\"");
    const char *s;
    assert_byol_ok(byol_config_get_string(cfg, "augment.mean", &s));
    assert_string_equal(s, "0.5,0.4,0.3");
    /* a quote is written twice inside quotes; a lone one ends the value */
    assert_byol_ok(byol_config_parse(cfg, "data.labels=\"la\"\"b.gz\" seed=3"));
    assert_byol_ok(byol_config_get_string(cfg, "data.labels", &s));
    assert_string_equal(s, "la\"b.gz");
    assert_int_equal(byol_config_parse(cfg, "data.labels=\"la\"\"b.gz"), BYOL_E_INVALID_ARG);
    assert_non_null(strstr(byol_last_error(), "data.labels"));
    byol_config_destroy(cfg);
}

/* A numeric or boolean key's value as a double. */
static double value_of(const byol_config *cfg, const char *key)
{
    double f;
    int64_t n;
    if (byol_config_get_float(cfg, key, &f) == BYOL_OK)
        return f;
    assert_byol_ok(byol_config_get_int(cfg, key, &n));
    return (double)n;
}

/* The number and boolean forms a value may take (issue 13: "0x1p3", "yes"
 * and " 5" were accepted). Every form goes through the parser quoted, so
 * spaces reach the number reader. */
static void test_value_forms(void **state)
{
    (void)state;
    static const struct {
        const char *key, *text;
        int ok;
        double want;
    } forms[] = {
        { "seed", "0", 1, 0 }, { "seed", "42", 1, 42 }, { "seed", "007", 1, 7 },
        { "seed", "9007199254740991", 1, 9007199254740991.0 }, { "threads", "-0", 1, 0 },
        { "seed", "", 0, 0 }, { "seed", " 5", 0, 0 }, { "seed", "5 ", 0, 0 },
        { "seed", "+5", 0, 0 }, { "seed", "-", 0, 0 }, { "seed", "--5", 0, 0 },
        { "seed", "0x10", 0, 0 }, { "seed", "5x", 0, 0 }, { "seed", "1e3", 0, 0 },
        { "seed", "5.0", 0, 0 }, { "seed", "5.", 0, 0 }, { "seed", "1,000", 0, 0 },
        { "seed", "\xd9\xa5", 0, 0 }, { "seed", "99999999999999999999999", 0, 0 },
        { "optim.lr", "0.5", 1, 0.5 }, { "optim.lr", "2", 1, 2 }, { "optim.lr", ".5", 1, 0.5 },
        { "optim.lr", "5.", 1, 5 }, { "optim.lr", "1e-3", 1, 1e-3 },
        { "optim.lr", "1E-3", 1, 1e-3 }, { "optim.lr", "1e+06", 1, 1e6 },
        { "optim.lr", "-0", 1, -0.0 }, { "optim.lr", "4.9406564584124654e-324", 1, 5e-324 },
        { "optim.lr", "1e-400", 1, 0 }, { "optim.lr", "0x1p3", 0, 0 },
        { "optim.lr", "0X1P3", 0, 0 }, { "optim.lr", "inf", 0, 0 },
        { "optim.lr", "infinity", 0, 0 }, { "optim.lr", "nan", 0, 0 },
        { "optim.lr", "NAN(1)", 0, 0 }, { "optim.lr", " 0.5", 0, 0 },
        { "optim.lr", "0.5 ", 0, 0 }, { "optim.lr", "+0.5", 0, 0 }, { "optim.lr", "", 0, 0 },
        { "optim.lr", ".", 0, 0 }, { "optim.lr", "-", 0, 0 }, { "optim.lr", "e5", 0, 0 },
        { "optim.lr", "1e", 0, 0 }, { "optim.lr", "1e+", 0, 0 }, { "optim.lr", "1.2.3", 0, 0 },
        { "optim.lr", "0,5", 0, 0 }, { "optim.lr", "0.5f", 0, 0 }, { "optim.lr", "1e999", 0, 0 },
        { "loader.shuffle", "0", 1, 0 }, { "loader.shuffle", "1", 1, 1 },
        { "loader.shuffle", "true", 1, 1 }, { "loader.shuffle", "false", 1, 0 },
        { "loader.shuffle", "yes", 0, 0 }, { "loader.shuffle", "no", 0, 0 },
        { "loader.shuffle", "on", 0, 0 }, { "loader.shuffle", "off", 0, 0 },
        { "loader.shuffle", "True", 0, 0 }, { "loader.shuffle", "TRUE", 0, 0 },
        { "loader.shuffle", " 1", 0, 0 }, { "loader.shuffle", "01", 0, 0 },
        { "loader.shuffle", "2", 0, 0 }, { "loader.shuffle", "", 0, 0 },
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        byol_config *cfg = tu_config("seed=3 threads=3 optim.lr=3 loader.shuffle=1");
        const char *key = forms[i].key;
        double before = value_of(cfg, key), want = forms[i].ok ? forms[i].want : before;
        char text[128];
        snprintf(text, sizeof text, "%s=\"%s\"", key, forms[i].text);
        int rc = byol_config_parse(cfg, text);
        if (forms[i].ok && rc != BYOL_OK)
            fail_msg("%s refused: %s", text, byol_last_error());
        if (!forms[i].ok && (rc != BYOL_E_RANGE || !strstr(byol_last_error(), key) ||
                             !strstr(byol_last_error(), forms[i].text)))
            fail_msg("%s: %d, not BYOL_E_RANGE naming key and value: %s", text, rc,
                     byol_last_error());
        double got = value_of(cfg, key);
        if (got != want || signbit(got) != signbit(want))
            fail_msg("%s: reads %.17g, want %.17g", text, got, want);
        byol_config_destroy(cfg);
    }
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
        cmocka_unit_test(test_serialize_parse_round_trip_random),
        cmocka_unit_test(test_serialize_parse_round_trip_edges),
        cmocka_unit_test(test_settings_of_older_versions),
        cmocka_unit_test(test_non_utf8_refused),
        cmocka_unit_test(test_value_forms),
        cmocka_unit_test(test_status_codes_and_last_error),
        cmocka_unit_test(test_allocator_hook),
        cmocka_unit_test(test_log_callback),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
