"""Peer positions in the member's report and the association's report (no Spark needed)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from levelfield.errors import DataError
from levelfield.findings import Finding
from levelfield.fleet import peer_benchmarks
from levelfield.fleet._report import systemic_findings, write_fleet_report
from levelfield.report import ReportData, peer_positions, peer_section, render_report

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
PROFILE = {"sector": "coffee", "region": "north", "size_band": "micro"}


def _release(tmp_path: Path) -> Path:
    """A published release: 37 coffee shops in one fine group, 12 bakeries pooled."""
    rng = np.random.default_rng(4)
    rows = [("c", i, "coffee", "north", "micro") for i in range(37)]
    rows += [("b", i, "bakery", ["north", "south"][i % 2], "small") for i in range(12)]
    biz = pd.DataFrame(
        [(f"{p}{i}", s, r, z, True) for p, i, s, r, z in rows],
        columns=["business_id", "sector", "region", "size_band", "consent"],
    )
    metrics = {
        "exposure.fee_rate_max": rng.uniform(0.05, 0.35, len(biz)),
        "exposure.supplier_hhi": rng.uniform(800, 6000, len(biz)),
        "exposure.channel_fee_rate.ubereats": rng.uniform(0.25, 0.32, len(biz)),
        "customers.repeat_rate": rng.uniform(0.1, 0.7, len(biz)),
        "exposure.compliance_cost": np.where(biz["sector"] == "coffee", 20_000.0, 35_000.0),
    }
    findings = pd.concat(
        [
            pd.DataFrame(
                {"business_id": biz["business_id"], "metric": m, "value": v, "error": None}
            )
            for m, v in metrics.items()
        ]
    )
    release = peer_benchmarks(findings, biz, k=10)
    release.table.to_parquet(tmp_path / "peer_benchmarks.parquet", index=False)
    (tmp_path / "peer_privacy.json").write_text(json.dumps(release.privacy))
    return tmp_path / "peer_benchmarks.parquet"


def test_position_interpolates_the_published_percentiles(tmp_path: Path) -> None:
    table = pd.read_parquet(_release(tmp_path))
    row = table.loc[(table["metric"] == "exposure.fee_rate_max") & (table["sector"] == "coffee")]
    p75, p90 = float(row["p75"].iloc[0]), float(row["p90"].iloc[0])
    mid = (p75 + p90) / 2
    pos = peer_positions(table, PROFILE, {"exposure.fee_rate_max": mid})
    assert len(pos) == 1 and pos[0].n == 37
    assert pos[0].share_below == pytest.approx(0.825)
    assert "is higher than 82 % of 37 similar businesses (coffee, north, micro" in pos[0].text
    low = peer_positions(table, PROFILE, {"exposure.fee_rate_max": -1.0})[0]
    assert "lower than 90 % of 37" in low.text
    # a bakery of the north is placed in its pooled group (region dropped)
    bakery = {"sector": "bakery", "region": "north", "size_band": "small"}
    pooled = peer_positions(table, bakery, {"customers.repeat_rate": 0.4})[0]
    assert pooled.n == 12 and "all regions" in pooled.group
    with pytest.raises(DataError, match="size_band"):
        peer_positions(table, {"sector": "coffee", "region": "north"}, {})


def test_peer_section_missing_without_profile_or_groups(tmp_path: Path) -> None:
    table = pd.read_parquet(_release(tmp_path))
    f = [Finding("exposure.fee_rate_max", 0.3, "share", "", "info")]
    assert peer_section(table, {}, f).status == "missing"
    other = {"sector": "florist", "region": "north", "size_band": "micro"}
    assert "no published peer group" in peer_section(table, other, f).reason
    done = peer_section(table, PROFILE, f)
    assert done.status == "done" and len(done.findings) == 1


def test_systemic_findings_from_published_aggregates_only(tmp_path: Path) -> None:
    table = pd.read_parquet(_release(tmp_path))
    found = {f.title: f for f in systemic_findings(table)}
    fee = found["Effective fee on ubereats"]
    assert "median effective fee" in fee.text and "49 members" in fee.text
    hhi = next(f for t, f in found.items() if t.startswith("Supplier concentration"))
    assert "members" in hhi.text and "HHI above 1,800" in hhi.text
    burden = found["Total compliance burden"]
    # 37 coffee shops at 20,000 and 12 bakeries at 35,000 (Crain & Crain 2014: USD)
    assert "49 members in 2 published group(s)" in burden.text
    assert "USD 1,160,000 a year" in burden.text and "USD 23,673 per member" in burden.text
    assert "sum of the published group totals" in burden.method
    with pytest.raises(DataError, match="is not a file"):
        write_fleet_report(tmp_path / "nowhere", tmp_path / "x.html")


def test_compliance_total_leaves_out_suppressed_groups_and_says_so(tmp_path: Path) -> None:
    table = pd.read_parquet(_release(tmp_path))
    cost = table["metric"] == "exposure.compliance_cost"
    bakery = cost & (table["sector"] == "bakery")
    table.loc[bakery, ["status", "n", "total"]] = ["suppressed", np.nan, np.nan]
    burden = {f.title: f for f in systemic_findings(table)}["Total compliance burden"]
    assert "USD 740,000 a year" in burden.text and "1 suppressed group(s)" in burden.text
    assert "Total compliance burden" not in {
        f.title for f in systemic_findings(table.drop(columns=["total"]))
    }


def _member_page(tmp_path: Path) -> Path:
    table = pd.read_parquet(_release(tmp_path))
    values = [
        Finding("exposure.fee_rate_max", 0.31, "share", "", "warning"),
        Finding("customers.repeat_rate", 0.2, "share", "", "info"),
    ]
    data = ReportData(
        business_name="North Coffee",
        currency="EUR",
        generated_at="2026-12-03 17:00 UTC",
        fingerprint="x",
        version="test",
        key_numbers=(),
        actions=(),
        advice_status="missing",
        advice_reason="not run",
        advice_headline=(),
        sections=(peer_section(table, PROFILE, values),),
    )
    page = tmp_path / "member.html"
    page.write_text(render_report(data), encoding="utf-8")
    return page


@pytest.mark.browser
@pytest.mark.slow
def test_peer_report_and_fleet_report_render_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    member = _member_page(tmp_path)
    fleet = write_fleet_report(tmp_path, tmp_path / "fleet.html")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(member.as_uri())
            section = page.locator("section#peers")
            assert section.is_visible()
            text = section.inner_text()
            assert "of 37 similar businesses" in text and "repeat-customer rate" in text
            page.goto(fleet.as_uri())
            page.wait_for_selector("#fleet-0 svg", timeout=30_000)
            charts = page.locator(".lf-chart svg.main-svg").count()
            assert charts >= 4
            systemic = page.locator("#systemic").inner_text()
            assert "Effective fee on ubereats" in systemic
            assert "Total compliance burden" in systemic and "USD 1,160,000" in systemic
            assert errors == []
        finally:
            browser.close()
