/* json_mini.c — the bounded JSON reader of json_mini.h, for model-file headers.
 *
 * What it is: a recursive-descent parser with an explicit depth limit, writing
 * nodes and unescaped strings into arena blocks owned by the document.
 * What it is not: fast for huge documents or lenient: anything outside RFC 8259
 * (NaN, trailing commas, comments, invalid UTF-8, lone surrogates) is refused.
 */
#include "json_mini.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    const unsigned char *p, *end;
    nj_doc *doc;
    int depth;
    int oom;
} nj_parser;

static void *arena_alloc(nj_parser *ps, size_t bytes) {
    nj_doc *d = ps->doc;
    if (d->n_blocks == d->cap_blocks) {
        size_t cap = d->cap_blocks ? d->cap_blocks * 2 : 64;
        void **nb = (void **)realloc(d->blocks, cap * sizeof(void *));
        if (!nb) { ps->oom = 1; return NULL; }
        d->blocks = nb;
        d->cap_blocks = cap;
    }
    void *m = malloc(bytes ? bytes : 1);
    if (!m) { ps->oom = 1; return NULL; }
    d->blocks[d->n_blocks++] = m;
    return m;
}

/* Nodes come in chunks so a document is a few hundred mallocs, not millions. */
#define NJ_CHUNK 1024
typedef struct { nj_node *base; size_t used; } nj_chunk;

static nj_node *new_node(nj_parser *ps, nj_chunk *ch) {
    if (ps->doc->n_nodes >= NJ_MAX_NODES) return NULL;
    if (ch->base == NULL || ch->used == NJ_CHUNK) {
        ch->base = (nj_node *)arena_alloc(ps, NJ_CHUNK * sizeof(nj_node));
        if (!ch->base) return NULL;
        ch->used = 0;
    }
    nj_node *n = &ch->base[ch->used++];
    memset(n, 0, sizeof *n);
    ps->doc->n_nodes++;
    return n;
}

static void skip_ws(nj_parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

/* Validates UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t k;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; }
        else return 0;
        if (n - i <= k) return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += k + 1;
    }
    return 1;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = (v << 4) | d;
    }
    *out = v;
    return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F)); return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* At an opening quote: unescapes the string into the arena. */
static int parse_string(nj_parser *ps, const char **out, size_t *out_len) {
    const unsigned char *p = ps->p + 1, *start = p;
    /* find the closing quote, to size the output (unescaped is never longer) */
    while (p < ps->end && *p != '"') {
        if (*p < 0x20) return -1;
        if (*p == '\\') { p++; if (p >= ps->end) return -1; }
        p++;
    }
    if (p >= ps->end) return -1;
    size_t raw = (size_t)(p - start);
    char *o = (char *)arena_alloc(ps, raw + 1);
    if (!o) return -1;
    size_t n = 0;
    for (const unsigned char *q = start; q < p;) {
        if (*q != '\\') { o[n++] = (char)*q++; continue; }
        q++;
        switch (*q) {
        case '"': o[n++] = '"'; q++; break;
        case '\\': o[n++] = '\\'; q++; break;
        case '/': o[n++] = '/'; q++; break;
        case 'b': o[n++] = '\b'; q++; break;
        case 'f': o[n++] = '\f'; q++; break;
        case 'n': o[n++] = '\n'; q++; break;
        case 'r': o[n++] = '\r'; q++; break;
        case 't': o[n++] = '\t'; q++; break;
        case 'u': {
            unsigned cp, lo;
            if (p - q < 5 || !hex4(q + 1, &cp)) return -1;
            q += 5;
            if (cp >= 0xD800 && cp <= 0xDBFF) {          /* high surrogate: needs a low one */
                if (p - q < 6 || q[0] != '\\' || q[1] != 'u' || !hex4(q + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return -1;
                q += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return -1;
            }
            n += put_utf8(o + n, cp);   /* <= 6 raw bytes -> <= 4 out: fits */
            break;
        }
        default:
            return -1;
        }
    }
    o[n] = '\0';
    *out = o;
    *out_len = n;
    ps->p = p + 1;
    return 0;
}

static int parse_number(nj_parser *ps, nj_node *node) {
    const unsigned char *p = ps->p, *s = p;
    int neg = 0, is_int = 1;
    if (p < ps->end && *p == '-') { neg = 1; p++; }
    if (p >= ps->end) return -1;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (p < ps->end && *p >= '0' && *p <= '9') p++;
    else return -1;
    const unsigned char *int_end = p;
    if (p < ps->end && *p == '.') {
        is_int = 0; p++;
        if (p >= ps->end || *p < '0' || *p > '9') return -1;
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    if (p < ps->end && (*p == 'e' || *p == 'E')) {
        is_int = 0; p++;
        if (p < ps->end && (*p == '+' || *p == '-')) p++;
        if (p >= ps->end || *p < '0' || *p > '9') return -1;
        while (p < ps->end && *p >= '0' && *p <= '9') p++;
    }
    size_t n = (size_t)(p - s);
    if (n > 400) return -1;                 /* no real number needs more */
    char buf[512];
    memcpy(buf, s, n);
    buf[n] = '\0';
    node->type = NJ_NUMBER;
    node->num = strtod(buf, NULL);
    if (is_int) {
        /* exact int64 / uint64, or not an int (too big) */
        uint64_t v = 0;
        int ok = 1;
        for (const unsigned char *q = s + neg; q < int_end; q++) {
            unsigned d = (unsigned)(*q - '0');
            if (v > (UINT64_MAX - d) / 10) { ok = 0; break; }
            v = v * 10 + d;
        }
        if (ok && !neg) { node->is_uint = 1; node->uval = v; }
        if (ok && !neg && v <= (uint64_t)INT64_MAX) { node->is_int = 1; node->ival = (int64_t)v; }
        else if (ok && neg && v <= (uint64_t)INT64_MAX) { node->is_int = 1; node->ival = -(int64_t)v; }
    }
    ps->p = p;
    return 0;
}

static int cmp_keys(const void *a, const void *b) {
    const nj_node *x = *(const nj_node *const *)a, *y = *(const nj_node *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* 1 if two members of the object share a key (sorting: O(k log k), no hang). */
static int has_duplicates(nj_node *obj) {
    if (obj->len < 2) return 0;
    nj_node **v = (nj_node **)malloc(obj->len * sizeof(nj_node *));
    if (!v) return -1;
    size_t i = 0;
    for (nj_node *m = obj->child; m; m = m->next) v[i++] = m;
    qsort(v, obj->len, sizeof(nj_node *), cmp_keys);
    int dup = 0;
    for (i = 1; i < obj->len && !dup; i++) dup = cmp_keys(&v[i - 1], &v[i]) == 0;
    free(v);
    return dup;
}

static int parse_value(nj_parser *ps, nj_node *node, nj_chunk *ch);

static int parse_container(nj_parser *ps, nj_node *node, nj_chunk *ch, int object) {
    if (++ps->depth > NJ_MAX_DEPTH) return -1;
    node->type = object ? NJ_OBJECT : NJ_ARRAY;
    ps->p++;
    skip_ws(ps);
    char close = object ? '}' : ']';
    if (ps->p < ps->end && *ps->p == (unsigned char)close) { ps->p++; ps->depth--; return 0; }
    nj_node *last = NULL;
    for (;;) {
        nj_node *m = new_node(ps, ch);
        if (!m) return -1;
        skip_ws(ps);
        if (object) {
            if (ps->p >= ps->end || *ps->p != '"') return -1;
            if (parse_string(ps, &m->key, &m->key_len)) return -1;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return -1;
            ps->p++;
            skip_ws(ps);
        }
        if (parse_value(ps, m, ch)) return -1;
        if (last) last->next = m; else node->child = m;
        last = m;
        node->len++;
        skip_ws(ps);
        if (ps->p >= ps->end) return -1;
        if (*ps->p == ',') { ps->p++; continue; }
        if (*ps->p == (unsigned char)close) { ps->p++; break; }
        return -1;
    }
    ps->depth--;
    if (object) {
        int d = has_duplicates(node);
        if (d < 0) { ps->oom = 1; return -1; }
        if (d) return -1;
    }
    return 0;
}

static int parse_lit(nj_parser *ps, const char *lit, nj_type t, nj_node *node) {
    size_t n = strlen(lit);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lit, n) != 0) return -1;
    ps->p += n;
    node->type = t;
    return 0;
}

static int parse_value(nj_parser *ps, nj_node *node, nj_chunk *ch) {
    skip_ws(ps);
    if (ps->p >= ps->end) return -1;
    switch (*ps->p) {
    case '{': return parse_container(ps, node, ch, 1);
    case '[': return parse_container(ps, node, ch, 0);
    case '"':
        node->type = NJ_STRING;
        return parse_string(ps, &node->str, &node->len);
    case 't': return parse_lit(ps, "true", NJ_TRUE, node);
    case 'f': return parse_lit(ps, "false", NJ_FALSE, node);
    case 'n': return parse_lit(ps, "null", NJ_NULL, node);
    default: return parse_number(ps, node);
    }
}

void nj_free(nj_doc *doc) {
    if (!doc) return;
    for (size_t i = 0; i < doc->n_blocks; i++) free(doc->blocks[i]);
    free(doc->blocks);
    memset(doc, 0, sizeof *doc);
}

int nj_parse(nj_doc *doc, const char *text, size_t len) {
    memset(doc, 0, sizeof *doc);
    if (!text || !valid_utf8((const unsigned char *)text, len)) return -1;
    nj_parser ps = {(const unsigned char *)text, (const unsigned char *)text + len, doc, 0, 0};
    nj_chunk ch = {NULL, 0};
    nj_node *root = new_node(&ps, &ch);
    int st = root ? parse_value(&ps, root, &ch) : -1;
    if (st == 0) {
        skip_ws(&ps);
        if (ps.p != ps.end) st = -1;      /* trailing garbage */
    }
    if (st != 0) {
        int oom = ps.oom;
        nj_free(doc);
        return oom ? -2 : -1;
    }
    doc->root = root;
    return 0;
}

const nj_node *nj_get(const nj_node *obj, const char *key) {
    if (!obj || obj->type != NJ_OBJECT) return NULL;
    size_t n = strlen(key);
    for (const nj_node *m = obj->child; m; m = m->next)
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
    return NULL;
}

int nj_str_eq(const nj_node *node, const char *s) {
    return node && node->type == NJ_STRING && node->len == strlen(s) &&
           memcmp(node->str, s, node->len) == 0;
}
