"""Accounts, sessions, CSRF tokens, login rate limiting and API tokens."""

from __future__ import annotations

import asyncio
import hmac
import math
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, ParamSpec, TypeVar

import argon2
from fastapi import Depends, HTTPException, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from levelfield.errors import AuthError, ConfigError
from levelfield.web._passwords import MIN_PASSWORD, check_password_policy
from levelfield.web._store import Membership, Org, SessionRow, Store, User, hash_secret
from levelfield.web._tenants import Settings, Tenants

__all__ = [
    "DEVICE_COOKIE",
    "MIN_PASSWORD",
    "SESSION_COOKIE",
    "AppState",
    "LoginRateLimitError",
    "LoginResult",
    "PageUser",
    "RateLimitError",
    "api_member",
    "api_user",
    "client_ip",
    "csrf_ok",
    "hashing_slots",
    "normalize_email",
    "page_member",
    "page_user",
]

SESSION_COOKIE = "lf_session"
DEVICE_COOKIE = "lf_device"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")

_P = ParamSpec("_P")
_T = TypeVar("_T")


class RateLimitError(AuthError):
    """Too many attempts (logins, sign-ups, uploads); wait and try again."""


class LoginRateLimitError(RateLimitError):
    """Too many failed logins for this account or address; wait and try again."""


def hashing_slots(settings: Settings) -> int:
    """How many passwords may be hashed at once: ``settings.hash_threads``, or one per core."""
    if settings.hash_threads > 0:
        return settings.hash_threads
    return max(1, os.cpu_count() or 2)


@dataclass(frozen=True)
class LoginResult:
    """A successful login: the user, and a new device token to set (``None``: keep)."""

    user: User
    new_device: str | None


@dataclass
class AppState:
    """What every request needs: settings, state store, tenants and the password hasher."""

    settings: Settings
    store: Store
    tenants: Tenants
    hasher: argon2.PasswordHasher
    #: argon2 is memory-hard and CPU-bound: at most ``hashing_slots`` hashes at a time
    #: (one per core by default), so a burst of logins queues instead of exhausting memory.
    hashing: threading.BoundedSemaphore = field(init=False)
    #: Threads for requests that hash a password (log in, sign up); requests waiting for
    #: one hold no worker thread of the app, so a login burst cannot starve browsing.
    hash_pool: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.hashing = threading.BoundedSemaphore(hashing_slots(self.settings))
        self.hash_pool = self._new_hash_pool()
        self._dummy_hash = str(self.hasher.hash(secrets.token_urlsafe(16)))

    def _new_hash_pool(self) -> ThreadPoolExecutor:
        return ThreadPoolExecutor(hashing_slots(self.settings), thread_name_prefix="lf-hash")

    async def in_hash_pool(
        self, func: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run ``func`` (which hashes a password) on the bounded hashing threads."""
        return await asyncio.wrap_future(self.hash_pool.submit(func, *args, **kwargs))

    def close(self) -> None:
        """Stop the hashing threads and close the store's connections (app shutdown).

        The app stays usable: a fresh pool takes over and connections reopen on use.
        """
        old, self.hash_pool = self.hash_pool, self._new_hash_pool()
        old.shutdown(wait=False, cancel_futures=True)
        self.store.close()

    # -- passwords -----------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        with self.hashing:
            return str(self.hasher.hash(password))

    def check_password(self, user: User | None, password: str) -> bool:
        """Verify in constant-ish time: an unknown user still costs one verification."""
        try:
            with self.hashing:
                self.hasher.verify(user.password_hash if user else self._dummy_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
        if user is None:
            return False
        if self.hasher.check_needs_rehash(user.password_hash):
            self.store.set_password_hash(user.user_id, self.hash_password(password))
        return True

    # -- accounts ------------------------------------------------------------------------
    def sign_up(self, email: str, password: str, org_name: str) -> tuple[User, Org]:
        """Create a user owning a new organization with its own workspace.

        For administrators and tests; the sign-up page uses :meth:`register`, which
        answers the same whether or not the address has an account.

        Raises
        ------
        ConfigError
            A bad e-mail, business name or password, or an e-mail that has an account.
        """
        email, org_name = self._check_new_account(email, password, org_name)
        try:
            user, org = self._create(email, password, org_name)
        except sqlite3.IntegrityError:
            raise ConfigError(
                "an account with this e-mail exists already; log in instead"
            ) from None
        return user, org

    def _check_new_account(self, email: str, password: str, org_name: str) -> tuple[str, str]:
        email = normalize_email(email)
        org_name = " ".join(org_name.split())[:120]
        if not org_name:
            raise ConfigError("give your business a name")
        check_password_policy(password, context=(email, org_name))
        return email, org_name

    def _create(self, email: str, password: str, org_name: str) -> tuple[User, Org]:
        user, org = self.store.create_user_with_org(
            email,
            self.hash_password(password),
            org_name,
            lambda org_id: self.tenants.workspace_path(org_id).relative_to(self.tenants.data_dir),
        )
        self.tenants.create_workspace(org)  # the file and its key now; opened on first use
        return user, org

    def register(self, email: str, password: str, org_name: str) -> bool:
        """The sign-up page: create the account unless the e-mail has one, silently.

        Both cases cost one password hash and answer alike, so the page does not tell
        who has an account. Returns whether an account was created (for logs and
        tests; never shown). Raises ``ConfigError`` for input that is invalid whoever
        asks (bad e-mail, weak password, no business name).
        """
        email, org_name = self._check_new_account(email, password, org_name)
        if self.store.user_by_email(email) is not None:
            self.hash_password(password)  # the same cost as creating the account
            return False
        try:
            self._create(email, password, org_name)
        except sqlite3.IntegrityError:  # created by a concurrent request
            return False
        return True

    def join(self, invitation: str, email: str, password: str) -> User:
        """Create an account that joins the invitation's organization (one use)."""
        email = normalize_email(email)
        org = self.store.invitation_org(invitation)
        if org is None:
            raise AuthError("this invitation was used, has expired or does not exist")
        check_password_policy(password, context=(email, org.name))
        try:
            user = self.store.create_user(email, self.hash_password(password))
        except sqlite3.IntegrityError:
            raise ConfigError(
                "this e-mail has an account already: log in and open the invitation again"
            ) from None
        if self.store.use_invitation(invitation, user.user_id) is None:
            raise AuthError("this invitation was used, has expired or does not exist")
        return user

    def change_password(self, user: User, current: str, new: str, keep_session: str) -> int:
        """Set a new password and end every other session of ``user``; how many ended."""
        if not self.check_password(user, current):
            raise AuthError("the current password is wrong")
        check_password_policy(new, context=(user.email,))
        self.store.set_password_hash(user.user_id, self.hash_password(new))
        return self.store.delete_user_sessions(user.user_id, keep=keep_session)

    def signup_allowed(self, ip: str) -> None:
        """Raise :class:`RateLimitError` when this address or everyone signed up too often."""
        s = self.settings
        if self.store.failures("signup-ip:" + ip, 3600) >= s.signups_per_ip or (
            self.store.failures("signup", 3600) >= s.signups_per_hour
        ):
            raise RateLimitError("too many sign-ups from here; try again in an hour")
        self.store.record_failure("signup-ip:" + ip, "signup")

    def log_in(self, email: str, password: str, ip: str, device: str | None) -> LoginResult:
        """The user for these credentials; raises on failure or while backing off.

        Failures count per account, except from a device where the account logged in
        before: those count per device, so an attacker elsewhere cannot lock the owner
        out. Per address (the TCP peer, or the proxy's word when it is trusted) a fixed
        number of failures is allowed per window.
        """
        s = self.settings
        email = email.strip().lower()
        ip_key = "ip:" + ip
        if self.store.failures(ip_key, s.login_window_s) >= s.login_failures_per_ip:
            raise LoginRateLimitError(
                f"too many failed logins from this address; wait {s.login_window_s / 60:.0f} "
                "minutes and try again"
            )
        user = self.store.user_by_email(email)
        known = (
            device is not None
            and user is not None
            and self.store.device_user(device, s.device_days * 86400) == user.user_id
        )
        key = "dev:" + hash_secret(device) if known and device else "acct:" + email
        wait = self._backoff_wait(key)
        if wait > 0:
            raise LoginRateLimitError(
                f"too many failed logins for this account; wait {math.ceil(wait)} seconds "
                "and try again"
            )
        if not self.check_password(user, password) or user is None:
            self.store.record_failure(key, ip_key)
            raise AuthError("wrong e-mail or password")
        self.store.clear_failures(key)
        if known and device:
            self.store.touch_device(device)
            return LoginResult(user, None)
        return LoginResult(user, self.store.add_device(user.user_id))

    def _backoff_wait(self, key: str) -> float:
        """Seconds ``key`` must still wait: none for the first failures, then doubling."""
        s = self.settings
        n, last = self.store.recent_failures(key, s.login_backoff_max_s * 2)
        if n < s.login_failures_per_account:
            return 0.0
        delay = min(
            s.login_backoff_s * 2.0 ** (n - s.login_failures_per_account), s.login_backoff_max_s
        )
        return max(0.0, last + delay - time.time())

    # -- sessions ------------------------------------------------------------------------
    def session(self, request: Request) -> SessionRow | None:
        token = request.cookies.get(SESSION_COOKIE)
        return self.store.session(token) if token else None

    def start_session(
        self, request: Request, response: Response, user_id: str | None
    ) -> SessionRow:
        """A fresh session (new id and CSRF token) set as the cookie on ``response``."""
        old = self.session(request)
        if old is not None:
            self.store.delete_session(old.session_hash)
        ttl = self.settings.session_days * 86400
        token, row = self.store.create_session(user_id, ttl)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(ttl),
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies(request),
            path="/",
        )
        return row

    def remember_device(self, request: Request, response: Response, token: str) -> None:
        """Set the known-device cookie (login back-off counts this browser on its own)."""
        response.set_cookie(
            DEVICE_COOKIE,
            token,
            max_age=int(self.settings.device_days * 86400),
            httponly=True,
            samesite="strict",
            secure=self.secure_cookies(request),
            path="/login",
        )

    def end_session(self, request: Request, response: Response) -> None:
        row = self.session(request)
        if row is not None:
            self.store.delete_session(row.session_hash)
        response.delete_cookie(
            SESSION_COOKIE,
            path="/",
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies(request),
        )

    def secure_cookies(self, request: Request) -> bool:
        mode = self.settings.cookie_secure
        return mode == "always" or (mode == "auto" and request.url.scheme == "https")


def client_ip(request: Request) -> str:
    """The client's address: the TCP peer, or what a trusted proxy said (see ``serve``)."""
    return request.client.host if request.client else "unknown"


def normalize_email(email: str) -> str:
    e = email.strip().lower()
    if not _EMAIL.match(e):
        raise ConfigError(f"{email.strip()[:80]!r} is not an e-mail address")
    return e


def state(request: Request) -> AppState:
    st: AppState = request.app.state.lf
    return st


def csrf_ok(session: SessionRow | None, token: str | None) -> bool:
    """Whether ``token`` is the session's CSRF token (synchronizer token pattern)."""
    if session is None or not token:
        return False
    return hmac.compare_digest(session.csrf.encode(), token.encode())


@dataclass(frozen=True)
class PageUser:
    user: User
    session: SessionRow


class LoginRequiredError(AuthError):
    """Raised by page dependencies; the app turns it into a redirect to /login."""


# The dependencies below run on the event loop: each is one indexed read of SQLite
# (WAL mode: readers never wait for writers) on the thread's open connection, cheaper
# than handing the request to a worker thread.
async def page_user(request: Request) -> PageUser:
    """The logged-in user of a page request (redirect to /login otherwise)."""
    token = request.cookies.get(SESSION_COOKIE)
    found = state(request).store.session_user(token) if token else None
    if found is None or found[0].user_id is None:
        raise LoginRequiredError
    return PageUser(found[1], found[0])


async def require_csrf(request: Request, pu: Annotated[PageUser, Depends(page_user)]) -> PageUser:
    """Check the CSRF token of an unsafe page request (header, else form field)."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        "application/x-www-form-urlencoded"
    ):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not csrf_ok(pu.session, token):
        raise HTTPException(403, "the form expired or did not come from this site; reload the page")
    return pu


async def page_member(
    org_id: str, pu: Annotated[PageUser, Depends(page_user)], request: Request
) -> Membership:
    """The user's membership of ``org_id``; 404 when there is none (no existence leak)."""
    m = state(request).store.membership(pu.user.user_id, org_id)
    if m is None:
        raise HTTPException(404, "no such organization")
    return m


bearer = HTTPBearer(auto_error=False, description="API token from Settings → API tokens")


async def api_user(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    """The user owning the request's bearer token; 401 otherwise."""
    if creds is None or not creds.credentials:
        raise HTTPException(401, "missing API token", headers={"WWW-Authenticate": "Bearer"})
    user = state(request).store.user_for_token(creds.credentials)
    if user is None:
        raise HTTPException(401, "invalid API token", headers={"WWW-Authenticate": "Bearer"})
    return user


async def api_member(
    org_id: str, user: Annotated[User, Depends(api_user)], request: Request
) -> Membership:
    m = state(request).store.membership(user.user_id, org_id)
    if m is None:
        raise HTTPException(404, "no such organization")
    return m
