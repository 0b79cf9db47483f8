"""Organizations' workspaces, their locks, background analysis runs and cached results."""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from levelfield import ingest
from levelfield.errors import ConfigError, LevelfieldError, UnknownLayoutError
from levelfield.ingest import GENERIC_FIELDS, read_header
from levelfield.ingest import normalize_column_name as norm
from levelfield.report import KeyNumber, ReportData, build_report_data, key_numbers, render_report
from levelfield.web._store import Job, Org, Store
from levelfield.web._uploads import display_name
from levelfield.workspace import Workspace, open_workspace

__all__ = [
    "ImportOptions",
    "ImportOutcome",
    "MappingError",
    "Settings",
    "Tenants",
    "guess_fields",
    "parse_choice",
    "validate_mapping",
]

log = logging.getLogger(__name__)

#: A sales channel name given with a mapping: letters, digits, spaces, ``_`` and ``-``.
_CHANNEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _-]{0,39}")
#: Stored uploads are named by their upload id (``Store.add_upload``) and sniffed type.
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_STORED_TYPES = ("csv", "tsv", "txt", "xlsx", "xls", "parquet")
#: OWASP Password Storage Cheat Sheet (Argon2id): minimum memory (KiB) per time cost,
#: p = 1; its five rows "provide an equal level of defense".
OWASP_ARGON2_MIN_KIB = {1: 47104, 2: 19456, 3: 12288, 4: 9216, 5: 7168}


class MappingError(ConfigError):
    """A column mapping names an unknown field or column, or maps two columns to one field."""


def validate_mapping(
    mapping: Mapping[str, str], columns: tuple[str, ...] | None = None
) -> dict[str, str]:
    """``{column: field}`` with blank choices dropped, checked against the generic fields.

    Raises
    ------
    MappingError
        A field that is not one of ``GENERIC_FIELDS``, a column the file does not have
        (when ``columns`` is given), two columns mapped to one field, or nothing mapped.
    """
    out: dict[str, str] = {}
    by_field: dict[str, str] = {}
    for column, target in mapping.items():
        if not isinstance(column, str) or not isinstance(target, str):
            raise MappingError("a mapping pairs column names with field names, both text")
        fld = target.strip()
        if not fld:
            continue
        if fld not in GENERIC_FIELDS:
            raise MappingError(
                f"column {column!r}: {fld!r} is not an order field; choose one of "
                + ", ".join(GENERIC_FIELDS)
            )
        if columns is not None and column not in columns:
            raise MappingError(
                f"the file has no column {column!r}; its columns are {', '.join(columns)}"
            )
        if fld in by_field:
            raise MappingError(
                f"columns {by_field[fld]!r} and {column!r} are both mapped to {fld}; "
                "map each field from one column only"
            )
        by_field[fld] = column
        out[column] = fld
    if not out:
        raise MappingError(
            "map at least the order number (order_id), the date (ordered_at) and an amount "
            "(total, or quantity and unit_price)"
        )
    return out


def guess_fields(columns: tuple[str, ...]) -> dict[str, str]:
    """``{column: field}`` for columns named like a generic field or one of its aliases."""
    alias = {norm(a): f for f, al in GENERIC_FIELDS.items() for a in (f, *al)}
    out: dict[str, str] = {}
    for col in columns:
        fld = alias.get(norm(col)) or alias.get(norm(col).replace(" ", "_"))
        if fld is not None and fld not in out.values():
            out[col] = fld
    return out


def parse_choice(name: str, value: object) -> bool | None:
    """A yes/no/auto form value as ``True``/``False``/``None`` (auto: ingest decides)."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "auto"):
        return None
    if text in ("yes", "true", "1", "on"):
        return True
    if text in ("no", "false", "0", "off"):
        return False
    raise MappingError(f"{name} must be yes, no or auto, not {str(value)[:40]!r}")


@dataclass(frozen=True)
class ImportOptions:
    """How to read an upload that no platform profile recognises.

    Parameters
    ----------
    mapping
        ``{your column: generic field}``; a non-empty mapping imports with the generic
        profile.
    channel
        Sales channel for every order (e.g. ``wholesale``); ``None`` keeps ingest's.
    dayfirst, decimal_comma
        ``True``/``False``, or ``None`` to let ingest decide from the data.
    """

    mapping: Mapping[str, str] = field(default_factory=dict)
    channel: str | None = None
    dayfirst: bool | None = None
    decimal_comma: bool | None = None

    def __post_init__(self) -> None:
        if self.channel is not None and not _CHANNEL.fullmatch(self.channel):
            raise MappingError(
                f"channel {self.channel[:60]!r} must be 1-40 letters, digits, spaces, _ or -"
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
        Password hashing cost (argon2id). The default is one of the five rows OWASP's
        Password Storage Cheat Sheet gives as its minimum and calls equally strong
        (m = 46, 19, 12, 9 or 7 MiB with t = 1, 2, 3, 4 or 5, p = 1): m = 7 MiB,
        t = 5, the row that costs the least CPU here (about 22 ms of one core per
        hash against 32 ms for m = 19 MiB, t = 2, measured on 2 cores), so 20 people
        logging in at once on 2 quiet cores wait about a quarter of a second. Lower
        values are refused unless ``allow_weak_hashing`` (tests only). A hash made
        with other parameters is replaced at the account's next successful login.
    hash_threads
        Passwords hashed at once (log in, sign up); 0 means one per CPU core (argon2
        releases the GIL, and at 7 MiB a hash needs little memory).
    allow_signup
        Whether anyone may create an account and organization (``--no-signup``: only
        invitations from an organization's owner create accounts).
    login_backoff_s, login_backoff_max_s
        After ``login_failures_per_account`` failures of one account (or of one known
        device), each further attempt must wait ``login_backoff_s`` doubled per
        failure, at most ``login_backoff_max_s``. A device where the account logged in
        before is counted on its own, so failures elsewhere never lock its owner out.
    device_days
        How long a browser that logged in stays a known device of the account.
    signups_per_ip, signups_per_hour
        Sign-ups allowed per hour from one address and in total.
    trusted_proxies
        Addresses of reverse proxies whose ``X-Forwarded-For``/``-Proto`` headers are
        believed; empty (the default) means the client is the TCP peer.
    max_columns
        Most columns an uploaded table may have (refused beyond, before any parsing).
    uploads_per_org
        Uploads of one organization queued or importing at once; more get 429.
    import_workers
        Imports running at once across all organizations (each in its own thread).
    pending_upload_ttl_s
        Seconds an upload waiting for a column mapping is kept (encrypted) before it
        is deleted.
    max_open_workspaces
        Workspaces kept open at once; the least recently used idle one is closed.
    invitation_days
        Lifetime of an invitation link.
    allow_weak_hashing
        Accept argon2 parameters below OWASP's minimum (fast tests only).
    """

    max_upload_mb: float = 200.0
    session_days: float = 14.0
    login_failures_per_account: int = 5
    login_failures_per_ip: int = 30
    login_window_s: float = 900.0
    cookie_secure: str = "auto"
    argon2_time_cost: int = 5
    argon2_memory_kib: int = 7168
    argon2_parallelism: int = 1
    hash_threads: int = 0
    allow_signup: bool = True
    login_backoff_s: float = 2.0
    login_backoff_max_s: float = 900.0
    device_days: float = 90.0
    signups_per_ip: int = 5
    signups_per_hour: int = 200
    trusted_proxies: tuple[str, ...] = ()
    max_columns: int = 500
    uploads_per_org: int = 4
    import_workers: int = 2
    pending_upload_ttl_s: float = 3600.0
    max_open_workspaces: int = 32
    invitation_days: float = 7.0
    allow_weak_hashing: bool = False

    def __post_init__(self) -> None:
        if not self.max_upload_mb > 0:
            raise ConfigError(f"max_upload_mb must be positive, not {self.max_upload_mb}")
        if self.cookie_secure not in ("auto", "always", "never"):
            raise ConfigError(
                f"cookie_secure must be auto, always or never, not {self.cookie_secure!r}"
            )
        if self.login_failures_per_account < 1 or self.login_failures_per_ip < 1:
            raise ConfigError("login failure limits must be at least 1")
        if not self.allow_weak_hashing and (
            self.argon2_time_cost < 1
            or self.argon2_memory_kib < OWASP_ARGON2_MIN_KIB[min(self.argon2_time_cost, 5)]
        ):
            raise ConfigError(
                f"argon2 with t={self.argon2_time_cost}, m={self.argon2_memory_kib} KiB is "
                "below OWASP's minimum (m=19456 KiB with t=2, or m=12288 with t=3, ...)"
            )
        for name in ("max_columns", "uploads_per_org", "import_workers", "max_open_workspaces"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
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
    #: No profile matched: the owner can map ``columns`` to fields and import again.
    needs_mapping: bool = False
    columns: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str)

    @classmethod
    def from_json(cls, text: str) -> ImportOutcome:
        d = json.loads(text)
        d["rejects"] = tuple(d.get("rejects", ()))
        d["columns"] = tuple(d.get("columns", ()))
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

    def __init__(self, data_dir: Path, store: Store, max_open: int = 32) -> None:
        self.data_dir = data_dir
        self.store = store
        #: Workspaces kept open at once (each DuckDB holds threads and memory); the least
        #: recently used idle one is closed when another opens.
        self.max_open = max_open
        #: Pseudonym keys of the organizations' workspaces: the app's own folder, apart
        #: from the workspace files (a copied workspace alone does not re-identify).
        self.key_dir = data_dir / "keys"
        self._workspaces: OrderedDict[str, Workspace] = OrderedDict()
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

    def stored_upload_path(self, org: Org, upload_id: str, detected_type: str) -> Path:
        """Where an upload waiting for a column mapping is kept (named by its random id)."""
        if not _UPLOAD_ID.fullmatch(upload_id) or detected_type not in _STORED_TYPES:
            raise ConfigError(f"not a stored upload: {upload_id[:70]!r}")
        return self.org_dir(org) / "uploads" / f"{upload_id}.{detected_type}"

    def lock(self, org_id: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(org_id, threading.Lock())

    def workspace(self, org: Org) -> Workspace:
        """The organization's open workspace (kept open while recently used)."""
        with self._guard:
            ws = self._workspaces.get(org.org_id)
            if ws is None:
                ws = open_workspace(self.data_dir / org.workspace, key_dir=self.key_dir)
                self._workspaces[org.org_id] = ws
                self._close_idle(keep=org.org_id)
            else:
                self._workspaces.move_to_end(org.org_id)
            return ws

    def create_workspace(self, org: Org) -> None:
        """Create the organization's workspace file (and its key) without keeping it open."""
        open_workspace(self.data_dir / org.workspace, key_dir=self.key_dir).close()

    def open_count(self) -> int:
        with self._guard:
            return len(self._workspaces)

    def _close_idle(self, keep: str) -> None:
        """Close least recently used workspaces beyond ``max_open`` (call with the guard)."""
        for org_id in list(self._workspaces):
            if len(self._workspaces) <= self.max_open:
                return
            lock = self._locks.setdefault(org_id, threading.Lock())
            if org_id == keep or not lock.acquire(blocking=False):
                continue  # in use by an import or a run: stays open
            try:
                self._workspaces.pop(org_id).close()
            finally:
                lock.release()

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

    def numbers_if_idle(self, org: Org) -> tuple[KeyNumber, ...]:
        """:meth:`numbers` for requests: never waits for the organization's lock.

        While an import or analysis run holds it (they refresh the numbers when done),
        the answer is empty instead of a request thread waiting behind them.
        """
        nums = self.cached_numbers(org)
        if nums is not None:
            return nums
        lock = self.lock(org.org_id)
        if not lock.acquire(blocking=False):
            return ()
        try:
            return self.refresh_numbers(org)
        finally:
            lock.release()

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
        return tuple(ingest.KINDS)

    @staticmethod
    def upload_columns(path: Path) -> tuple[str, ...]:
        """The header of a stored upload, as ingest reads it (first sheet of a workbook)."""
        return read_header(path)

    def import_upload(
        self,
        org: Org,
        kind: str,
        path: Path,
        source_name: str,
        detected_type: str,
        options: ImportOptions | None = None,
    ) -> ImportOutcome:
        """Import one uploaded file through ``levelfield.ingest.import_file``.

        With ``options.mapping`` the file is read with the generic profile. When no
        profile matches an orders file, the outcome has ``needs_mapping`` and the file's
        ``columns`` so the owner can map them.
        """
        name = display_name(source_name)
        opts = options or ImportOptions()
        with self.lock(org.org_id):
            ws = self.workspace(org)
            try:
                summary = ingest.import_file(
                    ws,
                    kind,
                    path,
                    profile="generic" if opts.mapping else None,
                    mapping=dict(opts.mapping) if opts.mapping else None,
                    channel=opts.channel,
                    dayfirst=opts.dayfirst,
                    decimal_comma=opts.decimal_comma,
                )
            except LevelfieldError as exc:
                message = f"{type(exc).__name__}: {exc}"
                if kind == "orders" and isinstance(exc, UnknownLayoutError):
                    try:
                        columns = self.upload_columns(path)
                    except LevelfieldError:  # unreadable header: the first message says enough
                        columns = ()
                    if columns:
                        return ImportOutcome(
                            False,
                            kind,
                            name,
                            detected_type,
                            message,
                            needs_mapping=True,
                            columns=columns,
                        )
                return ImportOutcome(False, kind, name, detected_type, message)
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
