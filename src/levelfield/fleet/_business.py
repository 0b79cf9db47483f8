"""One business's peer metrics from its own workspace: the single-business analyses, unchanged.

The fleet's customer numbers come from the customer kernels (:mod:`._kernels`); its
exposure numbers (platform fee rates, marketplace share, supplier concentration,
compliance burden) come from :func:`levelfield.exposure.analyze` itself, run on a
workspace holding only that business's rows: for a directory of workspaces, a private
copy of the member's own ``.duckdb`` file; for a Parquet dataset, a scratch workspace
(copied from one migrated empty template per process) filled with the business's rows of
``orders``, ``suppliers``, ``channels`` and its ``employees``. No second implementation
of any metric: a business's fleet numbers are its single-business ``analyze`` numbers.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from levelfield import exposure
from levelfield.customers import product_cost_margin
from levelfield.fleet._kernels import (
    CHANNEL_FEE_PREFIX,
    FINDING_COLUMNS,
    LINE_COLUMNS,
    ORDER_COLUMNS,
    REVENUE_VALUE_UNIT,
    _message,
    _revenue_orders,
    customer_metrics,
    metric_unit,
    pricing_metrics,
)
from levelfield.workspace import Workspace, open_workspace

__all__ = ["PEER_EXPOSURE_METRICS", "frames_metrics", "workspace_file_metrics"]

#: Exposure finding ids the fleet keeps (plus ``exposure.channel_fee_rate.<channel>``).
PEER_EXPOSURE_METRICS = (
    "exposure.customer_hhi",
    "exposure.customer_top1_share",
    "exposure.customer_top5_share",
    "exposure.customer_top20pct_share",
    "exposure.channel_hhi",
    "exposure.fee_rate_max",
    "exposure.fee_drag",
    "exposure.platform_share_max",
    "exposure.data_ownership_share",
    "exposure.supplier_hhi",
    "exposure.compliance_cost_share",
    "exposure.compliance_cost",
)

_SUPPLIER_COLUMNS = [
    "supplier_id", "name", "country", "annual_spend", "currency", "lead_time_days", "alternatives",
]  # fmt: skip
_CHANNEL_COLUMNS = ["channel", "platform", "fee_profile", "owns_customer"]
_scratch: dict[str, Path] = {}


def _scratch_dir() -> Path:
    """This process's scratch folder with one migrated empty workspace (made once)."""
    if "dir" not in _scratch:
        folder = Path(tempfile.mkdtemp(prefix="levelfield-fleet-"))
        with open_workspace(folder / "template.duckdb", key_dir=folder / "keys"):
            pass
        _scratch["dir"] = folder
    return _scratch["dir"]


def _exposure_rows(ws: Workspace) -> list[tuple[str, float]]:
    result = exposure.analyze(ws)
    rows = [(f.metric, f.value) for f in result.findings() if f.metric in PEER_EXPOSURE_METRICS]
    ch = result.channels
    if not ch.empty:
        plat = ch.loc[ch["owns_customer"].eq(False).fillna(False).astype(bool)]
        rows += [
            (CHANNEL_FEE_PREFIX + str(c), float(r))
            for c, r in zip(plat["channel"], plat["fee_rate"], strict=True)
            if math.isfinite(float(r))
        ]
    return rows


def _margin(ws: Workspace, stated: float | None) -> float | None:
    """The business's gross margin (share 0-1), or None when unknown.

    As ``customers.analyze`` takes it: the workspace's ``customers.margin`` setting when
    set, else the margin of product costs (:func:`levelfield.customers.product_cost_margin`);
    then, for a Parquet fleet, the ``gross_margin`` stated in its businesses table.
    """
    given = ws.settings.get("customers.margin")
    if given is not None:
        return float(given)
    margin = product_cost_margin(ws.con)
    if margin is None and stated is not None and math.isfinite(stated):
        margin = float(stated)
    return margin


def _analyse(
    bid: str, orders: pd.DataFrame, ws: Workspace, stated_margin: float | None = None
) -> pd.DataFrame:
    """Metric rows of one business: customer kernels on ``orders``, exposure and pricing
    on ``ws``."""
    rows: list[tuple[str, str, str, float, str, str | None]] = []
    for analysis in ("customers", "exposure", "pricing"):  # three analyses, not rows
        unit_of = metric_unit
        try:
            if analysis == "customers":
                margin = _margin(ws, stated_margin)
                values = list(customer_metrics(_revenue_orders(orders), margin).items())
                if margin is None:
                    unit_of = _revenue_value_unit
            elif analysis == "exposure":
                values = _exposure_rows(ws)
            else:
                values = list(pricing_metrics(ws.con).items())
        except Exception as exc:  # one business's failure must not fail the fleet
            rows.append((bid, analysis, f"{analysis}.error", np.nan, "error", _message(exc)))
            continue
        rows.extend((bid, analysis, m, float(v), unit_of(m), None) for m, v in values)
    return pd.DataFrame(rows, columns=FINDING_COLUMNS)


def _revenue_value_unit(metric: str) -> str:
    return REVENUE_VALUE_UNIT if metric == "customers.value_per_customer" else metric_unit(metric)


def _fill_lines(ws: Workspace, lines: pd.DataFrame) -> None:
    """Write one business's order lines, and the unit costs they carry as its products."""
    if lines.empty:
        return
    con = ws.con
    cols = [c for c in LINE_COLUMNS if c != "business_id"]
    con.register("lf_in_lines", lines[cols])
    con.execute(
        f"INSERT INTO order_lines ({', '.join(cols)}, import_id) "
        f"SELECT {', '.join(cols)}, 0 FROM lf_in_lines"
    )
    if "unit_cost" in lines:
        costs = lines.loc[lines["sku"].notna() & lines["unit_cost"].notna(), ["sku", "unit_cost"]]
        con.register("lf_in_costs", costs.drop_duplicates("sku"))
        con.execute(
            "INSERT INTO products (sku, unit_cost, import_id) "
            "SELECT sku, unit_cost, 0 FROM lf_in_costs"
        )


def _fill(ws: Workspace, orders: pd.DataFrame, side: pd.DataFrame, channels: pd.DataFrame) -> None:
    """Write one business's rows into an empty scratch workspace (import id 0)."""
    con = ws.con
    frame = orders.assign(ordered_at=pd.to_datetime(orders["ordered_at"], utc=True))
    frame["ordered_at"] = frame["ordered_at"].dt.tz_localize(None)
    cols = [c for c in ORDER_COLUMNS if c != "business_id"]
    con.register("lf_in_orders", frame[cols])
    con.execute(
        f"INSERT INTO orders ({', '.join(cols)}, import_id) "
        f"SELECT {', '.join(cols)}, 0 FROM lf_in_orders"
    )
    sup = side.loc[side["supplier_id"].notna(), _SUPPLIER_COLUMNS] if len(side) else side
    if len(sup):
        con.register("lf_in_sup", sup)
        con.execute(
            f"INSERT INTO suppliers ({', '.join(_SUPPLIER_COLUMNS)}, import_id) "
            f"SELECT {', '.join(_SUPPLIER_COLUMNS)}, 0 FROM lf_in_sup"
        )
    mine = channels.loc[channels["channel"].isin(set(orders["channel"])), _CHANNEL_COLUMNS]
    if len(mine):
        con.register("lf_in_chan", mine)
        con.execute(
            f"INSERT INTO channels ({', '.join(_CHANNEL_COLUMNS)}, import_id) "
            f"SELECT {', '.join(_CHANNEL_COLUMNS)}, 0 FROM lf_in_chan"
        )
    profile: dict[str, object] = {"currency": str(orders["currency"].iloc[0])}
    if len(side) and "employees" in side and pd.notna(side["employees"].iloc[0]):
        profile["employees"] = int(side["employees"].iloc[0])
    con.executemany(
        "INSERT INTO business (key, value, import_id) VALUES (?, ?, 0)",
        [(k, json.dumps(v)) for k, v in profile.items()],
    )


def frames_metrics(
    orders: pd.DataFrame, side: pd.DataFrame, channels: pd.DataFrame
) -> pd.DataFrame:
    """Metric rows of one business of a Parquet fleet (never raises: error rows instead).

    Parameters
    ----------
    orders
        The business's canonical ``orders`` rows with ``business_id``.
    side
        Its ``suppliers`` rows joined with its ``employees`` and ``gross_margin`` (one row
        with null supplier columns when it has no suppliers), followed by its
        ``order_lines`` rows (:data:`LINE_COLUMNS`, those with a ``line_no``; a
        ``unit_cost`` column, when present, is their product's unit cost).
    channels
        The fleet-wide ``channels`` table.
    """
    bid = str(orders["business_id"].iloc[0]) if len(orders) else str(side["business_id"].iloc[0])
    if orders.empty:
        return _error(
            bid, "no orders: the business is in the businesses table but has no order rows"
        )
    # Spark does not order the rows of a group: sorting makes float sums, and so reruns,
    # reproducible to the last bit
    orders = orders.sort_values("order_id", kind="stable", ignore_index=True)
    is_line = side["line_no"].notna() if "line_no" in side else pd.Series(False, index=side.index)
    lines = side.loc[is_line].sort_values(["order_id", "line_no"], ignore_index=True)
    side = side.loc[~is_line].sort_values("supplier_id", kind="stable", ignore_index=True)
    stated = (
        float(side["gross_margin"].iloc[0])
        if len(side) and "gross_margin" in side and pd.notna(side["gross_margin"].iloc[0])
        else None
    )
    work = _scratch_dir() / f"{uuid.uuid4().hex}.duckdb"
    try:
        shutil.copyfile(_scratch_dir() / "template.duckdb", work)
        with open_workspace(work, key_dir=_scratch_dir() / "keys") as ws:
            _fill(ws, orders, side, channels)
            _fill_lines(ws, lines)
            return _analyse(bid, orders, ws, stated)
    except Exception as exc:  # the batch boundary: report, never fail the job
        return _error(bid, _message(exc))
    finally:
        work.unlink(missing_ok=True)
        Path(f"{work}.wal").unlink(missing_ok=True)


def workspace_file_metrics(path: str, business_id: str) -> pd.DataFrame:
    """Metric rows of one member's workspace file, analysed on a private copy."""
    work = _scratch_dir() / f"{uuid.uuid4().hex}.duckdb"
    try:
        shutil.copyfile(path, work)
        with open_workspace(work, create=False, key_dir=_scratch_dir() / "keys") as ws:
            cols = [c for c in ORDER_COLUMNS if c != "business_id"]
            orders = ws.con.sql(f"SELECT {', '.join(cols)} FROM orders").df()
            if orders.empty:
                return _error(business_id, "no orders: the workspace holds no orders")
            orders.insert(0, "business_id", business_id)
            orders[["gross", "discount", "tax", "shipping", "fees", "refunded"]] = orders[
                ["gross", "discount", "tax", "shipping", "fees", "refunded"]
            ].astype(float)
            return _analyse(business_id, orders, ws)
    except Exception as exc:  # a corrupt or foreign file is one business's error row
        return _error(business_id, _message(exc))
    finally:
        work.unlink(missing_ok=True)
        Path(f"{work}.wal").unlink(missing_ok=True)


def _error(bid: str, message: str) -> pd.DataFrame:
    return pd.DataFrame(
        [(bid, "fleet", "fleet.error", np.nan, "error", message)], columns=FINDING_COLUMNS
    )
