"""From a multipart upload to an import result, without blocking anyone else.

The request handler only streams the body to a temporary file (413 beyond the limit)
and queues the import (:mod:`levelfield.web._queue`); every check that reads the file
(type sniffing, column count, the workbook guard) and the import itself run on the
import threads, never on the event loop or the app's shared thread pool. Uploads that
need a column mapping are kept encrypted (:mod:`levelfield.web._pending`).
"""

from __future__ import annotations

import asyncio
import functools
import json
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from levelfield.errors import DataError
from levelfield.ingest import GENERIC_FIELDS
from levelfield.web._auth import AppState, csrf_ok
from levelfield.web._pending import PendingUploads
from levelfield.web._queue import ImportQueue, QueueFullError
from levelfield.web._store import Membership, Org, SessionRow, new_id
from levelfield.web._tenants import (
    ImportOptions,
    ImportOutcome,
    MappingError,
    parse_choice,
    validate_mapping,
)
from levelfield.web._upload_guard import check_columns, looks_like_data, redact
from levelfield.web._uploads import UploadTypeError, display_name, sniff_type

__all__ = ["Queued", "UploadFlow"]

_CSRF_FAILED = "the form expired or did not come from this site; reload the page"


@dataclass(frozen=True)
class Queued:
    """An upload handed to the import queue: its id and the future of its result."""

    upload_id: str
    result: Future[tuple[ImportOutcome, int]]

    async def outcome(self) -> tuple[ImportOutcome, int]:
        """Wait for the import without holding a thread (outcome and HTTP status)."""
        return await asyncio.wrap_future(self.result)


class UploadFlow:
    """Receive, queue and import uploads; keep and expire those waiting for a mapping."""

    def __init__(self, st: AppState) -> None:
        self.st = st
        cfg = st.settings
        self.queue = ImportQueue(cfg.import_workers, cfg.uploads_per_org)
        self.pending = PendingUploads(cfg.pending_upload_ttl_s)
        self.tmp_dir = st.tenants.data_dir / "tmp"

    def close(self) -> None:
        self.queue.close()

    def sweep(self, *, everything: bool = False) -> int:
        """Delete expired pending uploads (all of them at start-up: the key is new)."""
        removed = self.pending.sweep(self.st.tenants.data_dir / "orgs", everything=everything)
        if everything and self.tmp_dir.is_dir():
            for leftover in self.tmp_dir.iterdir():
                leftover.unlink(missing_ok=True)
        return removed

    def _reserve(self, org_id: str) -> None:
        try:
            self.queue.reserve(org_id)
        except QueueFullError as exc:
            raise HTTPException(429, str(exc), headers={"Retry-After": "10"}) from None

    # -- receiving ------------------------------------------------------------------------
    async def receive(
        self, request: Request, m: Membership, user_id: str, session: SessionRow | None
    ) -> Queued:
        """Stream one multipart upload to disk and queue its import.

        ``session`` is the page session whose CSRF token the form must carry (``None``
        for API requests, which authenticate with a bearer token).
        """
        org_id = m.org.org_id
        self._reserve(org_id)  # before reading the body: a full queue costs nothing
        tmp: Path | None = None
        try:
            try:
                form = await request.form(max_files=1, max_fields=10)
            except MultiPartException as exc:
                raise HTTPException(400, f"the upload could not be read: {exc.message}") from None
            try:
                kind, options, upload = self._read_form(request, form, session)
                self.tmp_dir.mkdir(parents=True, exist_ok=True)
                # The client's filename is only displayed and recorded, never used as a path.
                tmp = self.tmp_dir / f"{new_id()}.upload"
                limit = self.st.settings.max_upload_bytes
                await run_in_threadpool(_copy_upload, upload, tmp, limit)
            finally:
                await form.close()
            source = display_name(upload.filename)
            placeholder = ImportOutcome(False, kind, source, "", "queued for import")
            upload_id = self.st.store.add_upload(
                org_id, user_id, kind, source, "", "queued", placeholder.to_json()
            )
            job = functools.partial(self._process, m.org, upload_id, kind, tmp, source, options)
            queued = Queued(upload_id, self.queue.submit(org_id, job))
            tmp = None  # the import thread owns it now
            return queued
        except BaseException:
            self.queue.release(org_id)
            raise
        finally:
            if tmp is not None:
                tmp.unlink(missing_ok=True)

    def _read_form(
        self, request: Request, form: Any, session: SessionRow | None
    ) -> tuple[str, ImportOptions | None, UploadFile]:
        if session is not None:
            token = request.headers.get("x-csrf-token")
            if token is None:
                value = form.get("csrf_token")
                token = value if isinstance(value, str) else None
            if not csrf_ok(session, token):
                raise HTTPException(403, _CSRF_FAILED)
        kind = form.get("kind")
        kinds = self.st.tenants.kinds()
        if not isinstance(kind, str) or kind not in kinds:
            raise HTTPException(
                422, f"choose what the file holds: kind must be one of {', '.join(kinds)}"
            )
        try:
            options = options_from_form(form, kind)
        except MappingError as exc:
            raise HTTPException(422, str(exc)) from None
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise HTTPException(422, "attach the export as the 'file' field")
        return kind, options, upload

    # -- importing (on an import thread) ------------------------------------------------------
    def _process(
        self,
        org: Org,
        upload_id: str,
        kind: str,
        tmp: Path,
        source: str,
        options: ImportOptions | None,
    ) -> tuple[ImportOutcome, int]:
        store = self.st.store
        try:
            store.update_upload(org.org_id, upload_id, "importing", _placeholder(kind, source))
            try:
                detected = sniff_type(tmp, source)
            except UploadTypeError as exc:
                return self._finish(
                    org, upload_id, ImportOutcome(False, kind, source, "", str(exc)), 415
                )
            try:
                check_columns(tmp, detected, source, self.st.settings.max_columns)
            except DataError as exc:  # too wide, or a hostile workbook: nothing was read
                text = f"{type(exc).__name__}: {exc}".replace(tmp.name, source)
                failed = ImportOutcome(False, kind, source, detected, text)
                return self._finish(org, upload_id, failed, 422)
            typed = tmp.with_suffix(f".{detected}")
            tmp.replace(typed)
            tmp = typed
            try:
                outcome = self.st.tenants.import_upload(org, kind, tmp, source, detected, options)
            except Exception:  # a bug: the upload must not stay "importing" for ever
                broken = ImportOutcome(
                    False, kind, source, detected, "internal error; please report this bug"
                )
                self._finish(org, upload_id, broken, 500)
                raise
            if outcome.needs_mapping:
                outcome = self._keep_for_mapping(org, upload_id, outcome, tmp)
            return self._finish(org, upload_id, outcome, 201 if outcome.ok else 400)
        finally:
            tmp.unlink(missing_ok=True)

    def _keep_for_mapping(
        self, org: Org, upload_id: str, outcome: ImportOutcome, path: Path
    ) -> ImportOutcome:
        """Keep the file encrypted for the mapping step, unless its header is data."""
        if looks_like_data(outcome.columns):
            return replace(
                outcome,
                needs_mapping=False,
                columns=(),
                message=f"{outcome.source_name}: the first row holds values (e-mail addresses, "
                "numbers or dates), not column names. Add a header row naming the columns "
                "(e.g. " + ", ".join(list(GENERIC_FIELDS)[:4]) + ") and upload it again",
            )
        dest = self.st.tenants.stored_upload_path(org, upload_id, outcome.detected_type)
        self.pending.seal(path, dest)
        return replace(
            outcome,
            message=f"{outcome.source_name}: no platform profile matched its "
            f"{len(outcome.columns)} columns; tell levelfield what each column holds",
        )

    def _finish(
        self, org: Org, upload_id: str, outcome: ImportOutcome, status: int
    ) -> tuple[ImportOutcome, int]:
        outcome = scrub(outcome)
        self.st.store.update_upload(
            org.org_id,
            upload_id,
            "ok" if outcome.ok else "failed",
            outcome.to_json(),
            detected_type=outcome.detected_type,
        )
        return outcome, status

    # -- the mapping step ------------------------------------------------------------------------
    def submit_mapping(
        self, org: Org, upload_id: str, row: dict[str, Any], options: ImportOptions
    ) -> Queued:
        """Queue the import of a kept upload with the owner's mapping."""
        self._reserve(org.org_id)
        try:
            job = functools.partial(self._import_kept, org, upload_id, row, options)
            return Queued(upload_id, self.queue.submit(org.org_id, job))
        except BaseException:
            self.queue.release(org.org_id)
            raise

    def _import_kept(
        self, org: Org, upload_id: str, row: dict[str, Any], options: ImportOptions
    ) -> tuple[ImportOutcome, int]:
        kept = self.st.tenants.stored_upload_path(org, upload_id, row["detected_type"])
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.tmp_dir / f"{new_id()}.{row['detected_type']}"
        previous = ImportOutcome.from_json(row["summary_json"])
        try:
            try:
                self.pending.open(kept, tmp)
            except DataError as exc:
                kept.unlink(missing_ok=True)
                gone = replace(previous, needs_mapping=False, columns=(), message=str(exc))
                return self._finish(org, upload_id, gone, 410)
            result = self.st.tenants.import_upload(
                org, row["kind"], tmp, row["source_name"], row["detected_type"], options
            )
        finally:
            tmp.unlink(missing_ok=True)
        if result.ok:
            kept.unlink(missing_ok=True)
            return self._finish(org, upload_id, result, 201)
        # Still waiting: keep the file and the columns so the owner can try other choices.
        waiting = replace(result, needs_mapping=True, columns=previous.columns)
        return self._finish(org, upload_id, waiting, 400)


def _placeholder(kind: str, source: str) -> str:
    return ImportOutcome(False, kind, source, "", "importing").to_json()


def scrub(outcome: ImportOutcome) -> ImportOutcome:
    """The outcome with e-mail addresses and phone numbers masked, as the app keeps it."""
    rejects = tuple(
        {
            **r,
            "value": None if r.get("value") is None else redact(str(r["value"])),
            "reason": redact(str(r.get("reason"))),
        }
        for r in outcome.rejects
    )
    return replace(outcome, message=redact(outcome.message), rejects=rejects)


def options_from_form(form: Any, kind: str) -> ImportOptions | None:
    """The API's optional ``mapping`` (JSON), ``channel``, ``dayfirst``, ``decimal_comma``."""
    values = {k: form.get(k) for k in ("mapping", "channel", "dayfirst", "decimal_comma")}
    for key, value in values.items():
        if value is not None and not isinstance(value, str):
            raise MappingError(f"{key} must be a text field, not a file")
    if all(v is None or not v.strip() for v in values.values()):
        return None
    mapping: dict[str, str] = {}
    raw = (values["mapping"] or "").strip()
    if raw:
        if kind != "orders":
            raise MappingError(f"a column mapping applies to orders uploads only, not {kind}")
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise MappingError(
                'mapping must be a JSON object of column to field, e.g. {"Invoice No": '
                '"order_id", "Date": "ordered_at"}'
            )
        mapping = validate_mapping(parsed)
    channel = (values["channel"] or "").strip() or None
    return ImportOptions(
        mapping=mapping,
        channel=channel,
        dayfirst=parse_choice("dayfirst", values["dayfirst"]),
        decimal_comma=parse_choice("decimal_comma", values["decimal_comma"]),
    )


def _copy_upload(upload: UploadFile, dest: Path, limit: int) -> None:
    upload.file.seek(0)
    written = 0
    with dest.open("wb") as out:
        while chunk := upload.file.read(1 << 20):
            written += len(chunk)
            if written > limit:
                raise HTTPException(
                    413, f"the file is larger than the limit of {limit / 1e6:,.0f} MB"
                )
            out.write(chunk)
