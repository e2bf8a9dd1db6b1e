/* ukr_ref.c — the portable "ref" kernel family: C micro-kernels for any CPU,
 * always built, and the table entry that starts every dispatch (cpu.c).
 * Not for: speed records (see ukr_avx2.c); the driver (gemm.c). */
#include "../gemm_internal.h"

#define real float
#define NN_REF_NAME nn_sgemm_ukr_ref_4x8
#define NN_REF_MR 4
#define NN_REF_NR 8
#include "ukr_ref_tmpl.h"
#undef real
#undef NN_REF_NAME
#undef NN_REF_MR
#undef NN_REF_NR

#define real double
#define NN_REF_NAME nn_dgemm_ukr_ref_4x4
#define NN_REF_MR 4
#define NN_REF_NR 4
#include "ukr_ref_tmpl.h"
#undef real
#undef NN_REF_NAME
#undef NN_REF_MR
#undef NN_REF_NR

const nn_gemm_kernels nn_gemm_kernels_ref = {
    "ref",
    nn_sgemm_ukr_ref_4x8, {4, 8, 256, 128, 2048},
    nn_dgemm_ukr_ref_4x4, {4, 4, 256, 64, 2048},
    NULL, NULL,
};
