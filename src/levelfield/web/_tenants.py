"""Organizations' workspaces, their locks, background analysis runs and cached results."""

from __future__ import annotations

import inspect
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from levelfield.errors import ConfigError, LevelfieldError
from levelfield.report import KeyNumber, ReportData, build_report_data, key_numbers, render_report
from levelfield.web._store import Job, Org, Store
from levelfield.web._uploads import display_name
from levelfield.workspace import Workspace, open_workspace

__all__ = ["DEFAULT_KINDS", "ImportOutcome", "Settings", "Tenants"]

log = logging.getLogger(__name__)

#: What can be uploaded when the ingest package does not say (``levelfield.ingest.KINDS``).
DEFAULT_KINDS = (
    "orders",
    "order_lines",
    "products",
    "suppliers",
    "channels",
    "competitors",
    "costs",
    "pilots",
    "surveys",
    "automation",
    "business",
)


@dataclass(frozen=True)
class Settings:
    """Web app settings.

    Parameters
    ----------
    max_upload_mb
        Largest upload accepted, in megabytes (enforced while streaming; 413 beyond).
    session_days
        Lifetime of a login session, in days.
    login_failures_per_account, login_failures_per_ip
        Failed logins allowed within ``login_window_s`` seconds before further
        attempts are refused with 429.
    cookie_secure
        ``"auto"`` (Secure flag when the request came over HTTPS), ``"always"`` or
        ``"never"``.
    argon2_time_cost, argon2_memory_kib, argon2_parallelism
        Password hashing cost (argon2id): 3 passes over 64 MiB as argon2-cffi's
        defaults, but one lane (OWASP's minimums use one too): a guess costs an attacker
        the same, and one login takes one core instead of all of a small server's.
        Hashes made with other parameters are upgraded at the next login.
    hash_threads
        Passwords hashed at once (log in, sign up); 0 means half the CPU cores, at
        least 1, so a burst of logins leaves cores for the pages.
    allow_signup
        Whether anyone may create an account and organization.
    """

    max_upload_mb: float = 200.0
    session_days: float = 14.0
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 30
    login_window_s: float = 900.0
    cookie_secure: str = "auto"
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    argon2_parallelism: int = 1
    hash_threads: int = 0
    allow_signup: bool = True

    def __post_init__(self) -> None:
        if not self.max_upload_mb > 0:
            raise ConfigError(f"max_upload_mb must be positive, not {self.max_upload_mb}")
        if self.cookie_secure not in ("auto", "always", "never"):
            raise ConfigError(
                f"cookie_secure must be auto, always or never, not {self.cookie_secure!r}"
            )
        if self.login_failures_per_account < 1 or self.login_failures_per_ip < 1:
            raise ConfigError("login failure limits must be at least 1")
        if self.hash_threads < 0:
            raise ConfigError(
                f"hash_threads must be 0 (half the cores) or positive, not {self.hash_threads}"
            )

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1_000_000)


@dataclass(frozen=True)
class ImportOutcome:
    """What one upload did, for display and the API."""

    ok: bool
    kind: str
    source_name: str
    detected_type: str
    message: str
    profile: str = ""
    rows_in: int | None = None
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    rejects: tuple[dict[str, Any], ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> ImportOutcome:
        d = json.loads(text)
        d["rejects"] = tuple(d.get("rejects", ()))
        return cls(**d)


def _int_or_none(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload,no-any-return]
    except (TypeError, ValueError):
        return None


class Tenants:
    """Open workspaces per organization, one lock each, background runs and caches.

    Imports and analysis runs of one organization take its lock, so they never write
    the workspace at the same time; page requests read only the cached results.
    """

    def __init__(self, data_dir: Path, store: Store) -> None:
        self.data_dir = data_dir
        self.store = store
        self._workspaces: dict[str, Workspace] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._parsed: OrderedDict[tuple[str, float], ReportData] = OrderedDict()

    # -- paths and workspaces ----------------------------------------------------------
    def workspace_path(self, org_id: str) -> Path:
        return self.data_dir / "orgs" / org_id / "workspace.duckdb"

    def org_dir(self, org: Org) -> Path:
        return (self.data_dir / org.workspace).parent

    def report_path(self, org: Org) -> Path:
        return self.org_dir(org) / "report.html"

    def lock(self, org_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(org_id, threading.Lock())

    def workspace(self, org: Org) -> Workspace:
        """The organization's open workspace (opened once per process)."""
        with self._guard:
            ws = self._workspaces.get(org.org_id)
            if ws is None:
                ws = open_workspace(self.data_dir / org.workspace)
                self._workspaces[org.org_id] = ws
            return ws

    def adopt_workspace(self, org: Org, path: Path) -> None:
        """Point ``org`` at another workspace file (e.g. one the demo builder wrote)."""
        with self.lock(org.org_id), self._guard:
            old = self._workspaces.pop(org.org_id, None)
            if old is not None:
                old.close()
            self.store.set_workspace(org.org_id, str(path.relative_to(self.data_dir)))

    def close(self) -> None:
        for t in list(self._threads):
            t.join(timeout=60)
        with self._guard:
            for ws in self._workspaces.values():
                ws.close()
            self._workspaces.clear()

    # -- cached results ------------------------------------------------------------------
    def report_data(self, org_id: str) -> ReportData | None:
        """The cached result of the last successful run (parsed once per run)."""
        report_at, _ = self.store.cache_stamp(org_id)
        return self.report_data_at(org_id, report_at)

    def parsed_report_data(self, org_id: str, report_at: float | None) -> ReportData | None:
        """The result of the run stamped ``report_at`` if it is parsed already (no I/O)."""
        if report_at is None:
            return None
        key = (org_id, report_at)
        with self._guard:
            hit = self._parsed.get(key)
            if hit is not None:
                self._parsed.move_to_end(key)
            return hit

    def report_data_at(self, org_id: str, report_at: float | None) -> ReportData | None:
        """:meth:`report_data` for a known stamp (``Store.cache_stamp``)."""
        if report_at is None:
            return None
        hit = self.parsed_report_data(org_id, report_at)
        if hit is not None:
            return hit
        text, stored_at, _n, _nat = self.store.cache(org_id)
        if text is None or stored_at is None:
            return None
        data = ReportData.from_json(text)
        with self._guard:
            self._parsed[(org_id, stored_at)] = data
            while len(self._parsed) > 32:
                self._parsed.popitem(last=False)
        return data

    def cached_numbers(self, org: Org) -> tuple[KeyNumber, ...] | None:
        """The five numbers as of the latest import, or ``None`` when not computed yet."""
        text, _at = self.store.numbers_cache(org.org_id)
        return None if text is None else tuple(KeyNumber(**k) for k in json.loads(text))

    def numbers(self, org: Org) -> tuple[KeyNumber, ...]:
        """The five numbers as of the latest import (cached; computed on first need)."""
        nums = self.cached_numbers(org)
        if nums is not None:
            return nums
        with self.lock(org.org_id):
            return self.refresh_numbers(org)

    def refresh_numbers(self, org: Org) -> tuple[KeyNumber, ...]:
        """Recompute and cache the five numbers; call with the org's lock held."""
        ws = self.workspace(org)
        cur = ws.cursor()
        try:
            nums = key_numbers(ws, cur)
        finally:
            cur.close()
        self.store.set_numbers(org.org_id, json.dumps([asdict(k) for k in nums]))
        return nums

    # -- imports -------------------------------------------------------------------------
    @staticmethod
    def kinds() -> tuple[str, ...]:
        try:
            from levelfield import ingest
        except Exception:  # the ingest package mid-construction must not break the app
            return DEFAULT_KINDS
        kinds = getattr(ingest, "KINDS", None)
        return tuple(kinds) if kinds else DEFAULT_KINDS

    def import_upload(
        self, org: Org, kind: str, path: Path, source_name: str, detected_type: str
    ) -> ImportOutcome:
        """Import one uploaded file through ``levelfield.ingest.import_file``."""
        name = display_name(source_name)

        def failed(message: str) -> ImportOutcome:
            return ImportOutcome(False, kind, name, detected_type, message)

        try:
            from levelfield import ingest
        except Exception as exc:
            return failed(f"importing is unavailable: {exc}")
        import_file = getattr(ingest, "import_file", None)
        if not callable(import_file):
            return failed("importing files is not available in this version of levelfield yet")
        kwargs: dict[str, Any] = {}
        params = inspect.signature(import_file).parameters
        if "source_name" in params:
            kwargs["source_name"] = name
        if "progress" in params:
            kwargs["progress"] = lambda step, fraction: None
        with self.lock(org.org_id):
            ws = self.workspace(org)
            try:
                summary = import_file(ws, kind, path, **kwargs)
            except LevelfieldError as exc:
                return failed(f"{type(exc).__name__}: {exc}")
            outcome = self._outcome(ws, summary, kind, name, detected_type)
            self.refresh_numbers(org)
        return outcome

    @staticmethod
    def _outcome(
        ws: Workspace, summary: Any, kind: str, name: str, detected_type: str
    ) -> ImportOutcome:
        def get(key: str) -> Any:
            if isinstance(summary, dict):
                return summary.get(key)
            return getattr(summary, key, None)

        import_id = get("import_id")
        rejects: list[dict[str, Any]] = []
        if import_id is not None:
            cur = ws.cursor()
            try:
                rows = cur.execute(
                    'SELECT row_number, "column", value, reason FROM rejects WHERE import_id = ? '
                    "ORDER BY row_number LIMIT 50",
                    [import_id],
                ).fetchall()
            finally:
                cur.close()
            rejects = [{"row": r[0], "column": r[1], "value": r[2], "reason": r[3]} for r in rows]
        message = get("message")
        if not message and callable(getattr(summary, "describe", None)):
            message = summary.describe()
        loaded = _int_or_none(get("rows_loaded"))
        skipped = bool(get("skipped_duplicate") or get("skipped") or get("already_imported"))
        if not message:
            message = (
                "this file was imported before; nothing changed"
                if skipped
                else f"{loaded:,} rows loaded"
                if loaded is not None
                else "imported"
            )
        return ImportOutcome(
            ok=True,
            message=str(message),
            profile=str(get("profile") or ""),
            rows_in=_int_or_none(get("rows_in")),
            rows_loaded=loaded,
            rows_rejected=_int_or_none(get("rows_rejected")),
            rejects=tuple(rejects),
            kind=kind,
            source_name=name,
            detected_type=detected_type,
        )

    # -- background runs -----------------------------------------------------------------
    def start_run(self, org: Org, user_id: str | None) -> Job:
        """Start analysing ``org`` in a background thread (or return the running job)."""
        job, created = self.store.create_job(org.org_id, user_id)
        if created:
            t = threading.Thread(
                target=self._run, args=(org, job.job_id), name=f"levelfield-run-{job.job_id}"
            )
            t.daemon = True
            with self._guard:
                self._threads = [x for x in self._threads if x.is_alive()] + [t]
            t.start()
        return job

    def _run(self, org: Org, job_id: str) -> None:
        last = 0.0

        def progress(step: str, fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= 0.2:
                last = now
                self.store.update_job(job_id, status="running", step=step, fraction=fraction)

        self.store.update_job(
            job_id, status="running", step="waiting for the workspace", fraction=0.0
        )
        try:
            with self.lock(org.org_id):
                ws = self.workspace(org)
                data, _raw = build_report_data(ws, progress=progress, default_name=org.name)
                self.refresh_numbers(org)
            html = render_report(data)
            out = self.report_path(org)
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_text(html, encoding="utf-8")
            tmp.replace(out)
            self.store.set_report(org.org_id, data.to_json())
        except LevelfieldError as exc:
            self.store.update_job(
                job_id,
                status="failed",
                step="failed",
                fraction=1.0,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        except Exception as exc:  # the thread's boundary: record the bug instead of dying silently
            log.warning("analysis run %s failed: %r", job_id, exc, exc_info=True)
            self.store.update_job(
                job_id,
                status="failed",
                step="failed",
                fraction=1.0,
                error=f"internal error ({type(exc).__name__}: {exc}); please report this bug",
            )
            return
        done = sum(s.status == "done" for s in data.sections)
        self.store.update_job(
            job_id,
            status="done",
            step=f"{done} of {len(data.sections)} analyses done",
            fraction=1.0,
        )

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for background runs to finish (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        for t in list(self._threads):
            t.join(timeout=max(0.0, deadline - time.monotonic()))
