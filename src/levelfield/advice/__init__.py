"""levelfield.advice (under construction)."""
