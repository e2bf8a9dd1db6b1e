/* gemm.c — nn_sgemm / nn_dgemm (and the _ex variants with a bias epilogue):
 * blocking, packing and threading from gemm_tmpl.h, instantiated for float and
 * double. Not for: the micro-kernels (csrc/kernels/) or choosing them (cpu.c).
 */
#include "gemm_internal.h"

#include <string.h>

/* Below this many multiply-adds (m*n*k) a GEMM runs on the calling thread:
 * ~1e6 FMAs is tens of microseconds, where waking a second thread stops paying. */
#define NN_GEMM_MIN_PAR_MNK 1.0e6

#define real float
#define NN_FN(name) nn_s##name
#define NN_UKR nn_sgemm_ukr_fn
#define NN_PACKT nn_spackt_fn
#define NN_PACKT_FIELD spackt
#define NN_UKR_FIELD sukr
#define NN_BLK_FIELD sblk
#include "gemm_tmpl.h"
#undef real
#undef NN_FN
#undef NN_UKR
#undef NN_PACKT
#undef NN_PACKT_FIELD
#undef NN_UKR_FIELD
#undef NN_BLK_FIELD

#define real double
#define NN_FN(name) nn_d##name
#define NN_UKR nn_dgemm_ukr_fn
#define NN_PACKT nn_dpackt_fn
#define NN_PACKT_FIELD dpackt
#define NN_UKR_FIELD dukr
#define NN_BLK_FIELD dblk
#include "gemm_tmpl.h"
#undef real
#undef NN_FN
#undef NN_UKR
#undef NN_PACKT
#undef NN_PACKT_FIELD
#undef NN_UKR_FIELD
#undef NN_BLK_FIELD
