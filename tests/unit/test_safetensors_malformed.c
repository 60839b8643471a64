/* Malformed safetensors files: each is BYOL_E_FORMAT (or BYOL_E_IO for a
 * missing file) with a message that names the file and what is wrong. */
#include <errno.h>

#include "safetensors_util.h"
#include "io/safetensors.h"

typedef struct bad_case {
    const char *header;
    size_t data_len;
    const char *expect;   /* must appear in the message (with the label) */
} bad_case;

#define T(dt, shape, b, e) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":[" b "," e "]}"

static const bad_case bad_cases[] = {
    /* dtype */
    { "{\"w\":" T("F16", "[2]", "0", "4") "}", 4, "tensor 'w': dtype 'F16'" },
    { "{\"w\":" T("XYZ", "[2]", "0", "4") "}", 4, "tensor 'w': dtype 'XYZ'" },
    { "{\"w\":{\"dtype\":3,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor 'w'" },
    /* shape */
    { "{\"neg\":" T("F32", "[2,-1]", "0", "0") "}", 0, "tensor 'neg': shape[1] is -1" },
    { "{\"big\":" T("F32", "[4294967296,4294967296]", "0", "0") "}", 0, "tensor 'big'" },
    { "{\"big2\":" T("F32", "[4611686018427387904]", "0", "0") "}", 0, "tensor 'big2'" },
    { "{\"zbig\":" T("U8", "[0,4294967296,4294967296]", "0", "0") "}", 0, "tensor 'zbig'" },
    { "{\"dims\":" T("U8", "[1,1,1,1,1,1,1,1,1]", "0", "1") "}", 1, "tensor 'dims': shape has 9" },
    { "{\"sh\":" T("U8", "3", "0", "3") "}", 3, "tensor 'sh': shape is not an array" },
    { "{\"sh2\":" T("U8", "[\"3\"]", "0", "3") "}", 3, "tensor 'sh2': shape[0]" },
    { "{\"sh3\":" T("U8", "[9223372036854775808]", "0", "3") "}", 3, "tensor 'sh3': shape[0]" },
    { "{\"flt\":" T("F32", "[1.5]", "0", "4") "}", 4, "'flt'" },
    /* sizes and ranges */
    { "{\"conv1.weight\":" T("F32", "[64,3,3,3]", "0", "100") "}", 100,
      "w.safetensors: tensor 'conv1.weight': data_offsets [0, 100) but shape "
      "[64,3,3,3] F32 needs 6912 bytes" },
    { "{\"oor\":" T("U8", "[16]", "0", "16") "}", 8, "tensor 'oor': data_offsets [0, 16) extend" },
    { "{\"rev\":" T("U8", "[4]", "8", "4") "}", 8, "tensor 'rev': data_offsets [8, 4) begin after end" },
    { "{\"huge\":" T("U8", "[1]", "18446744073709551615", "18446744073709551615") "}", 8,
      "tensor 'huge'" },
    { "{\"ovf\":" T("U8", "[1]", "0", "18446744073709551616") "}", 8, "'ovf'" },
    { "{\"negoff\":" T("U8", "[1]", "-1", "0") "}", 8, "tensor 'negoff': data_offsets" },
    { "{\"short\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]}}", 1,
      "tensor 'short': data_offsets" },
    { "{\"long\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1,
      "tensor 'long': data_offsets" },
    /* layout */
    { "{\"a\":" T("F32", "[2]", "0", "8") ",\"b\":" T("F32", "[2]", "4", "12") "}", 12,
      "tensor 'b': data_offsets [4, 12) overlap tensor 'a'" },
    { "{\"a\":" T("F32", "[2]", "0", "8") ",\"c\":" T("F32", "[2]", "0", "8") "}", 8,
      "overlap tensor" },
    { "{\"a\":" T("F32", "[1]", "0", "4") ",\"b\":" T("F32", "[1]", "8", "12") "}", 12,
      "tensor 'b': data_offsets [8, 12) leave bytes [4, 8)" },
    { "{\"z\":" T("U8", "[0]", "2", "2") ",\"a\":" T("U8", "[4]", "0", "4") "}", 4,
      "tensor 'z'" },
    { "{\"a\":" T("F32", "[1]", "0", "4") "}", 8, "the last tensor, 'a', ends at 4" },
    { "{}", 4, "lists no tensors" },
    /* names and keys */
    { "{\"d\":" T("F32", "[1]", "0", "4") ",\"d\":" T("F32", "[1]", "4", "8") "}", 8,
      "duplicate tensor name 'd'" },
    { "{\"a\\u0000b\":" T("U8", "[1]", "0", "1") "}", 1, "tensor name 'a' contains a NUL" },
    { "{\"m\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "tensor 'm': missing key 'dtype'" },
    { "{\"m2\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1, "tensor 'm2': missing key 'shape'" },
    { "{\"m3\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "tensor 'm3': missing key 'data_offsets'" },
    { "{\"u\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"extra\":1}}", 1,
      "tensor 'u': unknown key 'extra'" },
    { "{\"k\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
      "tensor 'k': duplicate key 'dtype'" },
    { "{\"s\":[1]}", 0, "tensor 's': entry is not an object" },
    /* metadata */
    { "{\"__metadata__\":{\"epoch\":3}}", 0, "__metadata__ key 'epoch' has a non-string value" },
    { "{\"__metadata__\":{\"ok\":\"1\",\"lst\":[\"a\"]}}", 0, "key 'lst'" },
    { "{\"__metadata__\":{\"n\":null}}", 0, "key 'n'" },
    { "{\"__metadata__\":\"x\"}", 0, "__metadata__ is not an object" },
    { "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "__metadata__ has duplicate key 'k'" },
    { "{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate key '__metadata__'" },
    { "{\"__metadata__\":{\"nul\":\"a\\u0000\"}}", 0, "key 'nul' has a value with a NUL" },
    { "{\"__metadata__\":{\"x\\u0000\":\"a\"}}", 0, "key 'x' contains a NUL" },
    /* JSON errors inside an entry still name it */
    { "{\"trunc\":{\"dtype\":\"U8\"", 0, "(in entry 'trunc')" },
    { "{\"ctl\":" T("U8", "[1]", "0", "1") ",\"x\":\"\x01\"}", 1, "(in entry 'x')" },
    { "{\"bomb\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
      "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}", 0,
      "(in entry 'bomb')" },
    { "{\"sur\":" T("U8", "[1]", "0", "1") ",\"\\ud800\":1}", 1, "surrogate" },
};

static void test_malformed_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const bad_case *c = &bad_cases[i];
        size_t len;
        unsigned char *img = make_image(c->header, strlen(c->header), c->data_len, &len);
        byol__st_file *f = (byol__st_file *)&len;  /* must be reset to NULL */
        int rc = byol__st_open_buffer(img, len, "w.safetensors", &f);
        if (rc != BYOL_E_FORMAT)
            fail_msg("case %zu (%s): status %d, message %s", i, c->header, rc,
                     byol_last_error());
        assert_null(f);
        du_msg_has("w.safetensors: ", NULL);
        du_msg_has(c->expect, NULL);
        free(img);
    }
}

/* Broken framing: the header length and the header's first byte. */
static void test_malformed_framing(void **state)
{
    (void)state;
    struct {
        unsigned char bytes[24];
        size_t len;
        const char *expect;
    } cases[] = {
        { { 0 }, 0, "0 bytes is too short" },
        { { 2, 0, 0, 0, 0 }, 5, "5 bytes is too short" },
        { { 3, 0, 0, 0, 0, 0, 0, 0, '{', '}' }, 10, "header length 3 but only 2 bytes" },
        { { 0, 0, 0, 0, 0, 0, 0, 0x80, '{', '}' }, 10, "exceeds the 100000000-byte limit" },
        { { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, '{', '}' }, 10, "exceeds" },
        { { 0, 0, 0, 0, 0, 0, 0, 0 }, 8, "does not start with '{'" },
        { { 2, 0, 0, 0, 0, 0, 0, 0, '[', ']' }, 10, "does not start with '{'" },
        { { 3, 0, 0, 0, 0, 0, 0, 0, '"', 'x', '"' }, 11, "does not start with '{'" },
        { { 3, 0, 0, 0, 0, 0, 0, 0, ' ', '{', '}' }, 11, "does not start with '{'" },
        { { 3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 'x' }, 11, "unexpected characters after" },
        { { 3, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0 }, 11, "unexpected characters after" },
        { { 1, 0, 0, 0, 0, 0, 0, 0, '{', '}' }, 10, "not valid JSON" },
        { { 4, 0, 0, 0, 0, 0, 0, 0, '{', '"', 0xff, '"', '}' }, 13, "invalid UTF-8" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        byol__st_file *f = NULL;
        /* exact-size copy so an over-read is an ASan error */
        unsigned char *img = malloc(cases[i].len ? cases[i].len : 1);
        memcpy(img, cases[i].bytes, cases[i].len);
        int rc = byol__st_open_buffer(img, cases[i].len, "frame.st", &f);
        if (rc != BYOL_E_FORMAT)
            fail_msg("case %zu: status %d (%s)", i, rc, byol_last_error());
        assert_null(f);
        du_msg_has("frame.st: ", NULL);
        du_msg_has(cases[i].expect, NULL);
        free(img);
    }
    /* The same checks reached through a file; a short file fails on its size
     * alone. */
    du_write("short.safetensors", "\x02\0\0", 3, 0);
    byol__st_file *f = NULL;
    assert_int_equal(byol__st_open(du_path("short.safetensors"), &f), BYOL_E_FORMAT);
    du_msg_has("short.safetensors: 3 bytes is too short", NULL);
    assert_null(f);
}

static void test_missing_file_and_folder(void **state)
{
    (void)state;
    byol__st_file *f = NULL;
    assert_int_equal(byol__st_open(du_path("does-not-exist.safetensors"), &f), BYOL_E_IO);
    assert_null(f);
    du_msg_has("does-not-exist.safetensors", NULL);
    du_msg_has(strerror(ENOENT), NULL);
    assert_int_equal(byol__st_open(du_dir, &f), BYOL_E_IO);
    du_msg_has("not a regular file", NULL);
    assert_null(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_malformed_framing),
        cmocka_unit_test(test_missing_file_and_folder),
    };
    return cmocka_run_group_tests_name("safetensors_malformed", tests, du_setup, du_teardown);
}
