/* cpu_cache.c — per-core data cache sizes from cpuid (leaf 4 on Intel,
 * 0x8000001D on AMD) and the GEMM cache blocks they imply for kernel families
 * that derive theirs instead of carrying constants (kernels/avx512_skx.c).
 * Not for: CPU features or choosing a family (cpu.c); the GEMM loops (gemm.c).
 */
#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

/* Walks the deterministic cache parameters of `leaf` (4 or 0x8000001D): one
 * subleaf per cache, EAX[4:0] type (0: no more, 1 data, 3 unified), EAX[7:5]
 * level; size = ways * partitions * line * sets. */
static void walk_caches(unsigned leaf, int64_t *l1d, int64_t *l2) {
    for (unsigned i = 0; i < 16; i++) {
        unsigned a, b, c, d;
        __cpuid_count(leaf, i, a, b, c, d);
        const unsigned type = a & 0x1f, level = (a >> 5) & 0x7;
        if (type == 0) break;
        if (type != 1 && type != 3) continue; /* instruction caches */
        const int64_t size = (int64_t)((b >> 22) + 1) * (((b >> 12) & 0x3ff) + 1) *
                             ((b & 0xfff) + 1) * ((int64_t)c + 1);
        if (level == 1) *l1d = size;
        if (level == 2) *l2 = size;
    }
}

int nn_cpu_cache_sizes(int64_t *l1d, int64_t *l2) {
    unsigned a, b, c, d;
    *l1d = *l2 = 0;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    const unsigned max_leaf = a;
    const int intel = b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu;
    if (intel && max_leaf >= 4) {
        walk_caches(4, l1d, l2);
    } else if (__get_cpuid(0x80000000u, &a, &b, &c, &d) && a >= 0x8000001du) {
        __get_cpuid(0x80000001u, &a, &b, &c, &d);
        if (c & (1u << 22)) walk_caches(0x8000001du, l1d, l2); /* TopologyExtensions */
    }
    return *l1d > 0 && *l2 > 0;
}
#else
int nn_cpu_cache_sizes(int64_t *l1d, int64_t *l2) {
    *l1d = *l2 = 0;
    return 0;
}
#endif

/* For a family with row_walk set (gemm_tmpl.h: the A sliver mr x kc stays in
 * L1 while B slivers stream past it from the packed B panel in L2):
 *   kc: the A sliver takes a quarter of L1d (the rest: B lines in flight, C)
 *   nc: the B panel kc x nc takes half of L2
 *   mc: the A block mc x kc an eighth of L2
 * On a Sapphire Rapids class core (48 KiB L1d, 2 MiB L2) this gives fp32
 * kc 256, nc 1024, mc 252 and fp64 kc 128, nc 1024, mc 252, which measured
 * as well as any hand-picked set there. Unknown or implausible sizes keep
 * the family's constants. */
nn_gemm_blocking nn_gemm_blocking_from_caches(nn_gemm_blocking b, size_t elem, int64_t l1d,
                                              int64_t l2) {
    if (l1d < 16384 || l1d > (1 << 20) || l2 < 131072 || l2 > (64 << 20)) return b;
    int64_t kc = l1d / (4 * b.mr * (int64_t)elem) / 8 * 8;
    kc = kc < 64 ? 64 : kc > 1024 ? 1024 : kc;
    int64_t nc = l2 / (2 * kc * (int64_t)elem) / b.nr * b.nr;
    nc = nc < 4 * b.nr ? 4 * b.nr : nc > 8192 ? 8192 : nc;
    int64_t mc = l2 / (8 * kc * (int64_t)elem) / b.mr * b.mr;
    mc = mc < 4 * b.mr ? 4 * b.mr : mc;
    b.kc = kc, b.mc = mc, b.nc = nc;
    return b;
}
