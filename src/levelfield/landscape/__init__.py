"""levelfield.landscape (under construction)."""
