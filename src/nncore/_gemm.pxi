# bindings: gemm (placeholder until that work lands)
