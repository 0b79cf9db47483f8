"""levelfield.pricing (under construction)."""
