"""activation/loss/dropout ops: placeholder until that work lands."""
