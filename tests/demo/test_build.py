"""``build_demo`` and ``levelfield demo``: everything goes in through ingest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from levelfield.cli import app
from levelfield.demo import DemoResult, build_demo
from levelfield.demo._exports import make_people
from levelfield.errors import ConfigError
from levelfield.workspace import open_workspace

N = 300
SEED = 11


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    steps: list[float] = []
    result = build_demo(tmp_path_factory.mktemp("d") / "demo", seed=SEED, n_customers=N,
                        progress=lambda step, f: steps.append(f))  # fmt: skip
    assert steps and steps[-1] == 1.0 and all(0 <= f <= 1 for f in steps)
    return result


def test_every_file_is_imported_without_rejects(built: DemoResult) -> None:
    kinds = {s.kind for s in built.imports}
    assert kinds == {"business", "channels", "suppliers", "products", "orders", "competitors",
                     "costs", "pilots", "surveys", "automation", "subscriptions",
                     "competitor_prices", "credit_offers"}  # fmt: skip
    for s in built.imports:
        assert s.rows_rejected == 0, (s.source_name, s.top_reasons)
        assert not s.skipped_duplicate
    profiles = {s.source_name: s.profile for s in built.imports}
    assert profiles["orders_export_1.csv"] == "shopify"
    assert profiles["EtsySoldOrders2024.csv"] == "etsy_orders"
    assert profiles["EtsySoldOrderItems2024.csv"] == "etsy_items"
    assert profiles["amazon_all_orders_2023-2025.txt"] == "amazon"
    assert profiles["wholesale_invoices_2023-2025.csv"] == "generic"
    # The demo has no credit offers or own bank FX rates (financing and FX are exercised
    # by their own tests); every other data table is filled.
    empty = {t for t, n in built.counts.items() if n == 0}
    assert empty <= {"fx_rates"}, empty


def test_workspace_matches_the_manifest(built: DemoResult) -> None:
    manifest = json.loads(built.manifest.read_text(encoding="utf-8"))
    assert manifest["seed"] == SEED and manifest["n_customers"] == N
    assert manifest["customers"]["bgnbd"]["time_unit"] == "weeks"
    for ch, truth in manifest["channels"].items():
        assert built.revenue_by_channel[ch] == pytest.approx(truth["net_revenue"], abs=0.05), ch
    with open_workspace(built.workspace) as ws:
        con = ws.con
        orders = dict(
            con.execute("SELECT channel, count(*) FROM orders GROUP BY channel").fetchall()
        )
        for ch, truth in manifest["channels"].items():
            assert orders[ch] == truth["orders"], ch
        n_cust = con.execute(
            "SELECT count(DISTINCT customer_id) FROM orders WHERE channel IN ('shopify', 'etsy')"
        ).fetchall()[0][0]
        assert n_cust == N
        pilots = con.execute("SELECT count(DISTINCT pilot_id), count(*) FROM pilots").fetchall()[0]
        assert pilots == (
            len(manifest["pricing"]["pilot"]["skus"]),
            2 * len(manifest["pricing"]["pilot"]["skus"]),
        )
        assert ws.get_business("currency") == "USD"
        assert ws.get_business("employees") == 12
        groups = manifest["landscape"]["planted_groups"]
        names = {
            r[0] for r in con.execute("SELECT name FROM competitors WHERE NOT is_self").fetchall()
        }
        assert names == set(groups)
    assert built.date_min is not None and built.date_min.year == 2023
    assert built.date_max is not None and built.date_max.year == 2025


def test_no_clear_identifiers_in_the_workspace(built: DemoResult) -> None:
    manifest = json.loads(built.manifest.read_text(encoding="utf-8"))
    from levelfield.demo import simulate

    sim = simulate(manifest["seed"], manifest["n_customers"])
    people = make_people(manifest["seed"], sim.n_customers, sim.cust_city)
    emails = {e.lower() for e in people.email}
    with open_workspace(built.workspace) as ws:
        cols = ws.con.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON') AND table_name NOT IN ('meta')"
        ).fetchall()
        for table, column in cols:
            hits = ws.con.execute(
                f'SELECT count(*) FROM "{table}" WHERE CAST("{column}" AS VARCHAR) LIKE \'%@%\''
            ).fetchall()[0][0]
            assert hits == 0, (table, column)
        ids = {r[0] for r in ws.con.execute("SELECT DISTINCT customer_id FROM orders").fetchall()}
        phones = set(people.phone)
        assert not (ids & emails) and not (ids & phones)
        surveyed = ws.con.execute(
            "SELECT count(*) FROM surveys s JOIN orders o USING (customer_id)"
        ).fetchall()[0][0]
        assert surveyed > 0  # survey answers pseudonymize to the same customer ids


def test_summary_lines(built: DemoResult) -> None:
    text = "\n".join(built.lines())
    assert "Ember & Oak" in text
    for word in ("orders", "shopify", "etsy", "amazon", "wholesale", "2023-01", "profile"):
        assert word in text
    assert "orders_export_1.csv: orders via shopify" in text


def test_existing_folder_needs_force(built: DemoResult) -> None:
    with pytest.raises(ConfigError, match="--force"):
        build_demo(built.directory, seed=SEED, n_customers=N)


def test_force_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ConfigError, match="not a levelfield demo|holds no levelfield demo"):
        build_demo(tmp_path, force=True, n_customers=N)
    assert (tmp_path / "notes.txt").read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"n_customers": 10}, "customers"),
        ({"n_customers": "many"}, "customers"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        build_demo(tmp_path / "d", **kwargs)  # type: ignore[arg-type]
    assert not (tmp_path / "d").exists()


def test_cli_builds_the_same_bytes_and_refuses_without_force(
    built: DemoResult, tmp_path: Path
) -> None:
    runner = CliRunner()
    target = tmp_path / "again"
    res = runner.invoke(app, ["demo", str(target), "--seed", str(SEED), "--customers", str(N)])
    assert res.exit_code == 0, res.output
    assert "Net revenue by channel" in res.output and "Tables:" in res.output
    # same seed -> byte-identical exports and manifest
    for p in sorted((built.directory / "exports").iterdir()):
        assert (target / "exports" / p.name).read_bytes() == p.read_bytes(), p.name
    assert (target / "manifest.json").read_bytes() == built.manifest.read_bytes()
    again = runner.invoke(app, ["demo", str(target), "--customers", str(N)])
    assert again.exit_code == 1
    assert "ConfigError" in again.output and "--force" in again.output
    assert "Traceback" not in again.output
