"""Lineage: from a finished product's lot back to every input lot and certificate."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from levelfield.errors import UnknownReferenceError

__all__ = ["Lineage", "lineage", "lot_rows"]


@dataclass(frozen=True)
class Lineage:
    """Everything a product lot is made of, as logged.

    Attributes
    ----------
    lot
        The lot asked about.
    entries
        Log positions (``seq``) of every entry in the record: the entries that created
        each lot of the lineage, the transformations, and certificates covering them.
    lots
        Every lot in the lineage, the asked lot first.
    origins
        Raw lots (bought or harvested) -> ``{producer, region, country}``.
    certificates
        Certificate id -> lots of the lineage it covers.
    undocumented
        Raw lots with no country or producer logged: the gaps an auditor would flag.
    """

    lot: str
    entries: tuple[int, ...]
    lots: tuple[str, ...]
    origins: Mapping[str, Mapping[str, Any]]
    certificates: Mapping[str, tuple[str, ...]]
    undocumented: tuple[str, ...]

    @property
    def documented(self) -> bool:
        """True when every raw lot has a producer or country logged."""
        return not self.undocumented

    def summary(self) -> str:
        countries = sorted(
            {str(o.get("country")) for o in self.origins.values() if o.get("country")}
        )
        lines = [
            f"Lot {self.lot}: {len(self.lots)} lots, {len(self.origins)} raw, "
            f"{len(self.certificates)} certificates, {len(self.entries)} log entries",
            f"Origins: {', '.join(countries) or 'none logged'}",
        ]
        if self.undocumented:
            lines.append(f"No origin logged for: {', '.join(self.undocumented)}")
        return "\n".join(lines)

    def to_frame(self) -> pd.DataFrame:
        rows = []
        for lot in self.lots:
            origin = self.origins.get(lot, {})
            certs = sorted(c for c, covered in self.certificates.items() if lot in covered)
            rows.append(
                {
                    "lot": lot,
                    "raw": lot in self.origins,
                    "producer": origin.get("producer"),
                    "region": origin.get("region"),
                    "country": origin.get("country"),
                    "certificates": ", ".join(certs),
                }
            )
        return pd.DataFrame(rows)


def _definitions(bodies: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    out: dict[str, Mapping[str, Any]] = {}
    for body in bodies:
        if body["kind"] == "lot":
            out[body["lot"]] = body
        elif body["kind"] == "transformation":
            out[body["output"]["lot"]] = body
    return out


def lineage(bodies: Sequence[Mapping[str, Any]], lot: str) -> Lineage:
    """Walk from ``lot`` back through transformations to raw lots and certificates.

    ``bodies`` are entry bodies (with ``seq``) in log order; raises
    :class:`UnknownReferenceError` when ``lot`` is not in them.
    """
    defs = _definitions(bodies)
    if lot not in defs:
        raise UnknownReferenceError(
            f"lot {lot!r} is not in the provenance log; 'levelfield provenance list' shows the lots"
        )
    seen: list[str] = []
    stack = [lot]
    while stack:
        current = stack.pop()
        if current in seen or current not in defs:
            continue
        seen.append(current)
        body = defs[current]
        if body["kind"] == "transformation":
            stack.extend(i["lot"] for i in reversed(body["inputs"]))
    in_lineage = set(seen)
    certificates: dict[str, tuple[str, ...]] = {}
    seqs = {int(defs[x]["seq"]) for x in seen}
    for body in bodies:
        if body["kind"] == "certificate":
            covered = tuple(x for x in body["lots"] if x in in_lineage)
            if covered:
                certificates[body["certificate"]] = covered
                seqs.add(int(body["seq"]))
    origins = {x: defs[x]["origin"] for x in seen if defs[x]["kind"] == "lot"}
    undocumented = tuple(
        x for x, o in origins.items() if not (o.get("country") or o.get("producer"))
    )
    return Lineage(lot, tuple(sorted(seqs)), tuple(seen), origins, certificates, undocumented)


def lot_rows(bodies: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per lot: product, quantity, used, origin or process, certificates."""
    defs = _definitions(bodies)
    used = dict.fromkeys(defs, 0.0)
    certs: dict[str, list[str]] = {x: [] for x in defs}
    for body in bodies:
        if body["kind"] == "transformation":
            for item in body["inputs"]:
                used[item["lot"]] = used.get(item["lot"], 0.0) + float(item["quantity"])
        elif body["kind"] == "shipment":
            used[body["lot"]] = used.get(body["lot"], 0.0) + float(body["quantity"])
        elif body["kind"] == "certificate":
            for x in body["lots"]:
                certs.setdefault(x, []).append(body["certificate"])
    rows = []
    for x, body in defs.items():
        made = body["kind"] == "transformation"
        info = body["output"] if made else body
        origin = {} if made else body["origin"]
        rows.append(
            {
                "lot": x,
                "product": info["product"],
                "sku": info.get("sku"),
                "quantity": float(info["quantity"]),
                "unit": info["unit"],
                "used": used[x],
                "made_by": body["process"] if made else None,
                "country": origin.get("country"),
                "producer": origin.get("producer"),
                "certificates": ", ".join(certs[x]),
                "seq": int(body["seq"]),
            }
        )
    columns = [
        "lot",
        "product",
        "sku",
        "quantity",
        "unit",
        "used",
        "made_by",
        "country",
        "producer",
        "certificates",
        "seq",
    ]
    return pd.DataFrame(rows, columns=columns)
