/* classify.c — embed an nncore model in a C program: load a model file saved
 * from Python (`model.save("model.safetensors")`), read rows of numbers from a
 * CSV file, print one predicted class per line (the index of the largest
 * output; for a one-output model, the raw output value, printed with the
 * digits that read back as the same float or double).
 *
 * Usage: classify MODEL.safetensors DATA.csv
 *   DATA.csv: one sample per line, n_inputs comma-separated numbers; a line
 *   with one more field carries a label in its last column (a number or any
 *   text), which is ignored;
 *   a first line that is not numeric is taken as a header and skipped.
 * Exit status: 0 ok; 64 usage; 65 bad CSV; otherwise -status of the failing
 * nncore call (3 = NN_ERR_IO, 4 = NN_ERR_FORMAT, 2 = NN_ERR_NOMEM, ...).
 * The environment variable NNCORE_ARCH picks the kernel family (default: the
 * best this CPU runs), as in Python.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nncore.h"

#define CHUNK 256 /* rows per forward call */

/* Reads one line of any length into *buf (grown as needed). 0 at end of file. */
static int read_line(FILE *f, char **buf, size_t *cap) {
    size_t n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n + 1 >= *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            char *nb = (char *)realloc(*buf, nc);
            if (!nb) return -1;
            *buf = nb;
            *cap = nc;
        }
        if (c == '\n') break;
        (*buf)[n++] = (char)c;
    }
    if (c == EOF && n == 0) return 0;
    if (n > 0 && (*buf)[n - 1] == '\r') n--;
    (*buf)[n] = '\0';
    return 1;
}

/* Parses a row of n comma-separated numbers into vals (n), followed or not by
 * one more field (a label: any text without a comma, ignored). Returns n; -1 if
 * one of the first n fields is not a number; -2 for fewer than n or more than
 * n + 1 fields. */
static long parse_row(char *line, double *vals, long n) {
    char *p = line;
    for (long k = 0; k < n; k++) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p) return *p == '\0' && k > 0 ? -2 : -1;
        while (*end == ' ' || *end == '\t') end++;
        if (*end != ',' && *end != '\0') return -1;
        vals[k] = v;
        if (*end == '\0') return k + 1 == n ? n : -2;
        p = end + 1;
    }
    return strchr(p, ',') == NULL ? n : -2; /* the label field, whatever it holds */
}

static void print_outputs(nn_net *net, const void *out, int64_t rows) {
    int64_t n_out = nn_net_num_outputs(net);
    int f32 = nn_net_dtype(net) == NN_F32;
    for (int64_t r = 0; r < rows; r++) {
        double best = 0;
        int64_t arg = 0;
        for (int64_t j = 0; j < n_out; j++) {
            double v = f32 ? ((const float *)out)[r * n_out + j] : ((const double *)out)[r * n_out + j];
            if (j == 0 || v > best) { best = v; arg = j; }
        }
        if (n_out == 1) printf(f32 ? "%.9g\n" : "%.17g\n", best); /* reads back exactly */
        else printf("%lld\n", (long long)arg);
    }
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.safetensors DATA.csv\n", argv[0]);
        return 64;
    }
    if (nn_select_arch(getenv("NNCORE_ARCH")) != NN_OK) nn_select_arch(NULL);

    nn_net *net = NULL;
    int st = nn_net_load(&net, argv[1]);
    if (st != NN_OK) {
        fprintf(stderr, "classify: cannot load %s: %s (status %d)\n", argv[1], nn_strerror(st), st);
        return -st;
    }
    int64_t n_in = nn_net_num_inputs(net), n_out = nn_net_num_outputs(net);
    size_t esize = nn_net_dtype(net) == NN_F32 ? sizeof(float) : sizeof(double);

    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "classify: cannot open %s\n", argv[2]);
        nn_net_free(net);
        return -NN_ERR_IO;
    }
    double *vals = (double *)malloc((size_t)(n_in + 1) * sizeof(double));
    void *x = malloc((size_t)(CHUNK * n_in) * esize);
    void *out = malloc((size_t)(CHUNK * n_out) * esize);
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    long line_no = 0;
    int64_t rows = 0;
    if (!vals || !x || !out) { rc = NN_ERR_NOMEM; goto done; }
    for (;;) {
        int got = read_line(f, &line, &cap);
        if (got < 0) { rc = NN_ERR_NOMEM; goto done; }
        if (got == 0) break;
        line_no++;
        if (line[strspn(line, " \t")] == '\0') continue;      /* blank line */
        long k = parse_row(line, vals, (long)n_in);
        if (k == -1 && line_no == 1) continue;                 /* header */
        if (k != n_in) {
            fprintf(stderr, "classify: %s line %ld: expected %lld numbers, got %s\n", argv[2],
                    line_no, (long long)n_in, k == -1 ? "a non-number" : "a different count");
            rc = 65;
            goto done;
        }
        for (int64_t j = 0; j < n_in; j++) {
            if (esize == sizeof(float)) ((float *)x)[rows * n_in + j] = (float)vals[j];
            else ((double *)x)[rows * n_in + j] = vals[j];
        }
        if (++rows == CHUNK) {
            if ((st = nn_net_forward(net, out, x, n_in, rows, 0)) != NN_OK) { rc = st; goto done; }
            print_outputs(net, out, rows);
            rows = 0;
        }
    }
    if (rows > 0) {
        if ((st = nn_net_forward(net, out, x, n_in, rows, 0)) != NN_OK) { rc = st; goto done; }
        print_outputs(net, out, rows);
    }
done:
    if (rc < 0) {   /* an nncore status */
        fprintf(stderr, "classify: %s (status %d)\n", nn_strerror(rc), rc);
        rc = -rc;
    }
    free(line);
    free(vals);
    free(x);
    free(out);
    fclose(f);
    nn_net_free(net);
    return rc;
}
