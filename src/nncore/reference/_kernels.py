"""reference kernels: placeholder until that work lands."""
