/* kernels.h — the kernel table of a CPU family (nn_kernels), through which the
 * core reaches every kernel that has CPU-specific builds.
 *
 * One table per CPU family, defined at the end of the family's own file
 * csrc/kernels/<family>.c (the idea of BLIS's per-configuration
 * bli_cntx_init_<arch>.c). cpu.c keeps the registry of families (name, table,
 * CPU check), picks one at run time (cpuid, or NNCORE_ARCH through
 * nn_select_arch) and is the only file that knows family names. Everything
 * else calls through the active table, once per kernel call, never per element:
 *     nn_active_kernels()->ew->sact_forward(kind, param, y, x, rows, cols)
 *
 * A table points at entries, small const structs of related kernels:
 *   sgemm, dgemm  a GEMM micro-kernel of one precision with its register tile,
 *                 cache blocks, optional fast packer and small-m kernel (the
 *                 loops and the portable packers are gemm.c's)
 *   ew            activations, losses, dropout: the public entry points of one
 *                 build of elementwise_tmpl.h (elementwise_build.h; same
 *                 signatures as in nncore.h)
 *   optim         the optimizer update of one build of optim_update_tmpl.h,
 *                 and the gradient's sum of squares (optim_sumsq_tmpl.h)
 *   bgemm         the bf16 GEMM micro-kernel (bf16 compute mode of float32
 *                 nets; loops and packers in gemm_bf16.c); NULL: the portable
 *                 way (bf16-rounded operands on the family's fp32 micro-kernel),
 *                 so only families with bf16 instructions set it
 * A family that shares a kernel with another points at the same entry: no copy.
 *
 * Adding a family (e.g. AVX-512 tuned for cores with two FMA ports, or bf16):
 *   1. csrc/kernels/<family>.c — what is new for it (micro-kernels under target
 *      attributes or pragmas, never -march; its own builds of the templates
 *      only if its instruction set changes them: elementwise_build.h for the
 *      activations, losses and dropout) and its table, which reuses the
 *      entries declared at the end of this file for everything else:
 *          const nn_kernels nn_kernels_avx512_2fma = {
 *              .sgemm = &sgemm_avx512_2fma,   (defined in this file)
 *              .dgemm = &nn_dgemm_avx512,     (reused)
 *              .ew = &nn_ew_avx512,
 *              .optim = &nn_optim_avx2,
 *          };
 *   2. cpu.c — the table's extern declaration and one line in the registry,
 *      {"avx512_2fma", &nn_kernels_avx512_2fma, <its CPU check>}, after the
 *      families it should beat ("auto" takes the last entry the CPU supports).
 * setup.py and csrc/Makefile compile every .c file of csrc/kernels/; nothing else
 * changes. Declare the entries of a new family here if others may reuse them.
 *
 * Not for: the public API (nncore.h), the GEMM loops (gemm.c, gemm_tmpl.h).
 */
#ifndef NNCORE_KERNELS_H
#define NNCORE_KERNELS_H

#include "internal.h"

/* ------------------------------------------------------------------ GEMM */

/* Micro-kernel contract (BLIS style), for one MR x NR tile of C:
 *     C (mr, nr) = alpha * Ap @ Bp + beta * C        mr <= MR, nr <= NR
 *   ap: packed A sliver, k steps of MR values: ap[p*MR + i] = A(i, p)
 *   bp: packed B sliver, k steps of NR values: bp[p*NR + j] = B(p, j)
 *   c : element (i, j) at c[i*rsc + j]
 * Slivers are zero-padded to MR / NR, so a kernel always runs full-width
 * arithmetic; only the write-out is clipped to (mr, nr). When beta == 0 the
 * kernel never reads C (NaN/garbage in C must not leak). Each C element is a
 * single in-order chain over p (no split accumulators), so a tile's results
 * do not depend on where the tile sits or which thread computes it. */
typedef void (*nn_sgemm_ukr_fn)(float *c, int64_t rsc, const float *ap, const float *bp,
                                int64_t k, int64_t mr, int64_t nr, float alpha, float beta);
typedef void (*nn_dgemm_ukr_fn)(double *c, int64_t rsc, const double *ap, const double *bp,
                                int64_t k, int64_t mr, int64_t nr, double alpha, double beta);

/* Small-m kernel (a GEMV for a few rows), the same arithmetic as the family's
 * micro-kernel, so a row of C has the same bits whichever path computed it:
 *     C (m, n) = alpha * A @ Bp + beta * C        1 <= m <= NN_GEMM_SMALL_ROWS
 *   a : A read in place, A(i, p) at a[i*rsa + p] (contiguous along k)
 *   bp: ceil(n / NR) packed B slivers of k steps (the ukr's layout), one after
 *       the other: sliver s at bp + s*NR*k
 * Each C element is one in-order chain over p started from zero, written out
 * as the micro-kernel writes its tile (alpha * acc, then beta * C added as the
 * ukr adds it). The driver cuts k into the same KC blocks as the GEMM. */
#define NN_GEMM_SMALL_ROWS 4
typedef void (*nn_sgemm_small_fn)(float *c, int64_t rsc, const float *a, int64_t rsa,
                                  const float *bp, int64_t k, int64_t m, int64_t n, float alpha,
                                  float beta);
typedef void (*nn_dgemm_small_fn)(double *c, int64_t rsc, const double *a, int64_t rsa,
                                  const double *bp, int64_t k, int64_t m, int64_t n,
                                  double alpha, double beta);

/* Register tile and cache blocks of one micro-kernel.
 * Blocks are L2-centric: the B panel (kc x nc) and the A block (mc x kc) both
 * fit in a 1 MB L2 with room to spare, rather than parking B in the shared L3
 * as classic BLIS does — on a shared machine a neighbour's traffic evicts L3,
 * and measured side by side this choice held up far better under load
 * (benchmarks: nncore._core._gemm_tune_blocking). */
typedef struct {
    int64_t mr, nr; /* register tile */
    int64_t kc;     /* depth of one packed panel (B sliver kc x nr stays in L1) */
    int64_t mc;     /* rows of packed A per block (mc x kc stays in L2), multiple of mr */
    int64_t nc;     /* columns of packed B per block (kc x nc in L3), multiple of nr */
    int64_t row_walk; /* 1: walk C and row-major B along rows (gemm_tmpl.h); 0: as tuned on Zen 4 */
    int64_t kc_even;  /* 1: cut k into equal blocks of at most kc; 0: blocks of kc, then the rest */
} nn_gemm_blocking;

/* Per-core L1d and L2 sizes in bytes from cpuid (cpu_cache.c); 0 if unknown.
 * Returns 1 when both are known. */
int nn_cpu_cache_sizes(int64_t *l1d, int64_t *l2);
/* Cache blocks of a row_walk family from those sizes (the formula is in
 * cpu_cache.c); b's register tile is kept, b returned as is if the sizes are
 * unknown or implausible. */
nn_gemm_blocking nn_gemm_blocking_from_caches(nn_gemm_blocking b, size_t elem, int64_t l1d,
                                              int64_t l2);

/* Optional fast packing of a full sliver from a source contiguous along k
 * (row-major A, or transposed B such as W.T): w "rows" of kc elements, row r
 * at src + r*ld, into d[p*w + r] (a transpose). Returns 1 if it handled this
 * width, 0 to let the portable packer do it. */
typedef int (*nn_spackt_fn)(float *d, const float *src, int64_t ld, int64_t kc, int64_t w);
typedef int (*nn_dpackt_fn)(double *d, const double *src, int64_t ld, int64_t kc, int64_t w);

/* One GEMM micro-kernel of a family, with its blocking and packer. */
typedef struct {
    nn_sgemm_ukr_fn ukr;
    nn_gemm_blocking blk;
    nn_spackt_fn packt; /* NULL: the portable packer only */
    nn_sgemm_small_fn small; /* NULL: small m takes the tiled path (same bits, slower) */
} nn_sgemm_kernel;
typedef struct {
    nn_dgemm_ukr_fn ukr;
    nn_gemm_blocking blk;
    nn_dpackt_fn packt; /* NULL: the portable packer only */
    nn_dgemm_small_fn small; /* NULL: small m takes the tiled path (same bits, slower) */
} nn_dgemm_kernel;

/* --------------------------------------------- activations, losses, dropout */

/* One build of elementwise_tmpl.h: the entry points of nncore.h compiled for
 * one instruction set (contracts and argument checks as in nncore.h). */
typedef struct {
    int (*sact_forward)(nn_act, float, float *, const float *, int64_t, int64_t);
    int (*dact_forward)(nn_act, double, double *, const double *, int64_t, int64_t);
    int (*sact_backward)(nn_act, float, float *, const float *, const float *, const float *,
                         int64_t, int64_t);
    int (*dact_backward)(nn_act, double, double *, const double *, const double *,
                         const double *, int64_t, int64_t);
    int (*sloss)(nn_loss_kind, nn_reduction, double, double *, float *, const float *,
                 const float *, const int64_t *, const float *, int64_t, int64_t);
    int (*dloss)(nn_loss_kind, nn_reduction, double, double *, double *, const double *,
                 const double *, const int64_t *, const double *, int64_t, int64_t);
    int (*sdropout_forward)(float *, uint8_t *, const float *, int64_t, float, uint64_t,
                            uint64_t, uint32_t);
    int (*ddropout_forward)(double *, uint8_t *, const double *, int64_t, double, uint64_t,
                            uint64_t, uint32_t);
    int (*sdropout_backward)(float *, const float *, const uint8_t *, int64_t, float);
    int (*ddropout_backward)(double *, const double *, const uint8_t *, int64_t, double);
} nn_ew_kernels;

/* The entries of the build instantiated with NN_SFX = SFX (e.g. _avx2). */
#define NN_EW_KERNELS(SFX)                                                                    \
    {                                                                                         \
        .sact_forward = nn_sact_forward##SFX, .dact_forward = nn_dact_forward##SFX,           \
        .sact_backward = nn_sact_backward##SFX, .dact_backward = nn_dact_backward##SFX,       \
        .sloss = nn_sloss##SFX, .dloss = nn_dloss##SFX,                                       \
        .sdropout_forward = nn_sdropout_forward##SFX,                                         \
        .ddropout_forward = nn_ddropout_forward##SFX,                                         \
        .sdropout_backward = nn_sdropout_backward##SFX,                                       \
        .ddropout_backward = nn_ddropout_backward##SFX,                                       \
    }

/* ------------------------------------------------------------- optimizer */

/* One build of optim_update_tmpl.h: the update step of every optimizer over
 * all segments (opt validated, its step already incremented; optim.c); and one
 * of optim_sumsq_tmpl.h: sum of x^2 over n contiguous values, in double, for
 * the gradient norm (same bits in every family). */
typedef struct {
    void (*supdate)(const nn_optim *opt, float *params, const float *grads);
    void (*dupdate)(const nn_optim *opt, double *params, const double *grads);
    double (*ssumsq)(const float *x, int64_t n);
    double (*dsumsq)(const double *x, int64_t n);
} nn_optim_kernels;

/* -------------------------------------------------------------- bf16 GEMM */

/* bf16 micro-kernel contract, for one MR x NR tile of C (fp32):
 *     C (mr, nr) = alpha * Ap @ Bp + beta * C   (Ap, Bp: bf16, products summed in fp32)
 * with kp = k/2 k-pairs (k zero-padded to even by the packers); bf16 values are
 * the high 16 bits of a float (uint16_t). Packed layouts (VNNI pairs: the two
 * values of one k pair sit next to each other):
 *   bp[q*2*NR + 2*j + t] = B(2q + t, j)
 *   ap: A in blocks of akb k-pairs: ap[(q/akb)*akb*2*MR + i*akb*2 + (q%akb)*2 + t]
 *       = A(i, 2q + t); akb = 1 is the pair-interleaved sliver of vdpbf16ps
 *       (ap[q*2*MR + 2*i + t]), akb = 16 the row-major A tiles of AMX; kp is
 *       a multiple of akb (zero-padded).
 * Edge, beta and determinism rules as for the fp32 micro-kernel above: each C
 * element is accumulated in a fixed order over k, whatever tile or thread. */
typedef void (*nn_bgemm_ukr_fn)(float *c, int64_t rsc, const uint16_t *ap, const uint16_t *bp,
                                int64_t kp, int64_t mr, int64_t nr, float alpha, float beta);

/* Optional fast packers from fp32 to bf16 (round to nearest even) of full
 * slivers; they return 1 if they handled the case, 0 to let gemm_bf16.c's
 * portable packer do it. kc (even) k steps of width w:
 *   packt: rows r (contiguous along k) at src + r*ld  -> the sliver layout
 *   packn: k steps p at src + p*ld, w values contiguous -> the sliver layout;
 *          w may also be a multiple of the sliver width, for consecutive
 *          slivers (sliver s at d + s*kc*width): one pass over the rows of the
 *          source feeds them all (each cache line read once, not once a sliver)
 * `a` is 1 for an A sliver (layout akb), 0 for a B sliver. */
typedef int (*nn_bpack_fn)(uint16_t *d, const float *src, int64_t ld, int64_t kc, int64_t w,
                           int a);

/* Optional few-row kernel (1 <= m <= NN_GEMM_SMALL_ROWS) on a packed B, the
 * micro-kernel's arithmetic (contract of nn_sgemm_small_fn) in pairs:
 *     C (m, n) = alpha * A @ Bp + beta * C
 *   ap: row i's kp k pairs as 32-bit words at ap + i*kp (bf16, zero-padded)
 *   bp: ceil(n / NR) B slivers of kp pairs, sliver s at bp + s*kp*2*NR
 * Each C element: zero, one pair instruction per q in order, then written out
 * as the ukr writes its tile. */
typedef void (*nn_bsmall_fn)(float *c, int64_t rsc, const uint32_t *ap, const uint16_t *bp,
                             int64_t kp, int64_t m, int64_t n, float alpha, float beta);

typedef struct {
    nn_bgemm_ukr_fn ukr;  /* NULL (nn_bgemm_portable): the family's fp32 micro-kernel */
    nn_gemm_blocking blk; /* kc in k steps (even), as for fp32 */
    int64_t akb;          /* A layout: k-pairs per A block (1 or 16, see above) */
    nn_bpack_fn packt, packn; /* NULL: the portable packer only */
    const char *name;     /* e.g. "avx512_bf16 16x16", for show_config */
    nn_bsmall_fn small;   /* NULL: few rows take the tiles too (same bits, slower) */
} nn_bgemm_kernel;

/* ----------------------------------------------------------------- table */

typedef struct {
    const nn_sgemm_kernel *sgemm;
    const nn_dgemm_kernel *dgemm;
    const nn_ew_kernels *ew;
    const nn_optim_kernels *optim;
    const nn_bgemm_kernel *bgemm; /* NULL: nn_bgemm_portable */
} nn_kernels;

/* The table of the family nn_select_arch chose (cpu.c); never NULL, "ref"
 * until a family is selected. */
const nn_kernels *nn_active_kernels(void);

/* The active GEMM kernel of each precision: NN_FN(gemm_active)() in gemm_tmpl.h. */
NN_INLINE const nn_sgemm_kernel *nn_sgemm_active(void) { return nn_active_kernels()->sgemm; }
NN_INLINE const nn_dgemm_kernel *nn_dgemm_active(void) { return nn_active_kernels()->dgemm; }

/* GCC can compile a region of a file for another instruction set (#pragma
 * GCC target / optimize): the family files build the templates that way.
 * With other compilers the templates are built for the baseline ISA. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_GCC_TARGET_PRAGMAS 1
#endif

/* ------------------------------------- entries other families may reuse */

extern const nn_sgemm_kernel nn_sgemm_ref; /* kernels/ref.c */
extern const nn_dgemm_kernel nn_dgemm_ref;
extern const nn_ew_kernels nn_ew_ref;
extern const nn_optim_kernels nn_optim_ref;
extern const nn_bgemm_kernel nn_bgemm_portable; /* gemm_bf16.c: the fp32 micro-kernel */

/* The active bf16 GEMM kernel: the family's, or the portable one. */
NN_INLINE const nn_bgemm_kernel *nn_bgemm_active(void) {
    const nn_bgemm_kernel *k = nn_active_kernels()->bgemm;
    return k ? k : &nn_bgemm_portable;
}
#if defined(__x86_64__) || defined(_M_X64)
extern const nn_sgemm_kernel nn_sgemm_avx2; /* kernels/avx2.c */
extern const nn_dgemm_kernel nn_dgemm_avx2;
extern const nn_ew_kernels nn_ew_avx2;
extern const nn_optim_kernels nn_optim_avx2;
/* the avx2 build's updates, which the avx512 families' optim entry reuses */
void nn_soptim_update_avx2(const nn_optim *opt, float *params, const float *grads);
void nn_doptim_update_avx2(const nn_optim *opt, double *params, const double *grads);
extern const nn_sgemm_kernel nn_sgemm_avx512; /* kernels/avx512.c */
extern const nn_dgemm_kernel nn_dgemm_avx512;
extern const nn_ew_kernels nn_ew_avx512;
extern const nn_optim_kernels nn_optim_avx512;
extern const nn_bgemm_kernel nn_bgemm_avx512_bf16; /* kernels/avx512_bf16.c */
extern const nn_bgemm_kernel nn_bgemm_amx;         /* kernels/amx.c */
/* Linux: asks for AMX tile data (arch_prctl); 1 if granted (kernels/amx.c). */
int nn_amx_request(void);
/* small-m kernel of B slivers 16 doubles wide (kernels/avx512.c) */
void nn_dsmall_avx512(double *c, int64_t rsc, const double *a, int64_t rsa, const double *bp,
                      int64_t k, int64_t m, int64_t n, double alpha, double beta);
#endif

#endif /* NNCORE_KERNELS_H */
