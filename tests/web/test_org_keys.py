"""Issue 16 item 13 in the web app: each org's pseudonym key is in the app's key folder."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient


def test_org_key_lives_in_the_app_data_dir_not_in_the_workspace(
    app_factory: Callable[..., TestClient], tmp_path: Path, key_dir: Path
) -> None:
    client = app_factory()
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    _user, org = st.sign_up("owner@example.com", secrets.token_urlsafe(16), "Shop")
    ws = st.tenants.workspace(org)
    key = ws.export_key().key
    assert ws.key_path.parent == tmp_path / "data" / "keys"
    assert ws.key_path.parent != key_dir  # not the user-wide folder of the CLI
    assert stat.S_IMODE(ws.key_path.stat().st_mode) == 0o600
    ws.con.execute("CHECKPOINT")
    assert key.encode() not in ws.path.read_bytes()
    assert ws.pseudonymize(["ann@example.com"])[0].startswith("c_")
