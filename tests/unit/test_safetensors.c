/* safetensors reader/writer and the JSON parser under it.
 *
 * The hand-built files below are written byte by byte from the format
 * description, not by byol__st_write, so a bug shared by writer and reader
 * cannot cancel itself out. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_util.h"
#include "io/json.h"
#include "io/safetensors.h"

/* ---- helpers -------------------------------------------------------------- */

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char buf[4][sizeof tmp_dir + 256 + 2];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp_dir, name);
    return buf[k];
}

static int setup_dir(void **state)
{
    (void)state;
    strcpy(tmp_dir, "/tmp/byol_st_XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

/* The folder is flat except for what tests create and remove themselves. */
static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            unlink(tmp_path(de->d_name));
    closedir(d);
    return rmdir(tmp_dir);
}

/* Number of entries in tmp_dir whose name contains ".tmp." (leftovers of
 * an interrupted atomic save). */
static int count_temp_files(void)
{
    DIR *d = opendir(tmp_dir);
    struct dirent *de;
    int n = 0;
    assert_non_null(d);
    while ((de = readdir(d)) != NULL)
        if (strstr(de->d_name, ".tmp."))
            n++;
    closedir(d);
    return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *buf;
    long n;
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const void *src, int bytes)
{
    const unsigned char *p = src;
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* A file image: LE u64 header length, header text, data_len data bytes
 * (0, 1, 2, ...). The caller frees it. */
static unsigned char *make_image(const char *header, size_t hlen, size_t data_len,
                                 size_t *len)
{
    unsigned char *b = malloc(8 + hlen + data_len + 1);
    assert_non_null(b);
    put_le(b, hlen, 8);
    memcpy(b + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++)
        b[8 + hlen + i] = (unsigned char)i;
    *len = 8 + hlen + data_len;
    return b;
}

static void assert_msg_has(const char *needle)
{
    const char *msg = byol_last_error();
    if (!strstr(msg, needle))
        fail_msg("error message \"%s\" does not mention \"%s\"", msg, needle);
}

/* ---- JSON ------------------------------------------------------------------- */

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
    assert_true(byol__json_utf8_valid(s, k));
    assert_false(byol__json_utf8_valid("\xc3", 1));
    assert_false(byol__json_utf8_valid("\xed\xbf\xbf", 3));
}

/* ---- hand-written file ------------------------------------------------------ */

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

    spit(tmp_path("hand.safetensors"), img, len);
    assert_byol_ok(byol__st_open(tmp_path("hand.safetensors"), &f));
    assert_string_equal(byol__st_label(f), tmp_path("hand.safetensors"));
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

/* ---- malformed files ---------------------------------------------------------- */

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
        assert_msg_has("w.safetensors: ");
        assert_msg_has(c->expect);
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
        assert_msg_has("frame.st: ");
        assert_msg_has(cases[i].expect);
        free(img);
    }
    /* The same checks reached through a file; a short file fails on its size
     * alone. */
    spit(tmp_path("short.safetensors"), "\x02\0\0", 3);
    byol__st_file *f = NULL;
    assert_int_equal(byol__st_open(tmp_path("short.safetensors"), &f), BYOL_E_FORMAT);
    assert_msg_has("short.safetensors: 3 bytes is too short");
    assert_null(f);
}

static void test_missing_file_and_folder(void **state)
{
    (void)state;
    byol__st_file *f = NULL;
    assert_int_equal(byol__st_open(tmp_path("does-not-exist.safetensors"), &f), BYOL_E_IO);
    assert_null(f);
    assert_msg_has("does-not-exist.safetensors");
    assert_msg_has(strerror(ENOENT));
    assert_int_equal(byol__st_open(tmp_dir, &f), BYOL_E_IO);
    assert_msg_has("not a regular file");
    assert_null(f);
}

/* ---- round trip -------------------------------------------------------------- */

#define RT_N 9

typedef struct rt_set {
    float conv[4 * 3 * 3 * 3];
    double bias[5];
    int64_t step;
    int32_t idx[6];
    uint8_t mask[7];
    int64_t big[3];
    double quoted[2];
    byol__st_tensor t[RT_N];
} rt_set;

static void rt_tensor(byol__st_tensor *t, const char *name, int32_t dtype, int ndim,
                      const int64_t *shape, const void *data, size_t nbytes)
{
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->data = data;
    t->nbytes = nbytes;
}

static void rt_fill(rt_set *s, uint32_t seed)
{
    static const int64_t s_conv[] = { 4, 3, 3, 3 }, s_bias[] = { 5 }, s_idx[] = { 2, 3 },
                         s_mask[] = { 7 }, s_empty[] = { 0, 16 }, s_big[] = { 3 },
                         s_q[] = { 1, 2 }, s_u8e[] = { 3, 0 };
    tu_fill(s->conv, 108, seed, 2.0f);
    for (int i = 0; i < 5; i++)
        s->bias[i] = 1.0 / (i + seed + 1.0);
    s->step = 123456789012ll + seed;
    for (int i = 0; i < 6; i++)
        s->idx[i] = (int32_t)((i - 3) * 1000003 + (int)seed);
    for (int i = 0; i < 7; i++)
        s->mask[i] = (uint8_t)(i * 37 + seed);
    s->big[0] = INT64_MIN;
    s->big[1] = INT64_MAX;
    s->big[2] = -(int64_t)seed;
    s->quoted[0] = -0.0;
    s->quoted[1] = 1e300;
    /* U8 of odd length before 8-byte dtypes: later data is misaligned in the
     * file, which readers must handle with memcpy. */
    rt_tensor(&s->t[0], "conv1.weight", BYOL__ST_F32, 4, s_conv, s->conv, sizeof s->conv);
    rt_tensor(&s->t[1], "mask", BYOL__ST_U8, 1, s_mask, s->mask, sizeof s->mask);
    rt_tensor(&s->t[2], "fc.bias", BYOL__ST_F64, 1, s_bias, s->bias, sizeof s->bias);
    rt_tensor(&s->t[3], "bn1.num_batches_tracked", BYOL__ST_I64, 0, NULL, &s->step, 8);
    rt_tensor(&s->t[4], "idx", BYOL__ST_I32, 2, s_idx, s->idx, sizeof s->idx);
    rt_tensor(&s->t[5], "empty", BYOL__ST_F32, 2, s_empty, NULL, 0);
    rt_tensor(&s->t[6], "limits", BYOL__ST_I64, 1, s_big, s->big, sizeof s->big);
    rt_tensor(&s->t[7], "we\"ird\\ n\xc3\xa9me\n\x01", BYOL__ST_F64, 2, s_q, s->quoted,
              sizeof s->quoted);
    rt_tensor(&s->t[8], "empty.u8", BYOL__ST_U8, 2, s_u8e, s->mask, 0);
}

static const char *const rt_meta[] = {
    "format", "byol",
    "note", "line1\nline2 \"quoted\" \\ \xc3\xa9 \xf0\x9f\x98\x80 \x1f",
    "empty", "",
};

static void check_round_trip(const byol__st_file *f, const rt_set *s)
{
    assert_int_equal(byol__st_count(f), RT_N);
    for (size_t i = 0; i < RT_N; i++) {
        const byol__st_tensor *w = &s->t[i], *r = byol__st_get(f, i);
        assert_non_null(r);
        assert_string_equal(r->name, w->name);
        assert_ptr_equal(byol__st_find(f, w->name), r);
        assert_int_equal(r->dtype, w->dtype);
        assert_int_equal(r->ndim, w->ndim);
        for (int d = 0; d < w->ndim; d++)
            assert_int_equal(r->shape[d], w->shape[d]);
        assert_int_equal(r->nbytes, w->nbytes);
        if (w->nbytes)
            assert_memory_equal(r->data, w->data, w->nbytes);
    }
    assert_int_equal(byol__st_meta_count(f), 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(byol__st_meta(f, rt_meta[2 * i]), rt_meta[2 * i + 1]);
}

static void test_round_trip(void **state)
{
    (void)state;
    rt_set *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    const char *path = tmp_path("rt.safetensors");
    byol__st_file *f = NULL;
    size_t len;
    unsigned char *img;
    uint64_t hlen, total = 0;

    rt_fill(a, 1);
    assert_byol_ok(byol__st_write(path, a->t, RT_N, rt_meta, 3));
    assert_byol_ok(byol__st_open(path, &f));
    check_round_trip(f, a);
    byol__st_close(f);

    /* Layout: header padded with spaces to 8-byte alignment, data packed in
     * the given order right after it. */
    img = slurp(path, &len);
    hlen = get_le(img, 8);
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(img[8], '{');
    for (size_t i = 0; i < RT_N; i++)
        total += a->t[i].nbytes;
    assert_int_equal(len, 8 + hlen + total);
    size_t end = 8 + (size_t)hlen;
    while (img[end - 1] == ' ')
        end--;
    assert_int_equal(img[end - 1], '}');
    assert_true(8 + hlen - end < 8);
    assert_memory_equal(img + 8 + hlen, a->conv, sizeof a->conv);
    free(img);

    /* Overwriting replaces the file and leaves no temporary behind. */
    rt_fill(b, 2);
    assert_byol_ok(byol__st_write(path, b->t, RT_N, rt_meta, 3));
    assert_byol_ok(byol__st_open(path, &f));
    check_round_trip(f, b);
    byol__st_close(f);
    assert_int_equal(count_temp_files(), 0);

    /* No tensors, no metadata. */
    assert_byol_ok(byol__st_write(tmp_path("none.safetensors"), NULL, 0, NULL, 0));
    assert_byol_ok(byol__st_open(tmp_path("none.safetensors"), &f));
    assert_int_equal(byol__st_count(f), 0);
    byol__st_close(f);
    img = slurp(tmp_path("none.safetensors"), &len);
    assert_int_equal(len, 16);
    assert_memory_equal(img + 8, "{}      ", 8);
    free(img);
    free(a);
    free(b);
}

/* Real files written by tests/ref/st.py from PyTorch state_dicts. */
static void test_reads_reference_fixtures(void **state)
{
    (void)state;
    static const char *const names[] = {
        "cnn_small.weights.safetensors", "resnet18_cifar.weights.safetensors",
        "cnn_small.io.safetensors", "resnet18_cifar.io.safetensors",
    };
    int found = 0;
    for (size_t i = 0; i < 4; i++) {
        char path[512];
        byol__st_file *f = NULL;
        snprintf(path, sizeof path, "%s/%s", tu_fixtures_dir(), names[i]);
        if (access(path, R_OK) != 0)
            continue;
        found++;
        assert_byol_ok(byol__st_open(path, &f));
        assert_true(byol__st_count(f) > 0);
        assert_non_null(byol__st_meta(f, "net"));
        /* rewriting it and reading it back gives the same tensors */
        const char *copy = tmp_path("fixture_copy.safetensors");
        size_t n = byol__st_count(f);
        byol__st_tensor *ts = calloc(n, sizeof *ts);
        for (size_t k = 0; k < n; k++)
            ts[k] = *byol__st_get(f, k);
        const char *meta[] = { "net", byol__st_meta(f, "net") };
        assert_byol_ok(byol__st_write(copy, ts, n, meta, 1));
        byol__st_file *g = NULL;
        assert_byol_ok(byol__st_open(copy, &g));
        assert_int_equal(byol__st_count(g), n);
        for (size_t k = 0; k < n; k++) {
            const byol__st_tensor *x = byol__st_get(f, k), *y = byol__st_get(g, k);
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->nbytes, y->nbytes);
            assert_memory_equal(x->data, y->data, x->nbytes);
        }
        byol__st_close(g);
        free(ts);
        byol__st_close(f);
    }
    if (!found)
        skip();
}

/* ---- writer failures --------------------------------------------------------- */

static void test_writer_rejects_bad_arguments(void **state)
{
    (void)state;
    float x[4] = { 0 };
    const int64_t shape[] = { 4 };
    byol__st_tensor t[2];
    const char *path = tmp_path("bad_args.safetensors");
    const char *dup_meta[] = { "k", "1", "k", "2" };
    const char *null_meta[] = { "k", NULL };

    rt_tensor(&t[0], "a", BYOL__ST_F32, 1, shape, x, sizeof x);
    rt_tensor(&t[1], "a", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_msg_has("duplicate tensor name 'a'");
    t[1].name = "b";
    t[1].nbytes = 12;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_msg_has("tensor 'b': nbytes 12");
    t[1].nbytes = sizeof x;
    t[1].dtype = 99;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_msg_has("tensor 'b': unknown dtype 99");
    t[1].dtype = BYOL__ST_F32;
    t[1].name = "__metadata__";
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].name = "bad\xff";
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].name = "b";
    t[1].ndim = 9;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].ndim = 1;
    t[1].shape[0] = -4;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].shape[0] = 4;
    t[1].data = NULL;
    assert_int_equal(byol__st_write(path, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    t[1].data = x;
    assert_int_equal(byol__st_write(path, t, 2, dup_meta, 2), BYOL_E_INVALID_ARG);
    assert_msg_has("duplicate metadata key 'k'");
    assert_int_equal(byol__st_write(path, t, 2, null_meta, 1), BYOL_E_INVALID_ARG);
    assert_int_equal(byol__st_write(NULL, t, 2, NULL, 0), BYOL_E_INVALID_ARG);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(count_temp_files(), 0);
    assert_byol_ok(byol__st_write(path, t, 2, NULL, 0));
}

static void test_write_into_missing_folder(void **state)
{
    (void)state;
    float x[2] = { 1, 2 };
    const int64_t shape[] = { 2 };
    byol__st_tensor t;
    const char *path = tmp_path("no-such-folder/w.safetensors");
    rt_tensor(&t, "x", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(byol__st_write(path, &t, 1, NULL, 0), BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(ENOENT));
    assert_int_equal(count_temp_files(), 0);
    assert_int_equal(access(tmp_path("no-such-folder"), F_OK), -1);
}

/* The rename fails (the target is a folder): the temporary file goes. */
static void test_failed_rename_cleans_up(void **state)
{
    (void)state;
    float x[2] = { 1, 2 };
    const int64_t shape[] = { 2 };
    byol__st_tensor t;
    const char *path = tmp_path("a-folder");
    rt_tensor(&t, "x", BYOL__ST_F32, 1, shape, x, sizeof x);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(byol__st_write(path, &t, 1, NULL, 0), BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has("rename");
    assert_int_equal(count_temp_files(), 0);
    assert_int_equal(rmdir(path), 0);
}

/* A write that fails half way (file size limit, EFBIG) leaves the old file
 * byte-identical and no temporary file. */
static void test_failed_write_keeps_target(void **state)
{
    (void)state;
    const char *path = tmp_path("keep.safetensors");
    static float big[64 * 1024];
    const int64_t shape[] = { 64 * 1024 };
    byol__st_tensor t;
    struct rlimit old, lim;
    size_t len0, len1;
    unsigned char *before, *after;
    void (*old_handler)(int);

    rt_tensor(&t, "small", BYOL__ST_F32, 1, shape, big, 16);
    t.shape[0] = 4;
    assert_byol_ok(byol__st_write(path, &t, 1, NULL, 0));
    before = slurp(path, &len0);

    rt_tensor(&t, "big", BYOL__ST_F32, 1, shape, big, sizeof big);
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 4096;
    old_handler = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = byol__st_write(path, &t, 1, NULL, 0);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);

    assert_int_equal(rc, BYOL_E_IO);
    assert_msg_has(path);
    assert_msg_has(strerror(EFBIG));
    after = slurp(path, &len1);
    assert_int_equal(len0, len1);
    assert_memory_equal(before, after, len0);
    assert_int_equal(count_temp_files(), 0);
    free(before);
    free(after);
}

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
    int rc = o->via_file ? byol__st_open(tmp_path("oom.safetensors"), &o->f)
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
    spit(tmp_path("oom.safetensors"), img, o.len);
    for (o.via_file = 0; o.via_file < 2; o.via_file++) {
        long failures = tu_each_allocation_fails(open_hand_file, &o, open_failed_cleanly);
        assert_true(failures >= 4);  /* the loop really exercised several sites */
    }
    free(img);
}

/* Every allocation the writer makes may fail: each failure is NOMEM with
 * nothing leaked, names the file and leaves the old file as it was. */
typedef struct oom_write {
    const char *path;
    const rt_set *set;           /* what to write */
    const unsigned char *before; /* the file's bytes before */
    size_t before_len;
} oom_write;

static int write_set(void *arg)
{
    const oom_write *w = arg;
    return byol__st_write(w->path, w->set->t, RT_N, rt_meta, 3);
}

static void target_untouched(void *arg)
{
    const oom_write *w = arg;
    size_t len;
    assert_msg_has(w->path);
    unsigned char *now = slurp(w->path, &len);
    assert_int_equal(len, w->before_len);
    assert_memory_equal(now, w->before, w->before_len);
    free(now);
    assert_int_equal(count_temp_files(), 0);
}

static void test_writer_allocation_failures(void **state)
{
    (void)state;
    rt_set *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    oom_write w = { tmp_path("oomw.safetensors"), b, NULL, 0 };
    unsigned char *before;
    rt_fill(a, 3);
    rt_fill(b, 4);
    assert_byol_ok(byol__st_write(w.path, a->t, RT_N, rt_meta, 3));
    before = slurp(w.path, &w.before_len);
    w.before = before;
    assert_true(tu_each_allocation_fails(write_set, &w, target_untouched) >= 2);
    byol__st_file *f = NULL;
    assert_byol_ok(byol__st_open(w.path, &f));
    check_round_trip(f, b);
    byol__st_close(f);
    free(before);
    free(a);
    free(b);
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
        cmocka_unit_test(test_hand_written_file),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_malformed_headers),
        cmocka_unit_test(test_malformed_framing),
        cmocka_unit_test(test_missing_file_and_folder),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_reads_reference_fixtures),
        cmocka_unit_test(test_writer_rejects_bad_arguments),
        cmocka_unit_test(test_write_into_missing_folder),
        cmocka_unit_test(test_failed_rename_cleans_up),
        cmocka_unit_test(test_failed_write_keeps_target),
        cmocka_unit_test(test_reader_allocation_failures),
        cmocka_unit_test(test_writer_allocation_failures),
    };
    return cmocka_run_group_tests_name("safetensors", tests, setup_dir, remove_dir);
}
