# bindings: optim (placeholder until that work lands)
