"""RFC 8785 JSON Canonicalization Scheme (JCS).

The bytes a log entry is hashed and signed over must not depend on who wrote the JSON:
keys are sorted by their UTF-16 code units, strings are escaped minimally, numbers are
written the way ECMAScript's ``Number.prototype.toString`` writes them, and there is no
whitespace. A browser reproduces the same bytes with ``JSON.stringify`` on sorted
objects, which is what the offline verifier page does.

References
----------
A. Rundgren, B. Jordan, S. Erdtman (2020). *JSON Canonicalization Scheme (JCS)*.
RFC 8785. https://www.rfc-editor.org/rfc/rfc8785
ECMA-262, section 7.1.12.1 *Number::toString*.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from levelfield.errors import DataError

__all__ = ["canonicalize", "es_number", "parse_canonical"]


def es_number(x: float) -> str:
    """A finite IEEE-754 double written as ECMAScript's ``Number::toString`` writes it.

    Python's ``repr`` already gives the shortest digit string that round-trips (the
    same digits ECMAScript requires); only the layout of exponent and point differs.
    """
    x = float(x)
    if not math.isfinite(x):
        raise DataError(f"{x!r} cannot be written in canonical JSON (RFC 8785 §3.2.2.3)")
    if x == 0:
        return "0"  # also -0, as ECMAScript does
    sign = "-" if x < 0 else ""
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    stripped = raw.lstrip("0")
    # value = 0.<digits> x 10^n, with digits having no leading or trailing zeros
    n = len(whole) + int(exp_text or 0) - (len(raw) - len(stripped))
    digits = stripped.rstrip("0")
    k = len(digits)
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        exp = f"e{'+' if e >= 0 else '-'}{abs(e)}"
        body = (digits if k == 1 else digits[0] + "." + digits[1:]) + exp
    return sign + body


def _string(s: str) -> str:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise DataError(
            f"string {s[:40]!r} holds a lone UTF-16 surrogate, which canonical JSON "
            "cannot represent (RFC 8785 §3.2.2.2); fix the text"
        ) from exc
    # json.dumps with ensure_ascii=False escapes exactly what RFC 8785 §3.2.2.2 asks:
    # \b \t \n \f \r \" \\ as two-character escapes, other controls as \u00xx.
    return json.dumps(s, ensure_ascii=False)


def _write(value: Any, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        as_float = float(value)
        if int(as_float) != value:
            raise DataError(
                f"{path}: integer {value} is not exactly representable as an IEEE-754 "
                "double (RFC 8785 §3.2.2.3); store it as a string"
            )
        out.append(es_number(as_float))
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise DataError(f"{path}: {value!r} is not allowed in canonical JSON")
        out.append(es_number(value))
    elif isinstance(value, Mapping):
        _write_object(value, out, path)
    elif isinstance(value, Sequence) and not isinstance(value, bytes | bytearray):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _write(item, out, f"{path}[{i}]")
        out.append("]")
    else:
        raise DataError(
            f"{path}: a {type(value).__name__} cannot be written as JSON; "
            "use strings, numbers, booleans, null, lists and objects"
        )


def _write_object(value: Mapping[Any, Any], out: list[str], path: str) -> None:
    for key in value:
        if not isinstance(key, str):
            raise DataError(f"{path}: object key {key!r} is not a string")
    # RFC 8785 §3.2.3: sort by UTF-16 code units; big-endian bytes compare the same way.
    keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    out.append("{")
    for i, key in enumerate(keys):
        if i:
            out.append(",")
        out.append(_string(key))
        out.append(":")
        _write(value[key], out, f"{path}.{key}")
    out.append("}")


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON value.

    Parameters
    ----------
    value
        ``None``, ``bool``, ``int`` (exactly representable as a double), finite
        ``float``, ``str``, mappings with string keys and sequences of these.

    Raises
    ------
    DataError
        NaN or infinity, a too-large integer, a lone surrogate, a non-string key or a
        value that is not JSON (the message gives the path, e.g. ``$.inputs[0]``).

    Examples
    --------
    Keys sorted by UTF-16 code units, numbers as ECMAScript prints them (RFC 8785):

    >>> canonicalize({"b": 1, "a": [1.0, "x"], "c": 1e21})
    b'{"a":[1,"x"],"b":1,"c":1e+21}'
    """
    out: list[str] = []
    _write(value, out, "$")
    return "".join(out).encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, item in pairs:
        if key in result:
            raise DataError(f"duplicate key {key!r} in JSON object")
        result[key] = item
    return result


def _reject_constant(name: str) -> Any:
    raise DataError(f"{name} is not allowed in canonical JSON")


def parse_canonical(text: str | bytes) -> Any:
    """Parse JSON that must already be in RFC 8785 canonical form.

    Numbers come back as ``float`` (JSON numbers are doubles), so ``1`` reads as ``1.0``.

    Raises
    ------
    DataError
        The text is not JSON, has duplicate keys or NaN, or is not canonical (then the
        same value serialises to other bytes, so a signature over it would not hold).
    """
    raw = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    try:
        value = json.loads(
            raw.decode("utf-8"),
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            # JSON numbers are IEEE-754 doubles (RFC 8785 §3.2.2.3), whatever their digits
            parse_int=float,
        )
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"not valid JSON: {exc}") from exc
    if canonicalize(value) != raw:
        raise DataError("JSON is valid but not in RFC 8785 canonical form")
    return value
