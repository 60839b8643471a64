/* The safetensors reader on a hand-written file (from memory and from its
 * file, and with each allocation failing) and on the smallest files. */
#include "safetensors_util.h"
#include "io/safetensors.h"

/* Six tensors out of header order, escapes in names and metadata, a 0-d
 * scalar, a zero-size tensor, whitespace everywhere JSON allows it and the
 * space padding the format allows after the header. */
static const char hand_header[] =
    "{ \"__metadata__\" : {\"format\":\"pt\", \"note\":\"tab\\there \\\"q\\\" \\u00e9 "
    "\\ud83d\\ude00\"},\n"
    "  \"b\\u00e9ta\": {\"dtype\":\"I64\", \"shape\":[2], \"data_offsets\":[8, 24]},\n"
    "  \"alpha\":{\"shape\":[2],\"dtype\":\"F32\",\"data_offsets\":[0,8]},\n"
    "  \"gamma\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[24,27]},\n"
    "  \"s\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[27,35]},\n"
    "  \"e\":{\"dtype\":\"I32\",\"shape\":[0,5],\"data_offsets\":[35,35]},\n"
    "  \"m\":{\"dtype\":\"I32\",\"shape\":[1,1],\"data_offsets\":[35,39]}\n"
    "}      ";

static unsigned char *hand_image(size_t *len)
{
    size_t hlen = strlen(hand_header);
    unsigned char *b = make_image(hand_header, hlen, 39, len);
    unsigned char *d = b + 8 + hlen;
    put_le(d + 0, 0x3FC00000u, 4);                  /* alpha: 1.5f */
    put_le(d + 4, 0xC0000000u, 4);                  /*        -2.0f */
    put_le(d + 8, (uint64_t)-1, 8);                 /* beta: -1 */
    put_le(d + 16, 300, 8);                         /*       300 */
    d[24] = 1; d[25] = 2; d[26] = 255;              /* gamma */
    put_le(d + 27, 0x3FD0000000000000ull, 8);       /* s: 0.25 */
    put_le(d + 35, (uint32_t)-7, 4);                /* m: -7 */
    return b;
}

static void check_hand_file(const byol__st_file *f)
{
    const byol__st_tensor *t;
    float fv;
    double dv;
    uint32_t u32;
    uint64_t u64;
    assert_int_equal(byol__st_count(f), 6);
    /* header order */
    assert_string_equal(byol__st_get(f, 0)->name, "b\xc3\xa9ta");
    assert_string_equal(byol__st_get(f, 1)->name, "alpha");
    assert_string_equal(byol__st_get(f, 5)->name, "m");
    assert_null(byol__st_get(f, 6));

    t = byol__st_find(f, "alpha");
    assert_non_null(t);
    assert_int_equal(t->dtype, BYOL__ST_F32);
    assert_int_equal(t->ndim, 1);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->nbytes, 8);
    u32 = (uint32_t)get_le(t->data, 4);
    memcpy(&fv, &u32, 4);
    assert_true(fv == 1.5f);
    u32 = (uint32_t)get_le((const char *)t->data + 4, 4);
    memcpy(&fv, &u32, 4);
    assert_true(fv == -2.0f);

    t = byol__st_find(f, "b\xc3\xa9ta");
    assert_non_null(t);
    assert_int_equal(t->dtype, BYOL__ST_I64);
    assert_true((int64_t)get_le(t->data, 8) == -1);
    assert_true((int64_t)get_le((const char *)t->data + 8, 8) == 300);

    t = byol__st_find(f, "gamma");
    assert_int_equal(t->dtype, BYOL__ST_U8);
    assert_memory_equal(t->data, "\x01\x02\xff", 3);

    t = byol__st_find(f, "s");
    assert_int_equal(t->dtype, BYOL__ST_F64);
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->nbytes, 8);
    u64 = get_le(t->data, 8);
    memcpy(&dv, &u64, 8);
    assert_true(dv == 0.25);

    t = byol__st_find(f, "e");
    assert_int_equal(t->dtype, BYOL__ST_I32);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 0);
    assert_int_equal(t->shape[1], 5);
    assert_int_equal(t->nbytes, 0);

    t = byol__st_find(f, "m");
    assert_int_equal(t->dtype, BYOL__ST_I32);
    assert_true((int32_t)(uint32_t)get_le(t->data, 4) == -7);

    assert_null(byol__st_find(f, "beta"));
    assert_null(byol__st_find(f, "__metadata__"));
    assert_string_equal(byol__st_meta(f, "format"), "pt");
    assert_string_equal(byol__st_meta(f, "note"),
                        "tab\there \"q\" \xc3\xa9 \xf0\x9f\x98\x80");
    assert_null(byol__st_meta(f, "missing"));
    assert_int_equal(byol__st_meta_count(f), 2);
    const char *k, *v;
    assert_byol_ok(byol__st_meta_at(f, 0, &k, &v));
    assert_string_equal(k, "format");
    assert_byol_ok(byol__st_meta_at(f, 1, &k, &v));
    assert_string_equal(k, "note");
    assert_int_equal(byol__st_meta_at(f, 2, &k, &v), BYOL_E_INVALID_ARG);
}

static void test_hand_written_file(void **state)
{
    (void)state;
    size_t len;
    unsigned char *img = hand_image(&len);
    byol__st_file *f = NULL;

    assert_byol_ok(byol__st_open_buffer(img, len, "hand", &f));
    assert_string_equal(byol__st_label(f), "hand");
    check_hand_file(f);
    byol__st_close(f);

    du_write("hand.safetensors", img, len, 0);
    assert_byol_ok(byol__st_open(du_path("hand.safetensors"), &f));
    assert_string_equal(byol__st_label(f), du_path("hand.safetensors"));
    check_hand_file(f);
    byol__st_close(f);
    free(img);
}

/* The smallest files: no tensors at all. */
static void test_empty_files(void **state)
{
    (void)state;
    static const char *const headers[] = { "{}", "{}      ", "{\"__metadata__\":{}}" };
    for (size_t i = 0; i < 3; i++) {
        size_t len;
        unsigned char *img = make_image(headers[i], strlen(headers[i]), 0, &len);
        byol__st_file *f = NULL;
        assert_byol_ok(byol__st_open_buffer(img, len, "empty", &f));
        assert_int_equal(byol__st_count(f), 0);
        assert_int_equal(byol__st_meta_count(f), 0);
        assert_null(byol__st_find(f, "x"));
        byol__st_close(f);
        free(img);
    }
}

/* ---- allocation failures --------------------------------------------------- */

/* Every allocation the reader makes may fail: each failure is NOMEM with
 * nothing leaked, and with enough memory the same call succeeds. */
typedef struct oom_read {
    const unsigned char *img;
    size_t len;
    int via_file;
    byol__st_file *f;   /* what the last open left */
} oom_read;

/* Opens the hand-written file; once that succeeds, checks and closes it
 * (the allocation loop wants nothing alive when the call returns). */
static int open_hand_file(void *arg)
{
    oom_read *o = arg;
    o->f = NULL;
    int rc = o->via_file ? byol__st_open(du_path("oom.safetensors"), &o->f)
                         : byol__st_open_buffer(o->img, o->len, "oom", &o->f);
    if (rc == BYOL_OK) {
        check_hand_file(o->f);
        byol__st_close(o->f);
    }
    return rc;
}

static void open_failed_cleanly(void *arg)
{
    assert_null(((oom_read *)arg)->f);
    assert_true(strlen(byol_last_error()) > 0);
}

static void test_reader_allocation_failures(void **state)
{
    (void)state;
    oom_read o = { NULL, 0, 0, NULL };
    unsigned char *img = hand_image(&o.len);
    o.img = img;
    du_write("oom.safetensors", img, o.len, 0);
    for (o.via_file = 0; o.via_file < 2; o.via_file++) {
        long failures = tu_each_allocation_fails(open_hand_file, &o, open_failed_cleanly);
        assert_true(failures >= 4);  /* the loop really exercised several sites */
    }
    free(img);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_written_file),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_reader_allocation_failures),
    };
    return cmocka_run_group_tests_name("safetensors_read", tests, du_setup, du_teardown);
}
