"""Issue 16 item 13 in the web app: each org's pseudonym key is in the app's key folder."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
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


@pytest.mark.slow
def test_demo_org_key_is_found_by_the_web_app(
    app_factory: Callable[..., TestClient], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import functools

    import levelfield.demo
    from levelfield.web import create_demo

    real = levelfield.demo.build_demo

    @functools.wraps(real)
    def small(*args: Any, **kwargs: Any) -> Any:
        return real(*args, **{**kwargs, "n_customers": 150})

    monkeypatch.setattr(levelfield.demo, "build_demo", small)
    client = app_factory()
    acct = create_demo(client.app)
    assert acct.has_data, acct.message
    st: Any = client.app.state.lf  # type: ignore[attr-defined]
    org = next(m.org for m in st.store.memberships(st.store.user_by_email(acct.email).user_id))
    ws = st.tenants.workspace(org)
    assert ws.has_key
    assert ws.key_path.parent == tmp_path / "data" / "keys"
    st.tenants.wait()
