/* amx.c — the "amx" kernel family (Intel AMX: amx_tile + amx_bf16, e.g.
 * Sapphire Rapids): the "avx512_skx" family's tables plus
 *   bgemm   a 16x32 bf16 micro-kernel on tdpbf16ps: C is two 16x16 fp32
 *           tiles (tmm0, tmm1), A one 16-row tile of 16 k-pairs (tmm2, A
 *           packed row-major per 16 k-pairs: akb = 16, kernels.h), B two
 *           16-pair x 16-column VNNI tiles (tmm3, tmm4); k advances 32 per
 *           step. The tiles are stored to a stack buffer and written out
 *           with alpha, beta and the edge clip in plain C.
 * Also nn_amx_request: the Linux permission for tile data
 * (arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA)); cpu.c offers the
 * family only when cpuid reports AMX, XCR0 saves tile state and this grants it.
 *
 * UNMEASURED: written and compiled on a machine without AMX (AMD Zen 4); its
 * tests (every arch-parametrized test of tests/test_bf16.py) skip there; the
 * tile layouts and strides are checked there by tests/c/amx_emulate.c (this
 * file and gemm_bf16.c with the tile instructions emulated in C). Needs a
 * review and a run of tests/test_bf16.py on AMX hardware. Kept deliberately
 * small: tile config loaded on every call (safe when another library in the
 * thread reconfigures the tiles; a cost worth measuring), no tile release,
 * gemm_bf16.c's portable packers (no SIMD packer of its own).
 * Not for: loops or packers (gemm_bf16.c); dispatch (cpu.c).
 */
#include "../kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <string.h>
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#define MR 16
#define NR 32
#define AKB 16 /* k-pairs per A tile */

int nn_amx_request(void) {
#if defined(__linux__)
    enum { ARCH_GET_XCOMP_PERM = 0x1022, ARCH_REQ_XCOMP_PERM = 0x1023, XFEATURE_XTILEDATA = 18 };
    unsigned long bits = 0;
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) return 0;
    if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_PERM, &bits) != 0) return 0;
    return (bits & (1ul << XFEATURE_XTILEDATA)) != 0;
#else
    return 0; /* other systems: not wired up, the family is not offered */
#endif
}

/* The 64-byte LDTILECFG operand (palette 1): bytes 0-15 palette, start row,
 * reserved zeros; 16-47 bytes per row of tiles 0-15; 48-63 rows of tiles 0-15. */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} amx_tilecfg;
_Static_assert(sizeof(amx_tilecfg) == 64, "LDTILECFG reads 64 bytes");

#define NN_AMX __attribute__((target("amx-tile,amx-bf16,avx512f")))

/* Tile config load, own asm with the whole struct as operand: GCC 12's
 * _tile_loadconfig names only 8 bytes of it, so the stores filling it could be
 * dropped as dead. (tests/c/amx_emulate.c replaces this and the _tile_*
 * intrinsics by C to check the layouts on CPUs without AMX.) */
#ifndef NN_AMX_LDTILECFG
#define NN_AMX_LDTILECFG(cfg) __asm__ volatile("ldtilecfg %0" : : "m"(cfg))
#endif

/* C (mr, nr) tile; ap: kp/16 A tiles of 16 rows x 16 pairs (64 bytes a row),
 * bp: kp rows of 32 pairs (B0 = columns 0..15 at bp, B1 = 16..31 at bp + 32;
 * row stride 128 bytes). kp is a multiple of 16 (gemm_bf16.c pads). */
NN_AMX static void bgemm_ukr_amx_16x32(float *c, int64_t rsc, const uint16_t *ap,
                                       const uint16_t *bp, int64_t kp, int64_t mr, int64_t nr,
                                       float alpha, float beta) {
    amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 5; t++) { /* tmm0-1 C, tmm2 A, tmm3-4 B: 16 rows of 64 bytes */
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    NN_AMX_LDTILECFG(cfg);
    _tile_zero(0);
    _tile_zero(1);
    for (int64_t qb = 0; qb < kp; qb += AKB) {
        _tile_loadd(2, ap + qb * 2 * MR, 2 * AKB * sizeof(uint16_t));
        _tile_loadd(3, bp + qb * 2 * NR, 2 * NR * sizeof(uint16_t));
        _tile_loadd(4, bp + qb * 2 * NR + NR, 2 * NR * sizeof(uint16_t));
        _tile_dpbf16ps(0, 2, 3);
        _tile_dpbf16ps(1, 2, 4);
    }
    float acc[MR * NR];
    _tile_stored(0, acc, NR * sizeof(float));
    _tile_stored(1, acc + 16, NR * sizeof(float));
    /* the tile intrinsics are asm without memory operands: tell the compiler acc
     * (whose address they took) has been written before C reads it */
    __asm__ volatile("" : : "r"(acc) : "memory");
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) {
            float *r = c + i * rsc + j;
            *r = beta == 0 ? alpha * acc[i * NR + j] : alpha * acc[i * NR + j] + beta * *r;
        }
}

const nn_bgemm_kernel nn_bgemm_amx = {
    bgemm_ukr_amx_16x32, {MR, NR, 512, 128, 512, 1, 0}, AKB, NULL, NULL, "amx 16x32", NULL};

/* The avx512_skx tables (sized from cpuid by its init) plus the AMX bf16 GEMM:
 * filled by nn_kernels_amx_init, which cpu.c runs before first use. */
nn_kernels nn_kernels_amx = {.bgemm = &nn_bgemm_amx};

extern const nn_kernels nn_kernels_avx512_skx; /* kernels/avx512_skx.c */
void nn_kernels_avx512_skx_init(void);
void nn_kernels_amx_init(void);

void nn_kernels_amx_init(void) {
    nn_kernels_avx512_skx_init();
    nn_kernels t = nn_kernels_avx512_skx; /* same values on every call: no race worth a lock */
    t.bgemm = &nn_bgemm_amx;
    nn_kernels_amx = t;
}

#endif /* x86-64 */
