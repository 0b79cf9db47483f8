"""App state in one SQLite file (``DATA_DIR/app.sqlite3``).

SQLite rather than DuckDB because the web app's state is many tiny transactional
writes (sessions, login failures, job progress) from many threads; SQLite in WAL mode
does that well. Each thread keeps its own connection (opened on first use, reused by its
later calls, closed with the store), so no connection is shared between threads and a
page request does not pay for opening the database. Secrets (session ids, API tokens)
are stored only as SHA-256 hashes; passwords only as argon2 hashes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Job", "Membership", "Org", "SessionRow", "Store", "User", "hash_secret", "new_id"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    user_id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS orgs (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    workspace TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    user_id TEXT NOT NULL REFERENCES users(user_id),
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, org_id)
);
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,
    user_id TEXT,
    csrf TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    last_used_at REAL
);
CREATE TABLE IF NOT EXISTS login_failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS login_failures_key ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    user_id TEXT,
    status TEXT NOT NULL,
    step TEXT NOT NULL,
    fraction REAL NOT NULL,
    error TEXT,
    created_at REAL NOT NULL,
    finished_at REAL
);
CREATE INDEX IF NOT EXISTS jobs_org ON jobs (org_id, created_at);
CREATE TABLE IF NOT EXISTS org_cache (
    org_id TEXT PRIMARY KEY REFERENCES orgs(org_id),
    report_json TEXT,
    report_at REAL,
    numbers_json TEXT,
    numbers_at REAL
);
CREATE TABLE IF NOT EXISTS uploads (
    upload_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    user_id TEXT,
    kind TEXT NOT NULL,
    source_name TEXT NOT NULL,
    detected_type TEXT NOT NULL,
    status TEXT NOT NULL,
    summary_json TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS uploads_org ON uploads (org_id, created_at);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id);
CREATE TABLE IF NOT EXISTS devices (
    device_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(user_id),
    created_at REAL NOT NULL,
    last_used_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS invitations (
    invitation_hash TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs(org_id),
    created_by TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_by TEXT
);
"""


def _close_all(cons: list[sqlite3.Connection], lock: threading.Lock) -> None:
    with lock:
        for con in cons:
            con.close()
        cons.clear()


def hash_secret(secret: str) -> str:
    """SHA-256 hex of a high-entropy secret (session id, API token)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_id(nbytes: int = 12) -> str:
    """A random, URL-safe identifier (not guessable, so ids leak nothing)."""
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class User:
    user_id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class Org:
    org_id: str
    name: str
    workspace: str


@dataclass(frozen=True)
class Membership:
    org: Org
    role: str


@dataclass(frozen=True)
class SessionRow:
    session_hash: str
    user_id: str | None
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class Job:
    job_id: str
    org_id: str
    status: str
    step: str
    fraction: float
    error: str | None
    created_at: float
    finished_at: float | None

    @property
    def running(self) -> bool:
        return self.status in ("queued", "running")

    def created_iso(self) -> str:
        return dt.datetime.fromtimestamp(self.created_at, dt.UTC).isoformat()


class Store:
    """Users, organizations, sessions, tokens, jobs and caches, in SQLite."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)
            con.commit()
        finally:
            con.close()
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._closer = weakref.finalize(self, _close_all, self._opened, self._opened_lock)

    def _con(self) -> sqlite3.Connection:
        """This thread's connection (autocommit; transactions are explicit)."""
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            # check_same_thread=False only so that close() may close it from another
            # thread at shutdown; in use, each connection belongs to one thread.
            con = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            con.execute("PRAGMA busy_timeout=30000")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
            with self._opened_lock:
                self._opened.append(con)
        return con

    def close(self) -> None:
        """Close every thread's connection (at shutdown; later calls reopen)."""
        self._local = threading.local()
        _close_all(self._opened, self._opened_lock)

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on this thread's connection; commits, or rolls back on error."""
        con = self._con()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def _one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        cur = self._con().execute(sql, tuple(params))
        try:
            row = cur.fetchone()
        finally:
            cur.close()  # ends the statement, so no read transaction stays open
        return tuple(row) if row is not None else None

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._con().execute(sql, tuple(params)).fetchall()]

    # -- users and orgs ------------------------------------------------------------------
    def create_user_with_org(
        self, email: str, password_hash: str, org_name: str, workspace_for: Any
    ) -> tuple[User, Org]:
        """A new user owning a new organization; ``workspace_for(org_id)`` names its file.

        Raises ``sqlite3.IntegrityError`` when the e-mail is taken.
        """
        user = User(new_id(), email, password_hash)
        org_id = new_id(9)
        org = Org(org_id, org_name, str(workspace_for(org_id)))
        now = time.time()
        with self.connect() as con:
            con.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)", (user.user_id, email, password_hash, now)
            )
            con.execute(
                "INSERT INTO orgs VALUES (?, ?, ?, ?)", (org.org_id, org.name, org.workspace, now)
            )
            con.execute(
                "INSERT INTO memberships VALUES (?, ?, 'owner')", (user.user_id, org.org_id)
            )
        return user, org

    def add_member(self, user_id: str, org_id: str, role: str = "member") -> None:
        """Give ``user_id`` access to ``org_id`` (idempotent)."""
        with self.connect() as con:
            con.execute(
                "INSERT OR IGNORE INTO memberships VALUES (?, ?, ?)", (user_id, org_id, role)
            )

    def user_by_email(self, email: str) -> User | None:
        row = self._one("SELECT user_id, email, password_hash FROM users WHERE email = ?", [email])
        return User(*row) if row else None

    def user(self, user_id: str) -> User | None:
        row = self._one(
            "SELECT user_id, email, password_hash FROM users WHERE user_id = ?", [user_id]
        )
        return User(*row) if row else None

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE users SET password_hash = ? WHERE user_id = ?", (password_hash, user_id)
            )

    def memberships(self, user_id: str) -> list[Membership]:
        rows = self._all(
            "SELECT o.org_id, o.name, o.workspace, m.role FROM memberships m "
            "JOIN orgs o USING (org_id) WHERE m.user_id = ? ORDER BY o.created_at",
            [user_id],
        )
        return [Membership(Org(r[0], r[1], r[2]), r[3]) for r in rows]

    def membership(self, user_id: str, org_id: str) -> Membership | None:
        row = self._one(
            "SELECT o.org_id, o.name, o.workspace, m.role FROM memberships m "
            "JOIN orgs o USING (org_id) WHERE m.user_id = ? AND m.org_id = ?",
            [user_id, org_id],
        )
        return Membership(Org(row[0], row[1], row[2]), row[3]) if row else None

    def org(self, org_id: str) -> Org | None:
        row = self._one("SELECT org_id, name, workspace FROM orgs WHERE org_id = ?", [org_id])
        return Org(*row) if row else None

    def set_workspace(self, org_id: str, workspace: str) -> None:
        with self.connect() as con:
            con.execute("UPDATE orgs SET workspace = ? WHERE org_id = ?", (workspace, org_id))

    # -- sessions ------------------------------------------------------------------------
    def create_session(self, user_id: str | None, ttl_s: float) -> tuple[str, SessionRow]:
        """A new session; returns the cookie value (never stored) and the row."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        row = SessionRow(hash_secret(token), user_id, secrets.token_urlsafe(32), now + ttl_s)
        with self.connect() as con:
            con.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (row.session_hash, user_id, row.csrf, now, row.expires_at),
            )
            # Expired sessions are swept opportunistically.
            con.execute("DELETE FROM sessions WHERE expires_at < ?", (now,))
        return token, row

    def session(self, token: str) -> SessionRow | None:
        row = self._one(
            "SELECT session_hash, user_id, csrf, expires_at FROM sessions "
            "WHERE session_hash = ? AND expires_at > ?",
            [hash_secret(token), time.time()],
        )
        return SessionRow(*row) if row else None

    def session_user(self, token: str) -> tuple[SessionRow, User] | None:
        """The live session of cookie value ``token`` and its user, in one indexed query."""
        row = self._one(
            "SELECT s.session_hash, s.user_id, s.csrf, s.expires_at, u.email, u.password_hash "
            "FROM sessions s JOIN users u USING (user_id) "
            "WHERE s.session_hash = ? AND s.expires_at > ?",
            [hash_secret(token), time.time()],
        )
        if row is None:
            return None
        return SessionRow(*row[:4]), User(row[1], row[4], row[5])

    def delete_session(self, session_hash: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM sessions WHERE session_hash = ?", (session_hash,))

    def delete_user_sessions(self, user_id: str, keep: str | None = None) -> int:
        """End every session of ``user_id`` except ``keep`` (a session hash); how many ended."""
        with self.connect() as con:
            cur = con.execute(
                "DELETE FROM sessions WHERE user_id = ? AND session_hash IS NOT ?",
                (user_id, keep),
            )
            return int(cur.rowcount)

    # -- known devices (login back-off passes for them) ---------------------------------
    def add_device(self, user_id: str) -> str:
        """A new device token for ``user_id`` (returned once, stored hashed)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self.connect() as con:
            con.execute(
                "INSERT INTO devices VALUES (?, ?, ?, ?)", (hash_secret(token), user_id, now, now)
            )
        return token

    def device_user(self, token: str, max_age_s: float) -> str | None:
        """The user a device token belongs to, if it was used within ``max_age_s``."""
        row = self._one(
            "SELECT user_id FROM devices WHERE device_hash = ? AND last_used_at > ?",
            [hash_secret(token), time.time() - max_age_s],
        )
        return str(row[0]) if row else None

    def touch_device(self, token: str) -> None:
        with self.connect() as con:
            con.execute(
                "UPDATE devices SET last_used_at = ? WHERE device_hash = ?",
                (time.time(), hash_secret(token)),
            )

    def forget_devices(self, user_id: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM devices WHERE user_id = ?", (user_id,))

    # -- invitations ---------------------------------------------------------------------
    def create_invitation(self, org_id: str, created_by: str, ttl_s: float) -> str:
        """A one-use invitation to ``org_id``; returns its secret (stored hashed)."""
        token = secrets.token_urlsafe(24)
        now = time.time()
        with self.connect() as con:
            con.execute(
                "INSERT INTO invitations VALUES (?, ?, ?, 'member', ?, ?, NULL)",
                (hash_secret(token), org_id, created_by, now, now + ttl_s),
            )
        return token

    def invitation_org(self, token: str) -> Org | None:
        """The organization of an unused, unexpired invitation."""
        row = self._one(
            "SELECT o.org_id, o.name, o.workspace FROM invitations i JOIN orgs o USING (org_id) "
            "WHERE i.invitation_hash = ? AND i.expires_at > ? AND i.used_by IS NULL",
            [hash_secret(token), time.time()],
        )
        return Org(*row) if row else None

    def use_invitation(self, token: str, user_id: str) -> Org | None:
        """Spend the invitation for ``user_id`` and make them a member; ``None`` if spent."""
        with self.connect() as con:
            row = con.execute(
                "SELECT org_id, role FROM invitations WHERE invitation_hash = ? "
                "AND expires_at > ? AND used_by IS NULL",
                (hash_secret(token), time.time()),
            ).fetchone()
            if row is None:
                return None
            con.execute(
                "UPDATE invitations SET used_by = ? WHERE invitation_hash = ?",
                (user_id, hash_secret(token)),
            )
            con.execute(
                "INSERT OR IGNORE INTO memberships VALUES (?, ?, ?)", (user_id, row[0], row[1])
            )
        return self.org(str(row[0]))

    def create_user(self, email: str, password_hash: str) -> User:
        """A user without an organization (joins one by invitation).

        Raises ``sqlite3.IntegrityError`` when the e-mail is taken.
        """
        user = User(new_id(), email, password_hash)
        with self.connect() as con:
            con.execute(
                "INSERT INTO users VALUES (?, ?, ?, ?)",
                (user.user_id, email, password_hash, time.time()),
            )
        return user

    # -- login rate limiting -------------------------------------------------------------
    def failures(self, key: str, window_s: float) -> int:
        row = self._one(
            "SELECT count(*) FROM login_failures WHERE key = ? AND at > ?",
            [key, time.time() - window_s],
        )
        return int(row[0]) if row else 0

    def record_failure(self, *keys: str) -> None:
        now = time.time()
        with self.connect() as con:
            con.executemany("INSERT INTO login_failures VALUES (?, ?)", [(k, now) for k in keys])
            con.execute("DELETE FROM login_failures WHERE at < ?", (now - 86400,))

    def recent_failures(self, key: str, window_s: float) -> tuple[int, float]:
        """How many failures ``key`` had within ``window_s`` and when the last one was."""
        row = self._one(
            "SELECT count(*), coalesce(max(at), 0) FROM login_failures WHERE key = ? AND at > ?",
            [key, time.time() - window_s],
        )
        return (int(row[0]), float(row[1])) if row else (0, 0.0)

    def clear_failures(self, key: str) -> None:
        with self.connect() as con:
            con.execute("DELETE FROM login_failures WHERE key = ?", (key,))

    # -- API tokens ----------------------------------------------------------------------
    def create_token(self, user_id: str, name: str) -> tuple[str, str]:
        """A new API token; returns its id and the secret (shown once, stored hashed)."""
        token_id = new_id(6)
        secret = "lf_" + secrets.token_urlsafe(32)
        with self.connect() as con:
            con.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (token_id, user_id, name, hash_secret(secret), time.time()),
            )
        return token_id, secret

    def user_for_token(self, secret: str) -> User | None:
        row = self._one(
            "SELECT u.user_id, u.email, u.password_hash FROM api_tokens t "
            "JOIN users u USING (user_id) WHERE t.token_hash = ?",
            [hash_secret(secret)],
        )
        return User(*row) if row else None

    def tokens(self, user_id: str) -> list[tuple[str, str, float, float | None]]:
        return [
            (r[0], r[1], float(r[2]), r[3])
            for r in self._all(
                "SELECT token_id, name, created_at, last_used_at FROM api_tokens "
                "WHERE user_id = ? ORDER BY created_at",
                [user_id],
            )
        ]

    def delete_token(self, user_id: str, token_id: str) -> bool:
        with self.connect() as con:
            cur = con.execute(
                "DELETE FROM api_tokens WHERE user_id = ? AND token_id = ?", (user_id, token_id)
            )
            return cur.rowcount > 0

    # -- jobs ----------------------------------------------------------------------------
    _JOB_COLS = "job_id, org_id, status, step, fraction, error, created_at, finished_at"

    def create_job(self, org_id: str, user_id: str | None) -> tuple[Job, bool]:
        """A queued job for ``org_id``, or the one already queued/running (and ``False``)."""
        with self.connect() as con:
            row = con.execute(
                f"SELECT {self._JOB_COLS} FROM jobs WHERE org_id = ? "
                "AND status IN ('queued', 'running') ORDER BY created_at DESC LIMIT 1",
                (org_id,),
            ).fetchone()
            if row:
                return Job(*row), False
            job = Job(new_id(), org_id, "queued", "waiting to start", 0.0, None, time.time(), None)
            con.execute(
                f"INSERT INTO jobs ({self._JOB_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (job.job_id, org_id, job.status, job.step, 0.0, None, job.created_at, None),
            )
            con.execute("UPDATE jobs SET user_id = ? WHERE job_id = ?", (user_id, job.job_id))
        return job, True

    def update_job(
        self, job_id: str, *, status: str, step: str, fraction: float, error: str | None = None
    ) -> None:
        finished = time.time() if status in ("done", "failed", "interrupted") else None
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET status = ?, step = ?, fraction = ?, error = ?, finished_at = ? "
                "WHERE job_id = ?",
                (status, step, fraction, error, finished, job_id),
            )

    def job(self, org_id: str, job_id: str) -> Job | None:
        row = self._one(
            f"SELECT {self._JOB_COLS} FROM jobs WHERE org_id = ? AND job_id = ?", [org_id, job_id]
        )
        return Job(*row) if row else None

    def latest_job(self, org_id: str) -> Job | None:
        row = self._one(
            f"SELECT {self._JOB_COLS} FROM jobs WHERE org_id = ? ORDER BY created_at DESC LIMIT 1",
            [org_id],
        )
        return Job(*row) if row else None

    def interrupt_running_jobs(self) -> None:
        """Mark jobs left running by a previous process as interrupted."""
        with self.connect() as con:
            con.execute(
                "UPDATE jobs SET status = 'interrupted', error = 'the server restarted', "
                "finished_at = ? WHERE status IN ('queued', 'running')",
                (time.time(),),
            )

    # -- caches and uploads --------------------------------------------------------------
    def cache(self, org_id: str) -> tuple[str | None, float | None, str | None, float | None]:
        row = self._one(
            "SELECT report_json, report_at, numbers_json, numbers_at FROM org_cache "
            "WHERE org_id = ?",
            [org_id],
        )
        return (row[0], row[1], row[2], row[3]) if row else (None, None, None, None)

    def numbers_cache(self, org_id: str) -> tuple[str | None, float | None]:
        """The cached five numbers (JSON) and when they were computed, without the report."""
        row = self._one("SELECT numbers_json, numbers_at FROM org_cache WHERE org_id = ?", [org_id])
        return (row[0], row[1]) if row else (None, None)

    def cache_stamp(self, org_id: str) -> tuple[float | None, float | None]:
        row = self._one("SELECT report_at, numbers_at FROM org_cache WHERE org_id = ?", [org_id])
        return (row[0], row[1]) if row else (None, None)

    def set_report(self, org_id: str, report_json: str) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO org_cache (org_id, report_json, report_at) VALUES (?, ?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET report_json = excluded.report_json, "
                "report_at = excluded.report_at",
                (org_id, report_json, time.time()),
            )

    def set_numbers(self, org_id: str, numbers_json: str) -> None:
        with self.connect() as con:
            con.execute(
                "INSERT INTO org_cache (org_id, numbers_json, numbers_at) VALUES (?, ?, ?) "
                "ON CONFLICT (org_id) DO UPDATE SET numbers_json = excluded.numbers_json, "
                "numbers_at = excluded.numbers_at",
                (org_id, numbers_json, time.time()),
            )

    def add_upload(
        self,
        org_id: str,
        user_id: str | None,
        kind: str,
        source_name: str,
        detected_type: str,
        status: str,
        summary_json: str,
    ) -> str:
        upload_id = new_id(8)
        with self.connect() as con:
            con.execute(
                "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    upload_id,
                    org_id,
                    user_id,
                    kind,
                    source_name,
                    detected_type,
                    status,
                    summary_json,
                    time.time(),
                ),
            )
        return upload_id

    def uploads(self, org_id: str, limit: int = 20) -> list[dict[str, Any]]:
        rows = self._all(
            "SELECT upload_id, kind, source_name, detected_type, status, summary_json, created_at "
            "FROM uploads WHERE org_id = ? ORDER BY created_at DESC LIMIT ?",
            [org_id, limit],
        )
        keys = (
            "upload_id",
            "kind",
            "source_name",
            "detected_type",
            "status",
            "summary_json",
            "created_at",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def upload(self, org_id: str, upload_id: str) -> dict[str, Any] | None:
        """One upload of ``org_id`` (``None`` for another organization's upload)."""
        row = self._one(
            "SELECT upload_id, kind, source_name, detected_type, status, summary_json, created_at "
            "FROM uploads WHERE org_id = ? AND upload_id = ?",
            [org_id, upload_id],
        )
        if row is None:
            return None
        keys = (
            "upload_id",
            "kind",
            "source_name",
            "detected_type",
            "status",
            "summary_json",
            "created_at",
        )
        return dict(zip(keys, row, strict=True))

    def update_upload(
        self,
        org_id: str,
        upload_id: str,
        status: str,
        summary_json: str,
        *,
        detected_type: str | None = None,
    ) -> None:
        """Record the progress or result of an upload's import (and its sniffed type)."""
        with self.connect() as con:
            con.execute(
                "UPDATE uploads SET status = ?, summary_json = ?, "
                "detected_type = coalesce(?, detected_type) WHERE org_id = ? AND upload_id = ?",
                (status, summary_json, detected_type, org_id, upload_id),
            )
