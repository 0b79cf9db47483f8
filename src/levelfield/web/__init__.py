"""The levelfield web app: accounts, organizations as tenants, uploads, dashboards, API.

FastAPI + Jinja2 + HTMX (vendored in ``static/``), served by Uvicorn. App state (users,
organizations, memberships, sessions, hashed API tokens, login failures, jobs and cached
results) lives in one SQLite file, ``DATA_DIR/app.sqlite3``; each organization has its
own DuckDB workspace under ``DATA_DIR/orgs/<org id>/``. Dashboards read the results
cached by the last background run; they never recompute an analysis per request.

Use :func:`create_app` to embed the app and :func:`serve` to run it
(``levelfield serve``).
"""

from levelfield.web._app import create_app
from levelfield.web._serve import DemoAccount, create_demo, serve, uvicorn_config
from levelfield.web._tenants import Settings
from levelfield.web._uploads import UploadTypeError, sniff_type

__all__ = [
    "DemoAccount",
    "Settings",
    "UploadTypeError",
    "create_app",
    "create_demo",
    "serve",
    "sniff_type",
    "uvicorn_config",
]
