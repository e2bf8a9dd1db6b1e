"""reference network: placeholder until that work lands."""
