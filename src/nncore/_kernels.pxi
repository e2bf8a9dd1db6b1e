# bindings: kernels (placeholder until that work lands)
