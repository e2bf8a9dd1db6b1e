/* cpu.c — picks the micro-kernel family once (placeholder: "ref" only).
 * The GEMM work replaces this with cpuid detection and the avx2 table. */
#include "internal.h"

#include <string.h>

static const char *g_arch = "ref";

int nn_select_arch(const char *name) {
    if (name == NULL || name[0] == '\0' || strcmp(name, "auto") == 0 || strcmp(name, "ref") == 0) {
        g_arch = "ref";
        return NN_OK;
    }
    return NN_ERR_ARG;
}

const char *nn_current_arch(void) { return g_arch; }
const char *nn_available_archs(void) { return "ref"; }
