/* io.c — nn_net_load: read a model file saved by nncore's Python `model.save`.
 *
 * What it is: the C twin of nncore/io.py's loader. The file is safetensors:
 * an 8-byte little-endian header length N, N bytes of JSON header (tensor
 * entries {"dtype", "shape", "data_offsets"} and "__metadata__" holding
 * format = "nncore" and config = the architecture as a JSON string), then the
 * raw little-endian tensor data. Every length, offset, shape and the whole
 * architecture are validated against the file BEFORE anything big is
 * allocated: memory use is bounded by the file size, and a hostile file gets
 * NN_ERR_FORMAT, never a crash or a giant allocation.
 * What it is not: a writer (Python writes), nor a general safetensors reader
 * (only F32/F64 and nncore's parameter names).
 */
#if !defined(_WIN32) && !defined(_FILE_OFFSET_BITS)
#define _FILE_OFFSET_BITS 64
#endif
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE) && !defined(__APPLE__)
#define _POSIX_C_SOURCE 200809L /* fileno, fseeko, ftello under -std=c99 */
#endif
#include "internal.h"
#include "json_mini.h"

#include <stdio.h>
#include <string.h>

#if defined(_WIN32)
#define nn_fseek _fseeki64
#define nn_ftell _ftelli64
#else
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#define nn_fseek fseeko
#define nn_ftell ftello
#endif

#define NN_IO_MAX_HEADER (100LL * 1024 * 1024) /* the safetensors limit */
#define NN_IO_MAX_LAYERS 100000
#define NN_IO_MAX_RANK 8
#define NN_IO_MAX_ROW_VALUES (1LL << 20) /* see the workspace check in read_architecture */

typedef struct {
    const nj_node *entry;     /* the tensor's header entry, NULL if absent */
    int64_t begin, end;       /* byte offsets in the data section */
} io_tensor;

typedef struct {
    int64_t begin, end;
} io_span;

static int cmp_span(const void *a, const void *b) {
    const io_span *x = (const io_span *)a, *y = (const io_span *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

static int is_little_endian(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void swap_bytes(void *buf, int64_t n, size_t esize) {
    uint8_t *p = (uint8_t *)buf;
    for (int64_t i = 0; i < n; i++, p += esize)
        for (size_t a = 0, b = esize - 1; a < b; a++, b--) {
            uint8_t t = p[a]; p[a] = p[b]; p[b] = t;
        }
}

/* A non-negative JSON integer, or -1. */
static int64_t json_uint(const nj_node *n) {
    if (!n || n->type != NJ_NUMBER || !n->is_int || n->ival < 0) return -1;
    return n->ival;
}

/* A finite JSON number (int or float) in *out; 0 if absent (keeps default), -1 if bad. */
static int json_num(const nj_node *obj, const char *key, double *out) {
    const nj_node *n = nj_get(obj, key);
    if (!n) return 0;
    if (n->type != NJ_NUMBER || !isfinite(n->num)) return -1;
    *out = n->num;
    return 0;
}

/* "12.weight" -> layer 12, kind 0; "3.bias" -> 3, kind 1; -1 if another name. */
static int parse_param_name(const char *s, size_t len, int64_t *layer, int *kind) {
    size_t i = 0;
    int64_t v = 0;
    if (len == 0 || s[0] < '0' || s[0] > '9') return -1;
    if (s[0] == '0' && len > 1 && s[1] != '.') return -1;  /* no leading zeros */
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (v > (INT64_MAX - 9) / 10) return -1;
        v = v * 10 + (s[i] - '0');
        i++;
    }
    if (i < len && len - i == 7 && memcmp(s + i, ".weight", 7) == 0) *kind = 0;
    else if (i < len && len - i == 5 && memcmp(s + i, ".bias", 5) == 0) *kind = 1;
    else return -1;
    *layer = v;
    return 0;
}

/* 1 if every key of `cfg` is "type" or one of `allowed` (NULL-terminated): the
 * Python loader refuses unknown keys too, so both readers accept the same files. */
static int only_keys(const nj_node *cfg, const char *const *allowed) {
    for (const nj_node *m = cfg->child; m; m = m->next) {
        int ok = m->key_len == 4 && memcmp(m->key, "type", 4) == 0;
        for (const char *const *a = allowed; *a && !ok; a++)
            ok = m->key_len == strlen(*a) && memcmp(m->key, *a, m->key_len) == 0;
        if (!ok) return 0;
    }
    return 1;
}

/* One layer's config object -> spec. `features` is the width flowing in
 * (0 if not known yet). Returns NN_OK or NN_ERR_FORMAT. */
static int layer_spec(const nj_node *cfg, nn_layer_spec *s) {
    static const struct { const char *name; nn_act act; } acts[] = {
        {"Identity", NN_ACT_IDENTITY}, {"ReLU", NN_ACT_RELU}, {"LeakyReLU", NN_ACT_LEAKY_RELU},
        {"ELU", NN_ACT_ELU}, {"GELU", NN_ACT_GELU}, {"SiLU", NN_ACT_SILU},
        {"Softplus", NN_ACT_SOFTPLUS}, {"Sigmoid", NN_ACT_SIGMOID}, {"Tanh", NN_ACT_TANH},
        {"Softmax", NN_ACT_SOFTMAX}, {"LogSoftmax", NN_ACT_LOG_SOFTMAX},
    };
    const nj_node *type = nj_get(cfg, "type");
    memset(s, 0, sizeof *s);
    if (!type || type->type != NJ_STRING) return NN_ERR_FORMAT;
    static const char *const linear_keys[] = {"in_features", "out_features", "bias", "init",
                                              "bias_init", NULL};
    static const char *const dropout_keys[] = {"p", NULL};
    static const char *const slope_keys[] = {"negative_slope", NULL};
    static const char *const alpha_keys[] = {"alpha", NULL};
    static const char *const gelu_keys[] = {"approximate", NULL};
    static const char *const no_keys[] = {NULL};
    if (nj_str_eq(type, "Linear")) {
        if (!only_keys(cfg, linear_keys)) return NN_ERR_FORMAT;
        int64_t fin = json_uint(nj_get(cfg, "in_features"));
        int64_t fout = json_uint(nj_get(cfg, "out_features"));
        const nj_node *bias = nj_get(cfg, "bias");
        if (fin <= 0 || fout <= 0) return NN_ERR_FORMAT;
        if (bias && bias->type != NJ_TRUE && bias->type != NJ_FALSE) return NN_ERR_FORMAT;
        s->kind = NN_LAYER_LINEAR;
        s->in_features = fin;
        s->out_features = fout;
        s->bias = bias ? bias->type == NJ_TRUE : 1;
        return NN_OK;
    }
    if (nj_str_eq(type, "Dropout")) {
        double p = 0.5;
        if (!only_keys(cfg, dropout_keys)) return NN_ERR_FORMAT;
        if (json_num(cfg, "p", &p) || !(p >= 0.0 && p < 1.0)) return NN_ERR_FORMAT;
        s->kind = NN_LAYER_DROPOUT;
        s->param = p;
        return NN_OK;
    }
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        if (!nj_str_eq(type, acts[i].name)) continue;
        s->kind = NN_LAYER_ACT;
        s->act = acts[i].act;
        const char *const *keys = acts[i].act == NN_ACT_LEAKY_RELU ? slope_keys
                                : acts[i].act == NN_ACT_ELU ? alpha_keys
                                : acts[i].act == NN_ACT_GELU ? gelu_keys : no_keys;
        if (!only_keys(cfg, keys)) return NN_ERR_FORMAT;
        double param = 0.0;
        if (acts[i].act == NN_ACT_LEAKY_RELU) {
            param = 0.01;
            if (json_num(cfg, "negative_slope", &param)) return NN_ERR_FORMAT;
        } else if (acts[i].act == NN_ACT_ELU) {
            param = 1.0;
            if (json_num(cfg, "alpha", &param)) return NN_ERR_FORMAT;
        } else if (acts[i].act == NN_ACT_GELU) {
            const nj_node *ap = nj_get(cfg, "approximate");
            if (ap && nj_str_eq(ap, "tanh")) s->act = NN_ACT_GELU_TANH;
            else if (ap && !nj_str_eq(ap, "none")) return NN_ERR_FORMAT;
        }
        s->param = param;
        return NN_OK;
    }
    return NN_ERR_FORMAT;  /* unknown layer type */
}

/* Everything a load holds, filled step by step by the functions below (each
 * returns NN_OK or the status of the first problem); nn_net_load frees it. */
typedef struct {
    FILE *f;
    int64_t size;              /* of the file */
    int64_t data_start, data_len; /* the data section: bytes after the header */
    char *header;
    nj_doc hdoc, cdoc;         /* the header JSON; the architecture JSON */
    nn_dtype dtype;
    size_t esize;              /* bytes per element */
    nn_compute compute;        /* "compute_dtype" of the config ("float32" if absent) */
    uint64_t seed;
    const nj_node *layers;     /* the architecture's layer array */
    int32_t nl;                /* its length */
    nn_layer_spec *specs;
    io_tensor *tensors;        /* 2 per layer: weight, bias */
    io_span *spans;
    int64_t n_spans;
} io_state;

/* fopen(path, "rb") for regular files only, NULL otherwise. Opened non-blocking
 * first: fopen on a FIFO would wait forever for a writer. */
static FILE *open_regular(const char *path) {
#if defined(_WIN32)
    return fopen(path, "rb");
#else
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    if (fd < 0) return NULL;
    struct stat sb;
    int fl = fcntl(fd, F_GETFL);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || fl < 0 ||
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) close(fd);
    return f;
#endif
}

/* The header: the 8-byte length, checked against the file size, then the
 * header JSON, parsed. */
static int read_header(io_state *st, const char *path) {
    st->f = open_regular(path);
    if (!st->f) return NN_ERR_IO;
#if !defined(_WIN32)
    struct stat sb;   /* a directory or a device has no meaningful size */
    if (fstat(fileno(st->f), &sb) != 0 || !S_ISREG(sb.st_mode)) return NN_ERR_IO;
#endif
    if (nn_fseek(st->f, 0, SEEK_END) != 0) return NN_ERR_IO;
    st->size = (int64_t)nn_ftell(st->f);
    if (st->size < 0 || nn_fseek(st->f, 0, SEEK_SET) != 0) return NN_ERR_IO;
    if (st->size < 8) return NN_ERR_FORMAT;
    uint8_t lenb[8];
    if (fread(lenb, 1, 8, st->f) != 8) return NN_ERR_IO;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | lenb[i];
    if (n > (uint64_t)(st->size - 8) || n > (uint64_t)NN_IO_MAX_HEADER || n < 2)
        return NN_ERR_FORMAT;
    st->data_start = 8 + (int64_t)n;
    st->data_len = st->size - st->data_start;

    st->header = (char *)malloc((size_t)n + 1);
    if (!st->header) return NN_ERR_NOMEM;
    if (fread(st->header, 1, (size_t)n, st->f) != (size_t)n) return NN_ERR_IO;
    st->header[n] = '\0';
    int s = nj_parse(&st->hdoc, st->header, (size_t)n);
    if (s == -2) return NN_ERR_NOMEM;
    if (s != 0 || st->hdoc.root->type != NJ_OBJECT) return NN_ERR_FORMAT;
    return NN_OK;
}

/* The metadata: format "nncore" and the architecture JSON, parsed; its
 * dtype, seed and layer array. */
static int read_metadata(io_state *st) {
    const nj_node *meta = nj_get(st->hdoc.root, "__metadata__");
    if (!meta || meta->type != NJ_OBJECT) return NN_ERR_FORMAT;
    for (const nj_node *m = meta->child; m; m = m->next)
        if (m->type != NJ_STRING) return NN_ERR_FORMAT;
    if (!nj_str_eq(nj_get(meta, "format"), "nncore")) return NN_ERR_FORMAT;
    const nj_node *config = nj_get(meta, "config");
    if (!config) return NN_ERR_FORMAT;
    int s = nj_parse(&st->cdoc, config->str, config->len);
    if (s == -2) return NN_ERR_NOMEM;
    if (s != 0 || st->cdoc.root->type != NJ_OBJECT) return NN_ERR_FORMAT;
    const nj_node *cfg = st->cdoc.root;

    st->dtype = NN_F32;
    const nj_node *dt = nj_get(cfg, "dtype");
    if (dt) {
        if (nj_str_eq(dt, "float64")) st->dtype = NN_F64;
        else if (!nj_str_eq(dt, "float32")) return NN_ERR_FORMAT;
    }
    st->esize = st->dtype == NN_F32 ? 4 : 8;
    st->compute = NN_COMPUTE_FP32;
    const nj_node *cd = nj_get(cfg, "compute_dtype");
    if (cd) {
        if (nj_str_eq(cd, "bfloat16") && st->dtype == NN_F32) st->compute = NN_COMPUTE_BF16;
        else if (!nj_str_eq(cd, "float32")) return NN_ERR_FORMAT;
    }
    st->seed = 0;
    const nj_node *sd = nj_get(cfg, "seed");
    if (sd && sd->type != NJ_NULL) {   /* Python's seeds are in [0, 2^64) */
        if (sd->type != NJ_NUMBER || !sd->is_uint) return NN_ERR_FORMAT;
        st->seed = sd->uval;
    }
    st->layers = nj_get(cfg, "layers");
    if (!st->layers || st->layers->type != NJ_ARRAY || st->layers->len == 0 ||
        st->layers->len > NN_IO_MAX_LAYERS)
        return NN_ERR_FORMAT;
    st->nl = (int32_t)st->layers->len;
    return NN_OK;
}

/* The architecture: one spec per layer, widths flowing from the first
 * Linear's input; and the bound on the workspace it would need. */
static int read_architecture(io_state *st) {
    const int32_t nl = st->nl;
    st->specs = (nn_layer_spec *)calloc((size_t)nl, sizeof(nn_layer_spec));
    st->tensors = (io_tensor *)calloc((size_t)nl * 2, sizeof(io_tensor));
    st->spans = (io_span *)calloc((size_t)nl * 2 + 1, sizeof(io_span));
    if (!st->specs || !st->tensors || !st->spans) return NN_ERR_NOMEM;
    int64_t width = 0;
    int32_t i = 0;
    for (const nj_node *L = st->layers->child; L; L = L->next, i++) {
        if (L->type != NJ_OBJECT || layer_spec(L, &st->specs[i]) != NN_OK) return NN_ERR_FORMAT;
        if (st->specs[i].kind == NN_LAYER_LINEAR && width == 0) width = st->specs[i].in_features;
    }
    if (width == 0) return NN_ERR_FORMAT;   /* no Linear: sizes unknown */
    int64_t row_values = 0;   /* one output per layer per batch row: the workspace */
    for (i = 0; i < nl; i++) {
        nn_layer_spec *sp = &st->specs[i];
        if (sp->kind == NN_LAYER_LINEAR) {
            if (sp->in_features != width) return NN_ERR_FORMAT;
            width = sp->out_features;
        } else {
            sp->in_features = sp->out_features = width;
        }
        if (width > INT64_MAX - row_values) return NN_ERR_FORMAT;
        row_values += width;
    }
    /* Running the model needs about row_values values of workspace per batch row. Many
     * activation layers after one wide Linear would let a 2 MB file ask for gigabytes
     * per row: beyond NN_IO_MAX_ROW_VALUES the file must be at least as large. */
    if (row_values > NN_IO_MAX_ROW_VALUES && row_values > st->size) return NN_ERR_FORMAT;
    return NN_OK;
}

/* One tensor entry `m` of the header: its name names a parameter of the
 * architecture, its dtype and shape are exactly the architecture's, its
 * offsets lie in the data section and span exactly its bytes. */
static int read_tensor_entry(io_state *st, const nj_node *m) {
    int64_t li;
    int kind;
    if (parse_param_name(m->key, m->key_len, &li, &kind) || li >= st->nl) return NN_ERR_FORMAT;
    const nn_layer_spec *sp = &st->specs[li];
    if (sp->kind != NN_LAYER_LINEAR || (kind == 1 && !sp->bias)) return NN_ERR_FORMAT;
    if (m->type != NJ_OBJECT) return NN_ERR_FORMAT;
    const nj_node *tdt = nj_get(m, "dtype"), *shape = nj_get(m, "shape");
    const nj_node *off = nj_get(m, "data_offsets");
    if (!nj_str_eq(tdt, st->dtype == NN_F32 ? "F32" : "F64")) return NN_ERR_FORMAT;
    if (!shape || shape->type != NJ_ARRAY || shape->len > NN_IO_MAX_RANK) return NN_ERR_FORMAT;
    if (!off || off->type != NJ_ARRAY || off->len != 2) return NN_ERR_FORMAT;
    /* shape must be exactly the architecture's: (out, in) or (out,) */
    int64_t want[2] = {sp->out_features, sp->in_features};
    size_t want_rank = kind == 0 ? 2 : 1;
    if (shape->len != want_rank) return NN_ERR_FORMAT;
    const nj_node *d = shape->child;
    for (size_t k = 0; k < want_rank; k++, d = d->next)
        if (json_uint(d) != want[k]) return NN_ERR_FORMAT;
    int64_t begin = json_uint(off->child), end = json_uint(off->child->next);
    if (begin < 0 || end < begin || end > st->data_len) return NN_ERR_FORMAT;
    int64_t count, bytes;
    if (nn_mul_size(sp->out_features, kind == 0 ? sp->in_features : 1, &count) != NN_OK ||
        nn_mul_size(count, (int64_t)st->esize, &bytes) != NN_OK)
        return NN_ERR_FORMAT;
    if (bytes != end - begin) return NN_ERR_FORMAT;
    io_tensor *t = &st->tensors[2 * li + kind];
    t->entry = m;
    t->begin = begin;
    t->end = end;
    st->spans[st->n_spans].begin = begin;
    st->spans[st->n_spans].end = end;
    st->n_spans++;
    return NN_OK;
}

/* Every tensor entry (all checked before any big allocation), every
 * parameter present, and the data section tiled exactly: contiguous, no
 * overlap, no gap, no trailing bytes. */
static int read_tensors(io_state *st) {
    for (const nj_node *m = st->hdoc.root->child; m; m = m->next) {
        if (m->key_len == 12 && memcmp(m->key, "__metadata__", 12) == 0) continue;
        int s = read_tensor_entry(st, m);
        if (s != NN_OK) return s;
    }
    for (int32_t i = 0; i < st->nl; i++) {
        if (st->specs[i].kind != NN_LAYER_LINEAR) continue;
        if (!st->tensors[2 * i].entry) return NN_ERR_FORMAT;
        if (st->specs[i].bias && !st->tensors[2 * i + 1].entry) return NN_ERR_FORMAT;
    }
    qsort(st->spans, (size_t)st->n_spans, sizeof(io_span), cmp_span);
    int64_t pos = 0;
    for (int64_t k = 0; k < st->n_spans; k++) {
        if (st->spans[k].begin != pos) return NN_ERR_FORMAT;
        pos = st->spans[k].end;
    }
    if (pos != st->data_len) return NN_ERR_FORMAT;
    return NN_OK;
}

/* The network, its parameters read from the data section (they total
 * data_len bytes: bounded by the file). */
static int build_net(io_state *st, nn_net **out) {
    const size_t esize = st->esize;
    int cst = NN_OK;
    nn_net *net = nn_net_create(st->dtype, st->specs, st->nl, st->seed, &cst);
    if (!net) return cst == NN_ERR_NOMEM ? NN_ERR_NOMEM : NN_ERR_FORMAT;
    nn_net_set_compute(net, st->compute); /* valid: checked against the dtype above */
    if (nn_net_num_params(net) * (int64_t)esize != st->data_len) {
        nn_net_free(net);
        return NN_ERR_FORMAT;
    }
    uint8_t *params = (uint8_t *)nn_net_params(net);
    for (int32_t i = 0; i < st->nl; i++) {
        if (st->specs[i].kind != NN_LAYER_LINEAR) continue;
        for (int kind = 0; kind < 2; kind++) {
            const io_tensor *t = &st->tensors[2 * i + kind];
            if (!t->entry) continue;
            int64_t o = kind == 0 ? nn_net_weight_offset(net, i) : nn_net_bias_offset(net, i);
            int64_t bytes = t->end - t->begin;
            if (o < 0 || nn_fseek(st->f, st->data_start + t->begin, SEEK_SET) != 0 ||
                fread(params + o * (int64_t)esize, 1, (size_t)bytes, st->f) != (size_t)bytes) {
                nn_net_free(net);
                return NN_ERR_IO;
            }
            if (!is_little_endian())
                swap_bytes(params + o * (int64_t)esize, bytes / (int64_t)esize, esize);
        }
    }
    *out = net;
    return NN_OK;
}

/* The steps of a load, in order; the first problem ends it. */
static int load_impl(io_state *st, nn_net **out, const char *path) {
    int s = read_header(st, path);
    if (s == NN_OK) s = read_metadata(st);
    if (s == NN_OK) s = read_architecture(st);
    if (s == NN_OK) s = read_tensors(st);
    if (s == NN_OK) s = build_net(st, out);
    return s;
}

int nn_net_load(nn_net **net, const char *path) {
    if (!net || !path) return NN_ERR_ARG;
    *net = NULL;
    io_state st;
    memset(&st, 0, sizeof st);
    int s = load_impl(&st, net, path);
    if (st.f) fclose(st.f);
    free(st.header);
    nj_free(&st.hdoc);
    nj_free(&st.cdoc);
    free(st.specs);
    free(st.tensors);
    free(st.spans);
    return s;
}
