"""The package's public names."""

from __future__ import annotations

import levelfield.provenance as provenance


def test_all_matches_what_is_importable() -> None:
    public = {n for n in dir(provenance) if not n.startswith("_")}
    modules = {n for n in public if type(getattr(provenance, n)).__name__ == "module"}
    assert set(provenance.__all__) == public - modules
