/* libFuzzer target for the safetensors reader and the JSON parser under it.
 *
 * Every input goes to byol__st_open_buffer; whatever it accepts is walked
 * completely (every data byte read, every name looked up, every metadata
 * entry fetched) and checked against the reader's own guarantees, so a
 * bounds or consistency bug shows up as an ASan report or an abort. The
 * same bytes also go straight to the JSON parser, whose node tree is
 * checked for self-consistency, so JSON paths are explored even when the
 * input is not framed like a safetensors file. Every accepted name, key
 * and value is also escaped with the writer's helper and parsed back.
 *
 * Build: clang -fsanitize=fuzzer,address,undefined ... (see the Makefile);
 * tests/fuzz/replay.c runs the same function over a corpus without
 * libFuzzer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "byol/byol_common.h"
#include "core/internal.h"
#include "io/json.h"
#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

/* Folds every byte into a value the compiler cannot discard. */
static volatile unsigned sink;

/* The writer's escaping must give back exactly s when parsed. */
static void check_escape_round_trip(const char *s)
{
    size_t size = byol__json_string_size(s);
    char *text = malloc(size);
    byol__json_doc doc;
    byol__json_error err;
    if (!text)
        return;
    check(byol__json_put_string(text, s) == text + size);
    int rc = byol__json_parse(text, size, 1, &doc, &err);
    free(text);
    if (rc == BYOL_E_NOMEM)
        return;
    check(rc == BYOL_OK && doc.n_nodes == 1);
    check(doc.nodes[0].count == strlen(s) && strcmp(doc.nodes[0].str, s) == 0);
    byol__json_free(&doc);
}

static void walk_tensor(const byol__st_file *f, size_t i)
{
    const byol__st_tensor *t = byol__st_get(f, i);
    uint64_t numel = 1;
    unsigned acc = 0;
    check(t != NULL && t->name != NULL);
    check(t->ndim >= 0 && t->ndim <= BYOL__ST_MAX_DIMS);
    for (int d = 0; d < t->ndim; d++) {
        check(t->shape[d] >= 0);
        numel *= (uint64_t)t->shape[d];   /* the reader ruled out overflow */
    }
    check(byol__st_dtype_size(t->dtype) != 0);
    check(numel * byol__st_dtype_size(t->dtype) == t->nbytes);
    check(t->nbytes == 0 || t->data != NULL);
    for (size_t k = 0; k < t->nbytes; k++)
        acc += ((const unsigned char *)t->data)[k];
    sink += acc;
    check(byol__st_find(f, t->name) == t);
    check_escape_round_trip(t->name);
}

static void walk_file(const byol__st_file *f)
{
    size_t n = byol__st_count(f), m = byol__st_meta_count(f);
    for (size_t i = 0; i < n; i++)
        walk_tensor(f, i);
    check(byol__st_get(f, n) == NULL);
    for (size_t i = 0; i < m; i++) {
        const char *key, *value;
        check(byol__st_meta_at(f, i, &key, &value) == BYOL_OK);
        check(byol__st_meta(f, key) == value);
        sink += (unsigned)strlen(value);
        check_escape_round_trip(key);
        check_escape_round_trip(value);
    }
    check(byol__st_label(f)[0] == 'f');
}

/* Children of every container lie inside its subtree, in order. */
static void walk_json(const byol__json_doc *doc)
{
    for (size_t i = 0; i < doc->n_nodes; i++) {
        const byol__json_node *nd = &doc->nodes[i];
        check(nd->next > i && nd->next <= doc->n_nodes);
        if (nd->type == BYOL__JSON_ARRAY || nd->type == BYOL__JSON_OBJECT) {
            size_t j = i + 1, kids = nd->count * (nd->type == BYOL__JSON_OBJECT ? 2 : 1);
            for (size_t k = 0; k < kids; k++) {
                check(j < nd->next);
                if (nd->type == BYOL__JSON_OBJECT && k % 2 == 0)
                    check(doc->nodes[j].type == BYOL__JSON_STRING);
                j = doc->nodes[j].next;
            }
            check(j == nd->next);
        } else {
            check(nd->next == i + 1);
        }
        if (nd->type == BYOL__JSON_STRING) {
            check(nd->str[nd->count] == '\0');
            check(byol__utf8_valid(nd->str, nd->count));
        }
    }
    check(doc->n_nodes > 0 && doc->nodes[0].next == doc->n_nodes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    byol__st_file *f = NULL;
    byol__json_doc doc;
    byol__json_error err;
    int rc = byol__st_open_buffer(data, size, "fuzz", &f);
    check(rc == BYOL_OK || rc == BYOL_E_FORMAT || rc == BYOL_E_NOMEM);
    check((rc == BYOL_OK) == (f != NULL));
    if (rc == BYOL_OK) {
        walk_file(f);
        byol__st_close(f);
    } else {
        check(byol_last_error()[0] != '\0');
    }
    rc = byol__json_parse((const char *)data, size, BYOL__JSON_MAX_DEPTH, &doc, &err);
    check(rc == BYOL_OK || rc == BYOL_E_FORMAT || rc == BYOL_E_NOMEM);
    if (rc == BYOL_OK) {
        walk_json(&doc);
        byol__json_free(&doc);
    } else {
        check(err.what != NULL && err.offset <= size);
        check(err.key_len == 0 || err.key_offset + err.key_len <= size);
    }
    return 0;
}
