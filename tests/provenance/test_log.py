"""The workspace log: appends, mass balance, lineage, keys, rotation and audit."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from levelfield import Workspace
from levelfield.errors import ConfigError, DataError, UnknownReferenceError, WorkspaceError
from levelfield.provenance import (
    ProvenanceLog,
    certificate_entry,
    lineage,
    lot_entry,
    lot_rows,
    shipment_entry,
    transformation_entry,
    verify_inclusion,
)

from .conftest import T0


def test_entries_are_canonical_hashed_and_signed(plog: ProvenanceLog) -> None:
    entries = plog.entries()
    assert [e.kind for e in entries] == [
        "key",
        "lot",
        "lot",
        "certificate",
        "transformation",
        "shipment",
    ]
    assert [e.body["seq"] for e in entries] == list(range(6))
    tree = plog.tree()
    for e in entries:
        assert verify_inclusion(
            e.leaf_hash, e.seq, tree.size, tree.inclusion_proof(e.seq), tree.root()
        )
    head = plog.latest_head()
    assert head is not None and head.size == 6 and head.root == tree.root()
    assert plog.audit() == []


def test_private_key_lives_outside_the_workspace_owner_only(
    plog: ProvenanceLog, pws: Workspace
) -> None:
    files = list(plog.key_dir.iterdir())
    assert plog.key_dir == pws.key_path.parent / f"{pws.workspace_id}.provenance"
    assert len(files) == 1 and not plog.key_dir.is_relative_to(Path(pws.path).parent)
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    stored = " ".join(str(r) for r in pws.con.execute("SELECT * FROM provenance_keys").fetchall())
    assert "PRIVATE" not in stored and files[0].read_text().split("\n")[1] not in stored


def test_lineage_reaches_every_input_lot_and_certificate(plog: ProvenanceLog) -> None:
    record = lineage([e.body for e in plog.entries()], "R1")
    assert record.lots == ("R1", "G1", "G2")
    assert dict(record.certificates) == {"FT-77": ("G1",)}
    assert record.entries == (1, 2, 3, 4)
    assert record.documented and {o["country"] for o in record.origins.values()} == {"CO", "ET"}
    assert "CO, ET" in record.summary()
    assert list(record.to_frame()["lot"]) == ["R1", "G1", "G2"]
    with pytest.raises(UnknownReferenceError):
        lineage([e.body for e in plog.entries()], "nope")
    rows = lot_rows([e.body for e in plog.entries()]).set_index("lot")
    assert rows.loc["G1", "used"] == 30 and rows.loc["R1", "used"] == 10
    assert rows.loc["R1", "made_by"] == "roast" and rows.loc["G1", "certificates"] == "FT-77"


def test_mass_balance_and_references_refuse_and_leave_the_log_unchanged(
    plog: ProvenanceLog, cert_file: Path
) -> None:
    before = plog.size, len(plog.heads())
    bad = [
        [shipment_entry("R1", "shop", 33, "2025-03-04")],  # only 32 kg left
        [transformation_entry("roast", {"G9": 1}, "R2", "x", 1, "kg", "2025-03-02")],
        [lot_entry("G1", "again", 1, "kg", "2025-03-01")],
        [certificate_entry("FT-78", "Organic", cert_file, ["nope"])],
        [certificate_entry("FT-77", "Fairtrade", cert_file, ["G1"])],
        [
            lot_entry("G5", "ok", 1, "kg", "2025-03-01"),
            shipment_entry("G5", "shop", 2, "2025-03-02"),
        ],
    ]
    for bodies in bad:
        with pytest.raises(DataError):
            plog.add(bodies)
        assert (plog.size, len(plog.heads())) == before
    with pytest.raises(ConfigError):
        lot_entry("G6", "x", -1, "kg", "2025-01-01")
    with pytest.raises(ConfigError):
        lot_entry("G6", "x", 1, "kg", "01/02/2025")
    with pytest.raises(ConfigError):
        certificate_entry("C", "x", cert_file.with_name("missing.pdf"), ["G1"])


def test_rotation_keeps_old_heads_verifiable_and_endorses_the_new_key(plog: ProvenanceLog) -> None:
    old = plog.active_key()
    new = plog.rotate_key(at=T0)
    plog.add([shipment_entry("R1", "cafe", 5, "2025-03-05")], at=T0)
    keys = {h.key for h in plog.heads()}
    assert keys == {old, new} and plog.active_key() == new
    assert plog.audit() == []
    chain = plog.key_chain(new)
    assert len(chain) == 1 and json.loads(chain[0]["statement"])["from"] == old
    rotation = [e for e in plog.entries() if e.kind == "key"][-1]
    assert rotation.body["replaces"] == old and rotation.body["fingerprint"] == new


def test_audit_names_a_changed_entry_and_a_rewritten_history(
    plog: ProvenanceLog, pws: Workspace
) -> None:
    body = pws.con.execute("SELECT body FROM provenance_entries WHERE seq = 2").fetchall()[0][0]
    pws.con.execute(
        "UPDATE provenance_entries SET body = ? WHERE seq = 2", [body.replace("ET", "KE")]
    )
    problems = plog.audit()
    assert problems[0] == "entry #2: content changed after it was logged"
    assert any("tree head of size" in p and "changed, dropped or moved" in p for p in problems)


def test_missing_key_file_is_a_clear_error(plog: ProvenanceLog) -> None:
    for f in plog.key_dir.iterdir():
        f.unlink()
    with pytest.raises(WorkspaceError, match="LEVELFIELD_KEY_DIR"):
        plog.add([shipment_entry("R1", "shop", 1, "2025-03-04")])
