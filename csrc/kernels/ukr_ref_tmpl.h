/* ukr_ref_tmpl.h — the portable C micro-kernel, written once; included by
 * ukr_ref.c with real, NN_REF_NAME, NN_REF_MR and NN_REF_NR defined.
 * Contract: csrc/gemm_internal.h. Plain C the compiler can vectorize for the
 * baseline ISA; no intrinsics. */

void NN_REF_NAME(real *c, int64_t rsc, const real *ap, const real *bp, int64_t k, int64_t mr,
                 int64_t nr, real alpha, real beta) {
    real acc[NN_REF_MR * NN_REF_NR];
    for (int i = 0; i < NN_REF_MR * NN_REF_NR; i++) acc[i] = 0;
    for (int64_t p = 0; p < k; p++) {
        const real *a = ap + p * NN_REF_MR;
        const real *b = bp + p * NN_REF_NR;
        for (int i = 0; i < NN_REF_MR; i++)
            for (int j = 0; j < NN_REF_NR; j++) acc[i * NN_REF_NR + j] += a[i] * b[j];
    }
    for (int64_t i = 0; i < mr; i++) {
        real *r = c + i * rsc;
        const real *s = acc + i * NN_REF_NR;
        if (beta == 0)
            for (int64_t j = 0; j < nr; j++) r[j] = alpha * s[j];
        else
            for (int64_t j = 0; j < nr; j++) r[j] = beta * r[j] + alpha * s[j];
    }
}
