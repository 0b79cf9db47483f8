"""levelfield.exposure (under construction)."""
