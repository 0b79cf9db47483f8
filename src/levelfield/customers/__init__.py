"""levelfield.customers (under construction)."""
