"""levelfield.report (under construction)."""
