# bindings: io (placeholder until that work lands)
