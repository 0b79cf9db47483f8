"""The named stages of the contacts and cooperation pages, each without a server."""

from __future__ import annotations

from pathlib import Path

from levelfield.errors import ConfigError, DataError
from levelfield.web._contacts import _attachment, _failure
from levelfield.web._cooperation import _failure_message
from levelfield.web._uploads import UploadTypeError


def test_contacts_failure_names_the_upload_masks_addresses_and_picks_the_status() -> None:
    tmp = "0f3a.contacts"
    code, message = _failure(
        DataError(f"{tmp} row 3: ann@example.com has no order id"), tmp, "orders.csv"
    )
    assert code == 422
    assert message == "DataError: orders.csv row 3: [e-mail] has no order id"
    assert _failure(UploadTypeError(f"{tmp} is a PDF"), tmp, "a.pdf") == (
        415,
        "UploadTypeError: a.pdf is a PDF",
    )
    other = DataError("orders.csv does not belong to this business")
    assert _failure(other, tmp, "orders.csv")[0] == 400
    assert _failure(ConfigError("unknown layout"), tmp, "orders.csv")[0] == 422


def test_contacts_attachment_is_a_csv_download_never_cached() -> None:
    r = _attachment(b"email\n", "at-risk", "klaviyo")
    assert r.body == b"email\n"
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="contacts-at-risk-klaviyo.csv"'
    assert r.headers["cache-control"] == "no-store"


def test_cooperation_failure_names_both_uploads_not_their_temporary_paths(
    tmp_path: Path,
) -> None:
    paths = {"purchases": tmp_path / "ab.purchases", "price_breaks": tmp_path / "ab.price_breaks"}
    names = {"purchases": "our-buys.csv", "price_breaks": "breaks.csv"}
    exc = DataError(
        f"{paths['purchases']} row 2: bob@shop.example bought -1; see {paths['price_breaks'].name}"
    )
    assert _failure_message(exc, paths, names) == (
        "DataError: our-buys.csv row 2: [e-mail] bought -1; see breaks.csv"
    )
