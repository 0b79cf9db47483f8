"""levelfield.web (under construction)."""
