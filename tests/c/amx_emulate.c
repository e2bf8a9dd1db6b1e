/* amx_emulate.c — checks the "amx" bf16 micro-kernel's tile layouts on CPUs
 * without AMX: kernels/amx.c and gemm_bf16.c compiled into this file with the
 * tile instructions (ldtilecfg, tilezero, tileloadd, tdpbf16ps, tilestored)
 * emulated in C over the same base pointers and strides, then the driver's
 * bgemm_block run with the amx kernel on odd shapes and compared with a
 * float64 sum of the bf16-rounded operands (bound: (k + 2) u sum |a b|).
 * Prints "ok <max error / bound>" or "FAIL ..." (tests/test_c_embedding.py).
 * Link with libnncore.a (pool, allocation, the other families).
 */
#include <immintrin.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static unsigned char emu_tiles[8][16][64]; /* 16 rows of 64 bytes (the config used) */

static void emu_load(int t, const char *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy(emu_tiles[t][r], base + r * stride, 64);
}
static void emu_store(int t, char *base, long stride) {
    for (int r = 0; r < 16; r++) memcpy(base + r * stride, emu_tiles[t][r], 64);
}
static float emu_bf(const unsigned char *p) { /* bf16 at p -> float */
    unsigned int u = (unsigned int)(p[0] | (p[1] << 8)) << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* C (16 x 16 fp32) += A (16 rows x 16 pairs) . B (16 pairs x 16 columns, VNNI) */
static void emu_dp(int c, int a, int b) {
    for (int m = 0; m < 16; m++)
        for (int n = 0; n < 16; n++) {
            float acc;
            memcpy(&acc, emu_tiles[c][m] + 4 * n, 4);
            for (int k = 0; k < 16; k++)
                for (int t = 0; t < 2; t++)
                    acc += emu_bf(emu_tiles[a][m] + 4 * k + 2 * t) *
                           emu_bf(emu_tiles[b][k] + 4 * n + 2 * t);
            memcpy(emu_tiles[c][m] + 4 * n, &acc, 4);
        }
}

#undef _tile_zero
#undef _tile_loadd
#undef _tile_stored
#undef _tile_dpbf16ps
#define _tile_zero(t) memset(emu_tiles[t], 0, sizeof emu_tiles[t])
#define _tile_loadd(t, base, stride) emu_load(t, (const char *)(base), (long)(stride))
#define _tile_stored(t, base, stride) emu_store(t, (char *)(base), (long)(stride))
#define _tile_dpbf16ps(c, a, b) emu_dp(c, a, b)
#define NN_AMX_LDTILECFG(cfg) ((void)(cfg))

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
    static const int64_t shapes[][3] = {{16, 32, 32}, {37, 45, 77}, {50, 70, 600}, {1, 3, 5}};
    double worst = 0.0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int64_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
        float *a = malloc(sizeof(float) * m * k), *b = malloc(sizeof(float) * k * n);
        float *c = malloc(sizeof(float) * m * n), *bias = malloc(sizeof(float) * n);
        for (int64_t i = 0; i < m * k; i++) a[i] = rnd();
        for (int64_t i = 0; i < k * n; i++) b[i] = rnd();
        for (int64_t j = 0; j < n; j++) bias[j] = rnd();
        for (int orient = 0; orient < 2; orient++) { /* B row-major, then B = (n, k)^T */
            float *bb = b;
            int64_t rsb = n, csb = 1;
            float *bt = NULL;
            if (orient) {
                bt = malloc(sizeof(float) * k * n);
                for (int64_t p = 0; p < k; p++)
                    for (int64_t j = 0; j < n; j++) bt[j * k + p] = b[p * n + j];
                bb = bt, rsb = 1, csb = k;
            }
            bgemm_ctx x = {m, n, k, 1.0f, 0.0f, a, k, 1, bb, rsb, csb, c, n, bias,
                           &nn_bgemm_amx, NULL, nn_bgemm_amx.blk};
            if (bgemm_block(&x, 0, m, 0, n) != NN_OK) {
                printf("FAIL status\n");
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
                    sum += bias[j];
                    const double bound = (k + 4) * ldexp(1.0, -24) * (mag + fabs(bias[j])) + 1e-30;
                    const double err = fabs(c[i * n + j] - sum) / bound;
                    if (err > worst) worst = err;
                    if (!(err <= 1.0)) {
                        printf("FAIL m=%lld n=%lld k=%lld orient=%d (%lld, %lld): %g vs %g\n",
                               (long long)m, (long long)n, (long long)k, orient, (long long)i,
                               (long long)j, c[i * n + j], sum);
                        return 1;
                    }
                }
            free(bt);
        }
        free(a), free(b), free(c), free(bias);
    }
    printf("ok %g\n", worst);
    return 0;
}
