"""Exports verify offline; every kind of tampering fails and names the entry."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from levelfield.errors import DataError
from levelfield.provenance import (
    ProvenanceLog,
    build_export,
    render_export_html,
    verify_export,
    write_export_html,
)

from . import variants
from .conftest import T0


def test_good_export_verifies_with_and_without_the_published_key(
    export: dict[str, Any], plog: ProvenanceLog
) -> None:
    result = verify_export(export)
    assert result.ok and result.lot == "R1" and result.tree_size == 7
    assert result.summary().startswith("verified")
    assert verify_export(json.dumps(export), expected_key=plog.active_key()).ok
    indexes = [e["index"] for e in export["entries"]]
    assert indexes == [1, 2, 3, 4, 6]  # lots, certificate, roast, publication (not the shipment)
    assert json.loads(export["entries"][-1]["body"])["entries"] == [1, 2, 3, 4]


def test_changing_any_byte_of_any_entry_fails_and_names_it(export: dict[str, Any]) -> None:
    for position, item in enumerate(export["entries"]):
        body = item["body"]
        for at in range(len(body)):
            forged = copy.deepcopy(export)
            swapped = "0" if body[at] != "0" else "1"
            forged["entries"][position]["body"] = body[:at] + swapped + body[at + 1 :]
            result = verify_export(forged)
            assert not result.ok
            assert result.failures[0].entry == item["index"], (position, at)


def test_changing_any_proof_hash_fails_and_names_the_entry(export: dict[str, Any]) -> None:
    for position, item in enumerate(export["entries"]):
        for k in range(len(item["proof"])):
            forged = copy.deepcopy(export)
            h = forged["entries"][position]["proof"][k]
            forged["entries"][position]["proof"][k] = ("1" if h[0] != "1" else "2") + h[1:]
            failures = verify_export(forged).failures
            assert failures[0].entry == item["index"]
            assert all(f.entry in (item["index"], None) for f in failures)


def test_semantic_change_names_the_lot(export: dict[str, Any]) -> None:
    forged = variants.change_body(export, 1, '"country":"ET"', '"country":"KE"')
    (failure,) = verify_export(forged).failures
    assert str(failure) == (
        "entry #2: lot G2 is not in the signed log: its content or position was changed"
    )


def test_reordering_fails(export: dict[str, Any]) -> None:
    result = verify_export(variants.swap(export, 0, 1))
    assert str(result.failures[0]) == "entry #1: out of order (comes after entry #2)"
    # moving an entry's content to another position breaks both proofs
    forged = copy.deepcopy(export)
    a, b = forged["entries"][0], forged["entries"][1]
    a["body"], b["body"] = b["body"], a["body"]
    assert [f.entry for f in verify_export(forged).failures] == [1, 2]


@pytest.mark.parametrize("position", range(4))
def test_dropping_an_entry_fails_and_names_it(export: dict[str, Any], position: int) -> None:
    index = export["entries"][position]["index"]
    (failure,) = verify_export(variants.drop(export, position)).failures
    assert str(failure) == (
        f"entry #{index}: listed in the published record of lot R1 but missing from the file"
    )


def test_dropping_the_publication_fails(export: dict[str, Any]) -> None:
    (failure,) = verify_export(variants.drop(export, 4)).failures
    assert str(failure) == "the file has no publication entry for lot R1"


def test_resigning_fails_or_is_caught_by_the_published_key(
    export: dict[str, Any], plog: ProvenanceLog
) -> None:
    (failure,) = verify_export(variants.resign_keep_key(export)).failures
    assert "signature does not verify" in str(failure) and failure.entry is None
    forged, attacker = variants.resign_with_own_key(export)
    assert verify_export(forged).ok  # internally consistent: only the published key tells
    (failure,) = verify_export(forged, expected_key=plog.active_key()).failures
    assert str(failure).startswith(f"signed by key {attacker}, not by the expected key")


def test_rotated_key_is_accepted_through_its_endorsement(plog: ProvenanceLog) -> None:
    first = plog.active_key()
    second = plog.rotate_key(at=T0)
    export = build_export(plog, "R1")
    assert export["tree_head"]["key"] == second and len(export["key_chain"]) == 1
    assert verify_export(export, expected_key=first).ok
    assert verify_export(export, expected_key=second).ok
    forged = copy.deepcopy(export)
    forged["key_chain"][0]["signature"] = "00" * 64
    assert "key chain" in str(verify_export(forged, expected_key=first).failures[0])
    assert not verify_export(export, expected_key="ab" * 32).ok


def test_not_an_export_is_a_data_error() -> None:
    with pytest.raises(DataError):
        verify_export("{")
    with pytest.raises(DataError):
        verify_export({"format": "something else"})


def test_html_embeds_the_export_safely_and_writes_json_beside_it(
    export: dict[str, Any], tmp_path: Path
) -> None:
    forged = copy.deepcopy(export)
    forged["business"] = "</script><script>alert(1)</script>"
    html = render_export_html(forged)
    assert "</script><script>alert(1)" not in html
    assert "https://" not in html.split("<script", 1)[0].replace(export["url"], "")
    assert "<svg" in html  # the QR code, made locally
    page, data = write_export_html(export, tmp_path / "out" / "R1.html")
    assert json.loads(data.read_text()) == export
    assert "lf-export" in page.read_text()
