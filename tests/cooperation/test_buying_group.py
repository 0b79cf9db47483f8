"""Buying-group simulator: hand-computed examples, core checks, sampling, bad input, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

import levelfield.cooperation as coop
from levelfield.cli import app
from levelfield.cooperation import _cli as coop_cli
from levelfield.cooperation import buying_game, buying_group, shapley_exact, template_csv
from levelfield.cooperation._inputs import check_price_breaks, check_purchases
from levelfield.errors import DataError, InsufficientDataError, ParseError, SchemaError

runner = CliRunner()


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    import io

    return (
        pd.read_csv(io.StringIO(template_csv("purchases")), dtype=str),
        pd.read_csv(io.StringIO(template_csv("price_breaks")), dtype=str),
    )


def test_all_names_are_importable() -> None:
    for name in coop.__all__:
        assert hasattr(coop, name), name


def test_template_example_by_hand() -> None:
    """600 + 250 kg reach the 500 kg tier (20.40); Bean There reaches it alone too."""
    result = buying_group(*_frames())
    beans = result.items.set_index("item").loc["espresso beans 1 kg"]
    assert beans["pooled_volume"] == 850 and beans["tier"] == 2
    assert beans["tier_unit_price"] == pytest.approx(20.40)
    assert beans["today"] == pytest.approx(600 * 21.50 + 250 * 22.90)
    assert beans["saving"] == pytest.approx(600 * 21.50 + 250 * 22.90 - 850 * 20.40)
    m = result.members.set_index("member")
    # Alone: Bean There 600 x 20.40, Corner Bakery 250 x 22.90; the pooling gain
    # (12,240 + 5,725 - 17,340 = 625) is split equally by Shapley in a 2-member game.
    assert m.loc["Bean There Cafe", "alone"] == pytest.approx(12240)
    assert m.loc["Bean There Cafe", "shapley"] == pytest.approx(660 + 312.5)
    assert m.loc["Corner Bakery", "shapley"] == pytest.approx(312.5)
    assert m.loc["Corner Bakery", "proportional"] == pytest.approx(625 * 250 / 850)
    assert result.total_saving == pytest.approx(1285)
    for rule in ("proportional", "shapley", "nucleolus"):
        assert m[rule].sum() == pytest.approx(result.total_saving)
    assert result.summary()["in_core"] == {"proportional": True, "shapley": True, "nucleolus": True}


def _blocking_example() -> tuple[pd.DataFrame, pd.DataFrame]:
    purchases = pd.DataFrame(
        {
            "member": ["A", "B", "C"],
            "supplier": "S",
            "item": "flour",
            "annual_volume": [500, 500, 500],
            "unit_price": [8.5, 8.5, 12],
        }
    )
    breaks = pd.DataFrame(
        {"supplier": "S", "item": "flour", "min_volume": [0, 1000], "unit_price": [10, 8]}
    )
    return purchases, breaks


def test_proportional_split_outside_core_names_who_would_leave() -> None:
    """A and B have good own deals (8.50); C pays 12 (list 10 alone). Pooling gains:
    AB 500, AC = BC 1,250, ABC 1,500; the core is the single point (250, 250, 1,000)."""
    result = buying_group(*_blocking_example())
    summary = result.summary()
    assert summary["in_core"] == {"proportional": False, "shapley": False, "nucleolus": True}
    assert summary["core_nonempty"] is True
    assert sorted(summary["leave_under_proportional"]) in (["A", "C"], ["B", "C"])
    gain_over_alone = result.members["nucleolus"] - (
        result.members["today"] - result.members["alone"]
    )
    np.testing.assert_allclose(gain_over_alone, [250, 250, 1000], atol=1e-6)
    assert result.core["proportional"] is not None
    assert result.core["proportional"].max_gain == pytest.approx(250)


def _random_group(n: int, items: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = [
        (f"m{i:02d}", "S", f"item{j}", float(rng.integers(10, 200)), float(rng.uniform(9, 12)))
        for i in range(n)
        for j in range(items)
        if rng.random() < 0.7
    ]
    purchases = pd.DataFrame(
        rows, columns=["member", "supplier", "item", "annual_volume", "unit_price"]
    )
    breaks = pd.DataFrame(
        [
            ("S", f"item{j}", lo, price)
            for j in range(items)
            for lo, price in ((0, 11.0), (300, 10.0), (800, 9.0), (2000, 8.5))
        ],
        columns=["supplier", "item", "min_volume", "unit_price"],
    )
    return purchases, breaks


def test_coalition_costs_match_prefix_costs_and_plain_enumeration() -> None:
    purchases, breaks = _random_group(6, 4, seed=1)
    game = buying_game(check_purchases(purchases), check_price_breaks(breaks))
    costs = game.coalition_costs()
    perms = np.random.default_rng(0).permuted(np.tile(np.arange(6), (5, 1)), axis=1)
    prefix = game.prefix_costs(perms)
    masks = np.cumsum(1 << perms, axis=1)
    np.testing.assert_allclose(prefix, costs[masks])
    # plain evaluation of one coalition, item by item
    s = [0, 2, 5]
    expected = 0.0
    for j in range(len(game.items)):
        v = game.volume[s, j].sum()
        tiers = game.thresholds[j]
        price = game.prices[j, np.searchsorted(tiers, v, side="right") - 1]
        expected += min(v * price if v > 0 else 0.0, game.alone[s, j].sum())
    assert costs[0b100101] == pytest.approx(expected)


def test_sampled_shapley_for_large_groups_is_efficient_and_close_to_exact() -> None:
    purchases, breaks = _random_group(12, 5, seed=4)
    game = buying_game(check_purchases(purchases), check_price_breaks(breaks))
    exact = shapley_exact(game.coalition_costs())
    est = coop.shapley_sampled(game.prefix_costs, 12, permutations=3000, seed=2)
    assert est.value.sum() == pytest.approx(exact.sum())
    z = np.abs(est.value - exact) / np.maximum(est.standard_error, 1e-9)
    assert z.max() < 4.5


def test_more_than_20_members_uses_sampling_with_standard_errors() -> None:
    result = buying_group(*_random_group(23, 3, seed=9), permutations=300)
    assert result.shapley_method.startswith("sampled")
    assert result.shapley_se is not None and result.shapley_se.shape == (len(result.members),)
    assert len(result.members) > 20
    assert result.members["shapley"].sum() == pytest.approx(result.total_saving)
    assert result.core["shapley"] is None and result.members["nucleolus"].isna().all()


@pytest.mark.parametrize(
    ("column", "value", "error", "match"),
    [
        ("annual_volume", "12,5", ParseError, 'row 3, column "annual_volume"'),
        ("unit_price", "-1", ParseError, 'row 3, column "unit_price"'),
        ("member", "", DataError, 'row 3, column "member": empty'),
    ],
)
def test_bad_purchase_rows_are_named(column: str, value: str, error: type, match: str) -> None:
    purchases, breaks = _frames()
    purchases.loc[1, column] = value
    with pytest.raises(error, match=match):
        buying_group(purchases, breaks)


def test_bad_price_breaks_and_groups_are_refused() -> None:
    purchases, breaks = _frames()
    rising = breaks.copy()
    rising.loc[2, "unit_price"] = "30"
    with pytest.raises(DataError, match='row 4, column "unit_price"'):
        buying_group(purchases, rising)
    dup = breaks.copy()
    dup.loc[2, "min_volume"] = "500"
    with pytest.raises(DataError, match="second tier"):
        buying_group(purchases, dup)
    with pytest.raises(SchemaError, match="annual_volume"):
        buying_group(purchases.drop(columns="annual_volume"), breaks)
    with pytest.raises(InsufficientDataError, match="at least 2 members"):
        buying_group(purchases[purchases["member"] == "Corner Bakery"], breaks)


def _write(tmp_path: Path) -> tuple[Path, Path]:
    p, b = tmp_path / "purchases.csv", tmp_path / "price_breaks.csv"
    for path, kind in ((p, "purchases"), (b, "price_breaks")):
        out = runner.invoke(app, ["template", kind])
        assert out.exit_code == 0, out.output
        path.write_text(out.output)
    return p, b


def test_cli_buying_group_prints_a_meeting_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coop_cli, "console", Console(width=200))
    p, b = _write(tmp_path)
    out = runner.invoke(
        app, ["cooperate", "buying-group", "--purchases", str(p), "--price-breaks", str(b)]
    )
    assert out.exit_code == 0, out.output
    assert "Together you reach tier 2 for espresso beans 1 kg (Nordic Roast Supply)" in out.output
    assert "saving 1,285.00 a year" in out.output
    assert "Corner Bakery" in out.output and "312.50" in out.output
    assert "Suggested split: Shapley" in out.output


def test_cli_buying_group_errors_name_file_row_and_column(tmp_path: Path) -> None:
    p, b = _write(tmp_path)
    p.write_text(p.read_text().replace("250,22.90", "lots,22.90"))
    out = runner.invoke(
        app, ["cooperate", "buying-group", "--purchases", str(p), "--price-breaks", str(b)]
    )
    assert out.exit_code == 1
    assert "ParseError" in out.output and "purchases.csv row 3" in out.output
    assert "Traceback" not in out.output
    out = runner.invoke(
        app,
        [
            "cooperate",
            "buying-group",
            "--purchases",
            str(tmp_path / "nope.csv"),
            "--price-breaks",
            str(b),
        ],
    )
    assert out.exit_code == 1 and "no such" in " ".join(out.output.split())


def test_members_who_do_not_buy_an_item_cost_nothing_for_it() -> None:
    purchases, breaks = _random_group(5, 6, seed=3)
    game = buying_game(check_purchases(purchases), check_price_breaks(breaks))
    assert np.all(np.isfinite(game.alone))
    assert np.all(game.alone[game.volume == 0] == 0)
    assert np.all(np.isfinite(game.coalition_costs()))


def test_a_member_with_a_better_own_deal_is_named() -> None:
    purchases = pd.DataFrame(
        {
            "member": ["A", "B", "C"],
            "supplier": "S",
            "item": "flour",
            "annual_volume": [500, 500, 100],
            "unit_price": [10, 10, 7.5],
        }
    )
    breaks = pd.DataFrame(
        {"supplier": "S", "item": "flour", "min_volume": [0, 1000], "unit_price": [10, 8]}
    )
    result = buying_group(purchases, breaks)
    assert any(
        n.startswith("C pays 7.50 for flour (S), below the group's 8.00") for n in result.notes
    )


def test_no_matching_supplier_and_item_is_a_clear_error() -> None:
    purchases, breaks = _frames()
    breaks["supplier"] = "Someone Else"
    with pytest.raises(InsufficientDataError, match="spell supplier and item the same way"):
        buying_group(purchases, breaks)
