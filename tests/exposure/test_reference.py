"""The shipped reference tables: complete, sourced, dated, and their look-ups."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import levelfield.exposure as ex
from levelfield.errors import ConfigError, UnknownReferenceError

CONTRACTS = Path(__file__).resolve().parents[2] / "docs" / "contracts.md"
DATA = Path(ex.__file__).resolve().parents[1] / "data"


def _contract_profiles() -> set[str]:
    text = CONTRACTS.read_text(encoding="utf-8")
    section = text.split("### Fee profiles", 1)[1].split("##", 1)[0]
    return set(re.findall(r"`([a-z_]+)`", section)) - {"fee_profile"}


def test_fee_schedule_defines_every_contract_profile() -> None:
    profiles = _contract_profiles()
    assert len(profiles) == 19
    assert profiles <= set(ex.fee_schedule()["fee_profile"].astype(str))


def test_fee_schedule_rows_are_sourced_and_dated() -> None:
    s = ex.fee_schedule()
    real = s[s["fee_profile"] != "none"]
    assert real["source_url"].str.startswith("https://").all()
    assert real["as_of"].notna().all()
    assert s["checked_on"].notna().all()
    assert s["verification"].str.len().gt(10).all()
    assert ((s["percentage"] >= 0) & (s["percentage"] < 50)).all()
    assert s["base"].isin(["order_total", "merchandise_plus_shipping", "merchandise"]).all()


def test_fee_schedule_is_a_copy() -> None:
    s = ex.fee_schedule()
    s.loc[:, "percentage"] = 99.0
    assert ex.fee_schedule()["percentage"].max() < 50


def test_country_table_covers_smb_sourcing_countries_with_licence() -> None:
    t = ex.country_risk_table()
    need = (
        "ET CO BR GT VN ID CN DE US MX IN KE PE HN TR GB IT FR ES NL PL BD PK TH MY PH "
        "KR JP TW LK EG MA ZA NG GH CI UG TZ RW CR NI SV EC BO CL AR UY PT RO CZ HU UA CA "
        "AU NZ AE SA IL CH SE"
    )
    missing = set(need.split()) - set(t["country"].astype(str))
    assert not missing
    assert len(t) >= 200
    assert (t["year"] == 2023).all()
    assert ((t["risk"] >= 0) & (t["risk"] <= 100)).all()
    header = (DATA / "country_risk.csv").read_text(encoding="utf-8").splitlines()[:8]
    assert any("CC BY 4.0" in line for line in header)
    assert any("Worldwide Governance Indicators" in line for line in header)


def test_country_risk_is_100_minus_mean_rank() -> None:
    t = ex.country_risk_table().set_index("country")
    de = t.loc["DE"]
    expected = (
        100
        - (
            de["political_stability_pctrank"]
            + de["regulatory_quality_pctrank"]
            + de["rule_of_law_pctrank"]
        )
        / 3
    )
    assert de["risk"] == pytest.approx(expected)
    assert t.loc["ET", "risk"] > t.loc["DE", "risk"]


def test_country_risk_overrides() -> None:
    t = ex.country_risk_table({"vn": 40.0, "XX": 55.0}).set_index("country")
    assert t.loc["VN", "risk"] == 40.0
    assert t.loc["VN", "risk_source"] == "user"
    assert t.loc["XX", "risk"] == 55.0
    with pytest.raises(ConfigError, match="between 0 and 100"):
        ex.country_risk_table({"VN": 140.0})
    with pytest.raises(ConfigError, match="between 0 and 100"):
        ex.country_risk_table({"VN": float("nan")})


def test_normalize_countries_accepts_codes_and_names() -> None:
    assert ex.normalize_countries(["de", " VNM ", "Ethiopia", None, "", "COD", "XKX"]) == [
        "DE",
        "VN",
        "ET",
        None,
        None,
        "CD",
        "XK",
    ]


def test_unknown_country_lists_near_matches() -> None:
    with pytest.raises(UnknownReferenceError, match=r"'Germny'.*Germany \(DE\)") as info:
        ex.normalize_countries(["Germny", "DE"])
    assert "ISO 3166-1 alpha-2" in str(info.value)
    with pytest.raises(UnknownReferenceError, match="'XX'"):
        ex.normalize_countries(["XX"])
    with pytest.raises(KeyError):  # also a KeyError, as UnknownReferenceError promises
        ex.normalize_countries(["Narnia"])


def test_compliance_costs_are_cited_with_caveats() -> None:
    c = ex.compliance_costs()
    assert {"crain_crain_2014", "crain_crain_2010", "ec_2007_sme_burden"} <= set(c["study"])
    crain = c[c["study"] == "crain_crain_2014"].set_index("size_band")
    assert crain.loc["small", "cost_per_employee"] > crain.loc["large", "cost_per_employee"]
    assert crain.loc["small", "ratio_to_large"] == pytest.approx(
        crain.loc["small", "cost_per_employee"] / crain.loc["large", "cost_per_employee"], abs=0.01
    )
    assert c["caveat"].str.len().gt(10).all()
    assert (DATA / "README.md").exists()
    assert "Copeland" in (DATA / "compliance_costs.csv").read_text(encoding="utf-8")
