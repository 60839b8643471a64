/* The JSON parser under the safetensors reader (src/io/json.h): escapes,
 * integers, structure, rejected texts, depth and truncation, error
 * positions, and the string writer. */
#include "test_util.h"
#include "core/internal.h"
#include "io/json.h"

/* Parses text copied into a block of exactly its length, so a read past the
 * end is an ASan error rather than a lucky NUL. */
static int json_parse_exact(const char *text, size_t len, int depth, byol__json_doc *doc,
                            byol__json_error *err)
{
    char *copy = malloc(len ? len : 1);
    int rc;
    assert_non_null(copy);
    memcpy(copy, text, len);
    rc = byol__json_parse(copy, len, depth, doc, err);
    free(copy);
    /* Strings live in the document, never in the input: freeing the input
     * first proves it (ASan would flag later reads). */
    return rc;
}

static void test_json_escapes(void **state)
{
    (void)state;
    static const char text[] =
        "\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\\u00e9\\u00C9\\u20aC\\uD83D\\ude00\\u0000z\"";
    static const char want[] = "a\"\\/\b\f\n\r\tA\xc3\xa9\xc3\x89\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    byol__json_doc doc;
    byol__json_error err;
    assert_int_equal(json_parse_exact(text, strlen(text), 4, &doc, &err), BYOL_OK);
    assert_int_equal(doc.n_nodes, 1);
    assert_int_equal(doc.nodes[0].type, BYOL__JSON_STRING);
    assert_int_equal(doc.nodes[0].count, sizeof want - 1);
    assert_memory_equal(doc.nodes[0].str, want, sizeof want);
    byol__json_free(&doc);
}

static void test_json_integers(void **state)
{
    (void)state;
    static const char text[] =
        "[0,-0,9223372036854775807,-9223372036854775808,18446744073709551615,-1]";
    byol__json_doc doc;
    byol__json_error err;
    int64_t i;
    uint64_t u;
    assert_int_equal(json_parse_exact(text, strlen(text), 4, &doc, &err), BYOL_OK);
    assert_int_equal(doc.n_nodes, 7);
    assert_int_equal(doc.nodes[0].count, 6);
    assert_int_equal(byol__json_to_i64(&doc.nodes[1], &i), 0);
    assert_true(i == 0);
    assert_int_equal(byol__json_to_u64(&doc.nodes[2], &u), 0);
    assert_true(u == 0);
    assert_int_equal(byol__json_to_i64(&doc.nodes[3], &i), 0);
    assert_true(i == INT64_MAX);
    assert_int_equal(byol__json_to_i64(&doc.nodes[4], &i), 0);
    assert_true(i == INT64_MIN);
    assert_int_equal(byol__json_to_u64(&doc.nodes[4], &u), -1);
    assert_int_equal(byol__json_to_u64(&doc.nodes[5], &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(byol__json_to_i64(&doc.nodes[5], &i), -1);
    assert_int_equal(byol__json_to_u64(&doc.nodes[6], &u), -1);
    assert_int_equal(byol__json_to_i64(&doc.nodes[6], &i), 0);
    assert_true(i == -1);
    byol__json_free(&doc);
}

static void test_json_structure(void **state)
{
    (void)state;
    static const char text[] = " {\"a\" : [1, 2, {\"b\": null}], \"c\":true,\"d\":{}}\r\n\t";
    byol__json_doc doc;
    byol__json_error err;
    size_t a, c, d;
    assert_int_equal(json_parse_exact(text, strlen(text), 4, &doc, &err), BYOL_OK);
    assert_int_equal(doc.nodes[0].type, BYOL__JSON_OBJECT);
    assert_int_equal(doc.nodes[0].count, 3);
    assert_int_equal(doc.nodes[0].next, doc.n_nodes);
    a = byol__json_get(&doc, 0, "a");
    c = byol__json_get(&doc, 0, "c");
    d = byol__json_get(&doc, 0, "d");
    assert_true(a && c && d);
    assert_int_equal(byol__json_get(&doc, 0, "b"), 0);
    assert_int_equal(doc.nodes[a].type, BYOL__JSON_ARRAY);
    assert_int_equal(doc.nodes[a].count, 3);
    assert_int_equal(doc.nodes[a + 1].mag, 1);
    assert_int_equal(doc.nodes[doc.nodes[a + 1].next].mag, 2);
    assert_int_equal(doc.nodes[c].type, BYOL__JSON_TRUE);
    assert_int_equal(doc.nodes[d].type, BYOL__JSON_OBJECT);
    assert_int_equal(doc.nodes[d].count, 0);
    /* c follows the whole subtree of a */
    assert_int_equal(doc.nodes[a].next, c - 1);
    size_t inner = byol__json_get(&doc, a + 3 + 0, "b");
    assert_int_equal(doc.nodes[inner].type, BYOL__JSON_NULL);
    byol__json_free(&doc);
}

static void test_json_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "  ", "01", "-", "-a", "1.0", "1e5", "2E1", "[1,]", "[1 2]", "{\"a\":1,}",
        "{\"a\" 1}", "{1:2}", "{\"a\":}", "[", "{", "\"abc", "\"\\x\"", "\"\\u12\"",
        "\"\\u12g4\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\ud800x\"",
        "\"\x01\"", "\"\xc0\x80\"", "\"\xe0\x80\x80\"", "\"\xf0\x80\x80\x80\"", "\"\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"",
        "\"\xe2\x82\"", "tru", "nul", "falsey", "[1] x", "18446744073709551616",
        "-9223372036854775809", "99999999999999999999999", "'a'", "[\"a\"\"b\"]",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        byol__json_doc doc;
        byol__json_error err;
        int rc = json_parse_exact(bad[i], strlen(bad[i]), 8, &doc, &err);
        if (rc != BYOL_E_FORMAT)
            fail_msg("'%s' parsed with status %d", bad[i], rc);
        assert_non_null(err.what);
        assert_true(err.offset <= strlen(bad[i]));
        assert_null(doc.nodes);
    }
}

static void test_json_depth_and_truncation(void **state)
{
    (void)state;
    char deep[2 * BYOL__JSON_MAX_DEPTH + 4];
    byol__json_doc doc;
    byol__json_error err;
    for (int depth = 1; depth <= BYOL__JSON_MAX_DEPTH + 1; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        int rc = json_parse_exact(deep, 2 * (size_t)depth, 1000, &doc, &err);
        if (depth <= BYOL__JSON_MAX_DEPTH) {
            assert_int_equal(rc, BYOL_OK);
            byol__json_free(&doc);
        } else {
            assert_int_equal(rc, BYOL_E_FORMAT);
            assert_non_null(strstr(err.what, "deep"));
        }
    }
    assert_int_equal(json_parse_exact("[[1]]", 5, 1, &doc, &err), BYOL_E_FORMAT);
    assert_int_equal(json_parse_exact("[1]", 3, 1, &doc, &err), BYOL_OK);
    byol__json_free(&doc);
    /* Every proper prefix of a valid document is invalid and is read in
     * bounds (the copy is exactly as long as the prefix). */
    static const char full[] = "{\"k\\u00e9y\":[1,-2,\"\\ud83d\\ude00\",true,false,null]}";
    for (size_t n = 0; n < strlen(full); n++)
        assert_int_equal(json_parse_exact(full, n, 8, &doc, &err), BYOL_E_FORMAT);
    assert_int_equal(json_parse_exact(full, strlen(full), 8, &doc, &err), BYOL_OK);
    byol__json_free(&doc);
}

static void test_json_error_names_root_member(void **state)
{
    (void)state;
    static const char text[] = "{\"good\":1,\"bad\\\"key\":[1.5]}";
    byol__json_doc doc;
    byol__json_error err;
    assert_int_equal(json_parse_exact(text, strlen(text), 8, &doc, &err), BYOL_E_FORMAT);
    assert_int_equal(err.key_len, strlen("bad\\\"key"));
    assert_memory_equal(text + err.key_offset, "bad\\\"key", err.key_len);
}

static void test_json_writer_round_trip(void **state)
{
    (void)state;
    char s[64], out[512];
    byol__json_doc doc;
    byol__json_error err;
    size_t k = 0;
    for (int c = 1; c < 32; c++)
        s[k++] = (char)c;
    static const char tail[] = "\"\\/\x7f\xc3\xa9\xf0\x9f\x98\x80";
    memcpy(s + k, tail, sizeof tail);  /* with its NUL */
    k += sizeof tail - 1;
    size_t size = byol__json_string_size(s);
    char *end = byol__json_put_string(out, s);
    assert_int_equal((size_t)(end - out), size);
    assert_int_equal(json_parse_exact(out, size, 1, &doc, &err), BYOL_OK);
    assert_int_equal(doc.nodes[0].count, k);
    assert_memory_equal(doc.nodes[0].str, s, k + 1);
    byol__json_free(&doc);
    assert_true(byol__utf8_valid(s, k));
    assert_false(byol__utf8_valid("\xc3", 1));
    assert_false(byol__utf8_valid("\xed\xbf\xbf", 3));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_integers),
        cmocka_unit_test(test_json_structure),
        cmocka_unit_test(test_json_rejects),
        cmocka_unit_test(test_json_depth_and_truncation),
        cmocka_unit_test(test_json_error_names_root_member),
        cmocka_unit_test(test_json_writer_round_trip),
    };
    return cmocka_run_group_tests_name("safetensors_json", tests, NULL, NULL);
}
