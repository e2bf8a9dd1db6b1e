/* amx_emulate.c — checks the "amx" bf16 micro-kernel on CPUs without AMX:
 * kernels/amx.c and gemm_bf16.c compiled into this file with the tile
 * instructions emulated in C from Intel's documented semantics, independently
 * of the kernel's own constants:
 *   ldtilecfg   parses the 64 raw bytes (byte 0 palette, 1 start_row, 2-15
 *               reserved zero, 16-47 colsb of tiles 0-15 as little-endian u16,
 *               48-63 rows of tiles 0-15); palette 1 only (8 tiles, at most 16
 *               rows of 64 bytes), reserved bytes and tiles 8-15 must be zero,
 *               a tile's rows and colsb both zero or both set; zeroes the tiles
 *   tileloadd   rows[t] rows of colsb[t] bytes from base + r * stride, the rest
 *               of the tile zeroed; tilestored writes rows[t] x colsb[t] bytes
 *   tdpbf16ps   faults unless dst.rows == a.rows, dst.colsb == b.colsb,
 *               a.colsb == 4 b.rows and the three tiles distinct; for each
 *               (m, n) and k-pair k: two fused multiply-adds in k-pair order
 *               (round to nearest even), bf16 input denormals as zero, fp32
 *               output denormals flushed
 *   tilerelease back to the unconfigured state; using a tile then faults.
 * A fault prints "FAIL amx: ..." and exits 1. The driver's bgemm_block is then
 * run with the amx kernel on odd shapes, alpha/beta (beta 0 over a NaN C) and
 * bias, and compared with a float64 sum of the bf16-rounded operands
 * (bound: (k + 4) u (|alpha| sum |a b| + |beta c| + |bias|)); after each call
 * the tiles must have been released.
 * Prints "ok <max error / bound>" or "FAIL ..." (tests/test_c_embedding.py).
 * Link with libnncore.a (pool, allocation, the other families).
 */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
    int configured;
    unsigned rows[8], colsb[8];
    unsigned char data[8][16][64];
} emu;

static void emu_fault(const char *what, int t) {
    printf("FAIL amx: %s (tile %d)\n", what, t);
    exit(1);
}
static void emu_ldtilecfg(const void *mem, size_t size) {
    const unsigned char *b = mem;
    if (size != 64) emu_fault("ldtilecfg operand is not 64 bytes", -1);
    memset(&emu, 0, sizeof emu);
    if (b[0] == 0) return; /* palette 0: the init state */
    if (b[0] != 1) emu_fault("palette other than 1", -1);
    if (b[1] != 0) emu_fault("start_row not 0", -1);
    for (int i = 2; i < 16; i++)
        if (b[i]) emu_fault("reserved byte not zero", -1);
    for (int t = 0; t < 16; t++) {
        const unsigned colsb = b[16 + 2 * t] | (unsigned)b[17 + 2 * t] << 8, rows = b[48 + t];
        if (t >= 8 && (colsb || rows)) emu_fault("tile past palette 1's 8 configured", t);
        if (t >= 8) continue;
        if (colsb > 64 || rows > 16) emu_fault("tile larger than 16 rows x 64 bytes", t);
        if ((colsb == 0) != (rows == 0)) emu_fault("rows and colsb: one zero, one not", t);
        emu.rows[t] = rows, emu.colsb[t] = colsb;
    }
    emu.configured = 1;
}
static void emu_use(int t) {
    if (!emu.configured) emu_fault("tile used without a tile configuration", t);
    if (t < 0 || t >= 8 || !emu.rows[t]) emu_fault("tile not configured", t);
}
static void emu_zero(int t) {
    emu_use(t);
    memset(emu.data[t], 0, sizeof emu.data[t]);
}
static void emu_load(int t, const char *base, long stride) {
    emu_use(t);
    memset(emu.data[t], 0, sizeof emu.data[t]);
    for (unsigned r = 0; r < emu.rows[t]; r++)
        memcpy(emu.data[t][r], base + r * stride, emu.colsb[t]);
}
static void emu_store(int t, char *base, long stride) {
    emu_use(t);
    for (unsigned r = 0; r < emu.rows[t]; r++)
        memcpy(base + r * stride, emu.data[t][r], emu.colsb[t]);
}
static float emu_bf(const unsigned char *p) { /* bf16 at p -> float, denormal as zero */
    unsigned int u = (unsigned int)(p[0] | (p[1] << 8)) << 16;
    if ((u & 0x7f800000u) == 0) u &= 0x80000000u;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
static float emu_ftz(float f) {
    return fpclassify(f) == FP_SUBNORMAL ? copysignf(0.0f, f) : f;
}
static void emu_dp(int c, int a, int b) {
    emu_use(c), emu_use(a), emu_use(b);
    if (c == a || c == b || a == b) emu_fault("tdpbf16ps operands not distinct", c);
    if (emu.rows[c] != emu.rows[a] || emu.colsb[c] != emu.colsb[b] ||
        emu.colsb[a] != 4 * emu.rows[b] || emu.colsb[c] % 4)
        emu_fault("tdpbf16ps tile shapes do not match", c);
    for (unsigned m = 0; m < emu.rows[c]; m++)
        for (unsigned n = 0; n < emu.colsb[c] / 4; n++) {
            float acc;
            memcpy(&acc, emu.data[c][m] + 4 * n, 4);
            for (unsigned k = 0; k < emu.colsb[a] / 4; k++)
                for (int t = 0; t < 2; t++)
                    acc = emu_ftz(fmaf(emu_bf(emu.data[a][m] + 4 * k + 2 * t),
                                       emu_bf(emu.data[b][k] + 4 * n + 2 * t), acc));
            memcpy(emu.data[c][m] + 4 * n, &acc, 4);
        }
}

#undef _tile_zero
#undef _tile_loadd
#undef _tile_stored
#undef _tile_dpbf16ps
#undef _tile_release
#define _tile_zero(t) emu_zero(t)
#define _tile_loadd(t, base, stride) emu_load(t, (const char *)(base), (long)(stride))
#define _tile_stored(t, base, stride) emu_store(t, (char *)(base), (long)(stride))
#define _tile_dpbf16ps(c, a, b) emu_dp(c, a, b)
#define _tile_release() (void)memset(&emu, 0, sizeof emu)
#define NN_AMX_LDTILECFG(cfg) emu_ldtilecfg(&(cfg), sizeof(cfg))

#include "kernels/amx.c"
#include "gemm_bf16.c"

static unsigned long long g_state = 88172645463325252ull;
static float rnd(void) { /* xorshift, uniform in [-1, 1) */
    g_state ^= g_state << 13;
    g_state ^= g_state >> 7;
    g_state ^= g_state << 17;
    return (float)((g_state >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0);
}

int main(void) {
    static const int64_t shapes[][3] = {{16, 32, 32}, {37, 45, 77}, {50, 70, 600}, {1, 3, 5},
                                        {17, 33, 1}};
    static const float ab[][2] = {{1.0f, 0.0f}, {-2.0f, 0.5f}}; /* alpha, beta */
    double worst = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c = malloc(sizeof(float) * m * n), *c0 = malloc(sizeof(float) * m * n);
        float *bias = malloc(sizeof(float) * n);
        for (int64_t i = 0; i < m * k; i++) a[i] = rnd();
        for (int64_t i = 0; i < k * n; i++) b[i] = rnd();
        for (int64_t j = 0; j < n; j++) bias[j] = rnd();
        for (int64_t i = 0; i < m * n; i++) c0[i] = rnd();
        for (int run = 0; run < 4; run++) { /* B row-major, then B = (n, k)^T; x (alpha, beta) */
            const int orient = run & 1;
            const float alpha = ab[run >> 1][0], beta = ab[run >> 1][1];
            float *bb = b;
            int64_t rsb = n, csb = 1;
            float *bt = NULL;
            if (orient) {
                bt = malloc(sizeof(float) * k * n);
                for (int64_t p = 0; p < k; p++)
                    for (int64_t j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
                bb = bt, rsb = 1, csb = k;
            }
            for (int64_t i = 0; i < m * n; i++) c[i] = beta == 0 ? NAN : c0[i];
            bgemm_ctx x = {m, n, k, alpha, beta, a, k, 1, bb, rsb, csb, c, n, bias,
                           &nn_bgemm_amx, NULL, nn_bgemm_amx.blk};
            if (bgemm_block(&x, 0, m, 0, n) != NN_OK) {
                printf("FAIL status\n");
                return 1;
            }
            if (emu.configured) {
                printf("FAIL amx: tiles left configured (no tilerelease)\n");
                return 1;
            }
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++) {
                    double sum = 0.0, mag = 0.0;
                    for (int64_t p = 0; p < k; p++) {
                        double t = (double)nn_bf16_widen(nn_bf16_round(a[i * k + p])) *
                                   nn_bf16_widen(nn_bf16_round(b[p * n + j]));
                        sum += t;
                        mag += fabs(t);
                    }
                    const double cb = beta == 0 ? 0.0 : (double)beta * c0[i * n + j];
                    sum = alpha * sum + cb + bias[j];
                    mag = fabs(alpha) * mag + fabs(cb) + fabs(bias[j]);
                    const double bound = (k + 4) * ldexp(1.0, -24) * mag + 1e-30;
                    const double err = fabs(c[i * n + j] - sum) / bound;
                    if (err > worst) worst = err;
                    if (!(err <= 1.0)) {
                        printf("FAIL m=%lld n=%lld k=%lld run=%d (%lld, %lld): %g vs %g\n",
                               (long long)m, (long long)n, (long long)k, run, (long long)i,
                               (long long)j, c[i * n + j], sum);
                        return 1;
                    }
                }
            free(bt);
        }
        free(a), free(b), free(c), free(c0), free(bias);
    }
    printf("ok %g\n", worst);
    return 0;
}
