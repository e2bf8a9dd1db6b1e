"""reference gemm: placeholder until that work lands."""
