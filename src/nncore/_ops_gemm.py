"""matmul: placeholder until the GEMM work lands."""
