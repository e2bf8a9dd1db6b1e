"""reference optim: placeholder until that work lands."""
