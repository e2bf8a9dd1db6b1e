# bindings: net (placeholder until that work lands)
