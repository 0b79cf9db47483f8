"""What a provenance log entry holds, and the checks an auditor would make on it.

Every entry is a JSON object (canonicalised with RFC 8785 before hashing) with
``v`` (format version), ``seq`` (its position in the log), ``kind``, ``recorded_at``
(UTC, ISO 8601) and the fields of its kind:

=================  =====================================================================
kind               fields
=================  =====================================================================
``lot``            ``lot``, ``product``, ``sku``, ``quantity``, ``unit``, ``date``,
                   ``origin {producer, region, country}``, ``supplier``
``certificate``    ``certificate``, ``scheme``, ``issuer``, ``holder``, ``valid_from``,
                   ``valid_until``, ``file {name, sha256, bytes}``, ``lots``
``transformation`` ``process`` (roast, bake, assemble...), ``inputs [{lot, quantity}]``,
                   ``output {lot, product, sku, quantity, unit}``, ``date``
``shipment``       ``lot``, ``channel``, ``quantity``, ``date``
``key``            ``fingerprint``, ``public_key``, ``replaces`` (key rotation)
``publication``    ``lot``, ``entries`` (the seqs of the lot's published record), ``url``
=================  =====================================================================

Lots are created by a ``lot`` entry (bought or harvested, with an origin) or by the
``output`` of a ``transformation``; nothing is ever edited in place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from levelfield.errors import ConfigError, DataError

__all__ = [
    "ENTRY_KINDS",
    "LotBook",
    "certificate_entry",
    "lot_entry",
    "shipment_entry",
    "transformation_entry",
]

ENTRY_KINDS = ("lot", "certificate", "transformation", "shipment", "key", "publication")
FORMAT_VERSION = 1


def _text(value: object, name: str, *, required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{name} must be text, not {type(value).__name__}")
    return value.strip()


def _quantity(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} must be a number, not {value!r}")
    q = float(value)
    if not math.isfinite(q) or q <= 0:
        raise ConfigError(f"{name} must be a positive number, not {value!r}")
    return q


def _date(value: object, name: str, *, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ConfigError(f"{name} must be a date as YYYY-MM-DD, not {value!r}")


def lot_entry(
    lot: str,
    product: str,
    quantity: float,
    unit: str,
    date: str | dt.date,
    *,
    producer: str | None = None,
    region: str | None = None,
    country: str | None = None,
    supplier: str | None = None,
    sku: str | None = None,
) -> dict[str, Any]:
    """A lot that was bought or harvested, with its origin (farm or maker, region, country)."""
    return {
        "kind": "lot",
        "lot": _text(lot, "lot id"),
        "product": _text(product, "product"),
        "sku": _text(sku, "sku", required=False),
        "quantity": _quantity(quantity, "quantity"),
        "unit": _text(unit, "unit"),
        "date": _date(date, "date"),
        "origin": {
            "producer": _text(producer, "producer", required=False),
            "region": _text(region, "region", required=False),
            "country": _text(country, "country", required=False),
        },
        "supplier": _text(supplier, "supplier", required=False),
    }


def certificate_entry(
    certificate: str,
    scheme: str,
    file: Path,
    lots: Iterable[str],
    *,
    issuer: str | None = None,
    holder: str | None = None,
    valid_from: str | dt.date | None = None,
    valid_until: str | dt.date | None = None,
) -> dict[str, Any]:
    """A certificate (fair trade, organic...) covering lots; the file's SHA-256 is logged.

    The file itself stays where the owner keeps it: anyone holding it can check it is
    the one logged by hashing it.
    """
    path = Path(file)
    if not path.is_file():
        raise ConfigError(f"certificate file {path} does not exist")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    start = _date(valid_from, "valid_from", required=False)
    end = _date(valid_until, "valid_until", required=False)
    if start and end and end < start:
        raise ConfigError(f"certificate {certificate}: valid_until {end} is before {start}")
    covered = sorted({_text(x, "lot id") or "" for x in lots})
    if not covered:
        raise ConfigError(f"certificate {certificate} must cover at least one lot (--lot)")
    return {
        "kind": "certificate",
        "certificate": _text(certificate, "certificate id"),
        "scheme": _text(scheme, "scheme"),
        "issuer": _text(issuer, "issuer", required=False),
        "holder": _text(holder, "holder", required=False),
        "valid_from": start,
        "valid_until": end,
        "file": {"name": path.name, "sha256": digest.hexdigest(), "bytes": path.stat().st_size},
        "lots": covered,
    }


def transformation_entry(
    process: str,
    inputs: Mapping[str, float],
    output: str,
    product: str,
    quantity: float,
    unit: str,
    date: str | dt.date,
    *,
    sku: str | None = None,
) -> dict[str, Any]:
    """A step (roast, bake, assemble) that turns input lots into one output lot."""
    if not inputs:
        raise ConfigError(f"transformation into {output} needs at least one input lot")
    return {
        "kind": "transformation",
        "process": _text(process, "process"),
        "inputs": [
            {"lot": _text(lot, "input lot"), "quantity": _quantity(q, f"quantity of {lot}")}
            for lot, q in sorted(inputs.items())
        ],
        "output": {
            "lot": _text(output, "output lot"),
            "product": _text(product, "product"),
            "sku": _text(sku, "sku", required=False),
            "quantity": _quantity(quantity, "output quantity"),
            "unit": _text(unit, "unit"),
        },
        "date": _date(date, "date"),
    }


def shipment_entry(lot: str, channel: str, quantity: float, date: str | dt.date) -> dict[str, Any]:
    """Part of a lot shipped to a sales channel (shop, marketplace, wholesale)."""
    return {
        "kind": "shipment",
        "lot": _text(lot, "lot id"),
        "channel": _text(channel, "channel"),
        "quantity": _quantity(quantity, "quantity"),
        "date": _date(date, "date"),
    }


@dataclass
class LotBook:
    """Lots known so far and how much of each has been used: the mass balance.

    An auditor of a fair-trade claim checks first that no more certified product left
    than came in; this refuses an entry that would use more of a lot than it holds.
    """

    quantity: dict[str, float] = field(default_factory=dict)
    unit: dict[str, str] = field(default_factory=dict)
    used: dict[str, float] = field(default_factory=dict)
    certificates: set[str] = field(default_factory=set)

    def _use(self, lot: str, amount: float, why: str) -> None:
        if lot not in self.quantity:
            raise DataError(f"{why}: lot {lot!r} is not in the log; add it first")
        left = self.quantity[lot] - self.used[lot]
        if amount > left * (1 + 1e-9):
            raise DataError(
                f"{why}: uses {amount:g} {self.unit[lot]} of lot {lot!r}, but only "
                f"{left:g} of {self.quantity[lot]:g} {self.unit[lot]} are left"
            )
        self.used[lot] += amount

    def _create(self, lot: str, quantity: float, unit: str) -> None:
        if lot in self.quantity:
            raise DataError(f"lot {lot!r} is already in the log; lot ids are unique")
        self.quantity[lot], self.unit[lot], self.used[lot] = quantity, unit, 0.0

    def apply(self, body: Mapping[str, Any]) -> None:
        """Check ``body`` against the lots so far and record it (raises ``DataError``)."""
        kind = body["kind"]
        if kind == "lot":
            self._create(body["lot"], body["quantity"], body["unit"])
        elif kind == "transformation":
            out = body["output"]
            if out["lot"] in {i["lot"] for i in body["inputs"]}:
                raise DataError(f"lot {out['lot']!r} cannot be an input of itself")
            for item in body["inputs"]:
                self._use(item["lot"], item["quantity"], f"{body['process']} into {out['lot']}")
            self._create(out["lot"], out["quantity"], out["unit"])
        elif kind == "shipment":
            self._use(body["lot"], body["quantity"], f"shipment to {body['channel']}")
        elif kind == "certificate":
            if body["certificate"] in self.certificates:
                raise DataError(f"certificate {body['certificate']!r} is already in the log")
            missing = [lot for lot in body["lots"] if lot not in self.quantity]
            if missing:
                raise DataError(
                    f"certificate {body['certificate']}: lots {', '.join(missing)} are "
                    "not in the log; add them first"
                )
            self.certificates.add(body["certificate"])
