"""The OpenAPI schema fuzzed with schemathesis: no request makes the server fail (5xx)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from conftest import FAST, ORDERS_CSV, page_csrf, sign_up
from levelfield.web import create_app

TOKEN: dict[str, str] = {}


@pytest.fixture
def api_schema(tmp_path_factory: pytest.TempPathFactory, doubles: None) -> Iterator[Any]:
    app = create_app(Path(tmp_path_factory.mktemp("fuzz")) / "data", settings=FAST)
    with TestClient(app) as client:
        org = sign_up(client, "fuzz@x.com")
        client.post(
            f"/orgs/{org}/uploads",
            data={"kind": "orders"},
            files={"file": ("o.csv", ORDERS_CSV.encode(), "text/csv")},
            headers={"X-CSRF-Token": page_csrf(client, org), "HX-Request": "true"},
        )
        r = client.post(
            "/account/tokens", data={"name": "fuzz", "csrf_token": page_csrf(client, org)}
        )
        m = re.search(r'id="new-token">([^<]+)<', r.text)
        assert m
        TOKEN["value"] = m.group(1)
        TOKEN["org"] = org
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
        app.state.lf.tenants.wait()


@pytest.mark.slow
def test_api_never_fails_with_a_server_error(api_schema: Any) -> None:
    headers = {"Authorization": f"Bearer {TOKEN['value']}"}
    operations = [r.ok() for r in api_schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            response = case.call(headers=headers)
            case.validate_response(response, checks=[not_a_server_error])
            # again with the caller's own org, so the handlers themselves are exercised
            if case.path_parameters and "org_id" in case.path_parameters:
                case.path_parameters["org_id"] = TOKEN["org"]
                response = case.call(headers=headers)
                case.validate_response(response, checks=[not_a_server_error])

        fuzz()
