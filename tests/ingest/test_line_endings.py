"""Issue 16 item 12: a CSV whose lines end in a mix of CRLF and LF is read, not refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from ingest_helpers import counts

from levelfield import Workspace
from levelfield.ingest import _read, import_file

HEADER = b"order_id,ordered_at,email,product,quantity,unit_price\r\n"


def test_mixed_crlf_and_lf_lines_are_all_imported(ws: Workspace, tmp_path: Path) -> None:
    rows = [
        b"1,2024-01-01,a@x.org,Tea,1,3.00\r\n",
        b"2,2024-01-02,b@x.org,Mug,1,4.50\n",
        b'3,2024-01-03,c@x.org,"Gift box\nwith note",1,5.00\r\n',
        b"4,2024-01-04,d@x.org,Tea,1,6.00\n",
        b"5,2024-01-05,e@x.org,Tea,1,7.00",
    ]
    f = tmp_path / "mixed.csv"
    f.write_bytes(HEADER + b"".join(rows))
    s = import_file(ws, "orders", f)
    assert (s.rows_in, s.rows_loaded, s.rows_rejected) == (5, 5, 0)
    assert ws.con.execute("SELECT sum(gross) FROM orders").fetchall()[0][0] == 25.5
    products = {r[0] for r in ws.con.execute("SELECT product FROM order_lines").fetchall()}
    assert "Gift box\nwith note" in products


def test_crlf_split_across_read_chunks(
    ws: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A CRLF cut in two by the streamed pass is still one line end.
    monkeypatch.setattr(_read, "_CHUNK", 7)
    f = tmp_path / "mixed.csv"
    body = b"".join(
        f"{i},2024-01-{i:02d},c{i}@x.org,Tea,1,{i}.00".encode() + (b"\r\n" if i % 3 else b"\n")
        for i in range(1, 29)
    )
    f.write_bytes(HEADER + body)
    before = counts(ws)["orders"]
    s = import_file(ws, "orders", f)
    assert s.rows_loaded == 28
    assert counts(ws)["orders"] == before + 28


def test_plain_crlf_file_is_read_in_place(tmp_path: Path) -> None:
    f = tmp_path / "crlf.csv"
    f.write_bytes(
        HEADER + b"1,2024-01-01,a@x.org,Tea,1,3.00\r\n2,2024-01-02,b@x.org,Tea,1,3.00\r\n"
    )
    src = _read.open_source(f)
    try:
        assert src.tmpdir is None  # no copy for a file with one kind of line end
        assert src.encoding == "utf-8"
    finally:
        src.cleanup()
