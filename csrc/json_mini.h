/* json_mini.h — a small, bounded JSON reader for the model-file header (io.c).
 *
 * What it is: a strict RFC 8259 parser into a tree of nodes, with hard limits
 * (nesting depth, node count), UTF-8 validation, duplicate-key rejection and
 * exact int64 (and uint64) parsing of integers. Made for untrusted input: it
 * never recurses deeper than NJ_MAX_DEPTH, never reads past `len`, and
 * allocates at most O(len) bytes plus NJ_MAX_NODES nodes.
 * What it is not: a general JSON library (no writer, no streaming) nor part of
 * the public API (C programs use nn_net_load).
 */
#ifndef NNCORE_JSON_MINI_H
#define NNCORE_JSON_MINI_H

#include <stddef.h>
#include <stdint.h>

#define NJ_MAX_DEPTH 64
#define NJ_MAX_NODES (1 << 21)

typedef enum { NJ_NULL, NJ_FALSE, NJ_TRUE, NJ_NUMBER, NJ_STRING, NJ_ARRAY, NJ_OBJECT } nj_type;

typedef struct nj_node {
    nj_type type;
    int is_int;                /* NUMBER: an integer literal that fits int64 */
    int64_t ival;              /* NUMBER with is_int */
    int is_uint;               /* NUMBER: a non-negative integer literal that fits uint64
                                  (a model's seed is in [0, 2^64)) */
    uint64_t uval;             /* NUMBER with is_uint */
    double num;                /* NUMBER */
    const char *str;           /* STRING: unescaped, NUL-terminated; may hold NULs */
    size_t len;                /* STRING: byte length; ARRAY/OBJECT: member count */
    const char *key;           /* member of an OBJECT: its key (unescaped) */
    size_t key_len;
    struct nj_node *child;     /* ARRAY/OBJECT: first member */
    struct nj_node *next;      /* next sibling */
} nj_node;

typedef struct {
    nj_node *root;
    /* arena blocks, freed by nj_free */
    void **blocks;
    size_t n_blocks, cap_blocks;
    size_t n_nodes;
} nj_doc;

/* Parses text[0..len). Returns 0 and fills doc, or -1 for invalid / too deep /
 * too large input, -2 when out of memory. On failure doc holds nothing to free
 * (nj_free is still safe to call). */
int nj_parse(nj_doc *doc, const char *text, size_t len);
void nj_free(nj_doc *doc);

/* The member of OBJECT `obj` named `key` (NUL-terminated), or NULL. */
const nj_node *nj_get(const nj_node *obj, const char *key);
/* 1 if node is a STRING equal to s (NUL-terminated). */
int nj_str_eq(const nj_node *node, const char *s);

#endif /* NNCORE_JSON_MINI_H */
