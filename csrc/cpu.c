/* cpu.c — the registry of CPU kernel families and the choice among them:
 * CPU feature detection (cpuid, and XGETBV for what the OS saves), the
 * family names, and nn_active_kernels(), the table every kernel call goes
 * through (kernels.h). The only file that knows family names.
 * The active family starts as the portable "ref"; nn_select_arch swaps in a
 * family the CPU and the OS can run.
 * Not for: kernels themselves (csrc/kernels/) or the GEMM loops (gemm.c).
 */
#include "kernels.h"

#include <string.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define NN_X86 1
#endif

#ifdef NN_X86
/* XCR0: which register states the OS saves on context switch. */
static uint64_t xgetbv0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static int os_saves(uint64_t mask) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!(c & (1u << 27))) return 0; /* OSXSAVE: XGETBV usable */
    return (xgetbv0() & mask) == mask;
}

static int cpu_has_avx2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           os_saves(0x6); /* XMM | YMM */
}

static int cpu_has_avx512(void) {
    __builtin_cpu_init();
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && os_saves(0xe6); /* + opmask, ZMM */
}

/* Which AVX-512 family "auto" takes: the two-FMA-port shape (avx512_skx) on
 * every Intel core with AVX-512, the one-vector 16x16 shape elsewhere (AMD Zen 4,
 * where it was tuned). By vendor, not family/model: hypervisors report models
 * that do not name the core (this SPR-class guest says model 0xA7), and on the
 * Intel cores with a single 512-bit FMA port the 12x32 tile loses nothing (more
 * independent chains, fewer loads per FMA than 16x16). */
static int cpu_is_intel(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(0, &a, &b, &c, &d)) return 0;
    return b == 0x756e6547u && d == 0x49656e69u && c == 0x6c65746eu; /* "GenuineIntel" */
}

static int prefer_avx512(void) { return !cpu_is_intel(); }
static int prefer_avx512_skx(void) { return cpu_is_intel(); }

/* AVX512-BF16 (vdpbf16ps, vcvtne2ps2bf16) and the byte/word permutes of its
 * packers (AVX512BW), on top of what the avx512 family needs. */
static int cpu_has_avx512_bf16(void) {
    __builtin_cpu_init();
    return cpu_has_avx512() && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512bf16");
}

/* amx_bf16 + amx_tile (cpuid 7.0 EDX bits 22, 24), the OS saving tile state
 * (XCR0 bits 17, 18), palette 1 with the tiles amx.c uses (cpuid 0x1d), and
 * Linux granting this process the tile data (nn_amx_request, kernels/amx.c). */
static int cpu_has_amx(void) {
    unsigned a, b, c, d;
    if (!cpu_has_avx512_bf16()) return 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return 0;
    if (!os_saves(0x60000)) return 0;
    /* palette 1 as kernels/amx.c configures it (cpuid 0x1d.1): at least 5 tile
     * names (EBX 31:16) of 16 rows (ECX 15:0) of 64 bytes (EBX 15:0) */
    if (!__get_cpuid_count(0x1d, 0, &a, &b, &c, &d) || a < 1) return 0;
    __cpuid_count(0x1d, 1, a, b, c, d);
    if ((b & 0xffff) < 64 || (b >> 16) < 5 || (c & 0xffff) < 16) return 0;
    return nn_amx_request();
}
#endif

/* The families: each table is defined at the end of its csrc/kernels/ file. */
extern const nn_kernels nn_kernels_ref;
#ifdef NN_X86
extern const nn_kernels nn_kernels_avx2, nn_kernels_avx512, nn_kernels_avx512_skx;
void nn_kernels_avx512_skx_init(void); /* sizes its cache blocks from cpuid, once */
extern const nn_kernels nn_kernels_avx512_bf16;
extern nn_kernels nn_kernels_amx; /* filled by its init (kernels/amx.c) */
void nn_kernels_amx_init(void);
#endif

typedef struct {
    const char *name;
    const nn_kernels *kernels;
    int (*supported)(void); /* NULL: always */
    int (*preferred)(void); /* NULL: always; else "auto" skips it when 0 */
    void (*init)(void);     /* NULL: none; else run before the table is first used */
} arch_entry;

/* Best last: "auto" takes the last entry the CPU supports and prefers. */
static const arch_entry g_archs[] = {
    {"ref", &nn_kernels_ref, NULL, NULL, NULL},
#ifdef NN_X86
    {"avx2", &nn_kernels_avx2, cpu_has_avx2, NULL, NULL},
    {"avx512", &nn_kernels_avx512, cpu_has_avx512, prefer_avx512, NULL},
    {"avx512_skx", &nn_kernels_avx512_skx, cpu_has_avx512, prefer_avx512_skx,
     nn_kernels_avx512_skx_init},
    /* bf16 families: the fp32 tables of the family tuned for the core, plus a
     * bf16 GEMM (avx512_bf16: Zen 4 and other non-Intel; amx: Intel with AMX) */
    {"avx512_bf16", &nn_kernels_avx512_bf16, cpu_has_avx512_bf16, prefer_avx512, NULL},
    {"amx", &nn_kernels_amx, cpu_has_amx, prefer_avx512_skx, nn_kernels_amx_init},
#endif
};
#define N_ARCHS ((int)(sizeof g_archs / sizeof g_archs[0]))

/* Families of other platforms: asking for one is "unsupported", not "unknown". */
static const char *const g_elsewhere[] = {"avx2", "avx512", "avx512_skx", "avx512_bf16",
                                          "amx", "neon"};

static const arch_entry *volatile g_active = &g_archs[0];

const nn_kernels *nn_active_kernels(void) { return g_active->kernels; }

static int arch_ok(int i) { return g_archs[i].supported == NULL || g_archs[i].supported(); }

static void activate(int i) {
    if (g_archs[i].init) g_archs[i].init();
    g_active = &g_archs[i];
}

int nn_select_arch(const char *name) {
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0) {
        for (int i = N_ARCHS - 1; i >= 0; i--)
            if (arch_ok(i) && (g_archs[i].preferred == NULL || g_archs[i].preferred())) {
                activate(i);
                return NN_OK;
            }
        return NN_ERR_UNSUPPORTED; /* unreachable: ref is always there */
    }
    for (int i = 0; i < N_ARCHS; i++)
        if (strcmp(name, g_archs[i].name) == 0) {
            if (!arch_ok(i)) return NN_ERR_UNSUPPORTED;
            activate(i);
            return NN_OK;
        }
    for (size_t i = 0; i < sizeof g_elsewhere / sizeof g_elsewhere[0]; i++)
        if (strcmp(name, g_elsewhere[i]) == 0) return NN_ERR_UNSUPPORTED;
    return NN_ERR_ARG;
}

const char *nn_current_arch(void) { return g_active->name; }

const char *nn_available_archs(void) {
    static char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (int i = 0; i < N_ARCHS; i++) {
        if (!arch_ok(i)) continue;
        size_t len = strlen(g_archs[i].name);
        if (used + len + 2 > sizeof list) break;
        if (used) list[used++] = ',';
        memcpy(list + used, g_archs[i].name, len + 1);
        used += len;
    }
    return list;
}
