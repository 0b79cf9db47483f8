"""levelfield.scenarios (under construction)."""
