"""One exception hierarchy for levelfield.

Every error a user can cause derives from :class:`LevelfieldError` and from the builtin
it refines, so callers may catch either::

    LevelfieldError(Exception)
    ├── ConfigError(LevelfieldError, ValueError)         bad option or parameter
    ├── DataError(LevelfieldError, ValueError)           bad or unusable input data
    │   ├── SchemaError(DataError)                       missing/duplicate/unknown columns
    │   │   └── UnknownLayoutError(SchemaError)          no profile fits; columns need a map
    │   ├── ParseError(DataError)                        a value that cannot be parsed
    │   ├── AmbiguousDateError(ParseError)               day/month order undecidable
    │   ├── RejectThresholdError(DataError)              too many bad rows in an import
    │   ├── LimitExceededError(DataError)                file beyond a size limit (hostile?)
    │   ├── InsufficientDataError(DataError)             too little data for a model
    │   │   └── InsufficientPriceVariation(InsufficientDataError)
    │   └── UnknownReferenceError(DataError, KeyError)   unknown country, channel, ...
    ├── WorkspaceError(LevelfieldError, RuntimeError)    cannot open/migrate a workspace
    ├── NotFittedError(LevelfieldError, AttributeError)  model used before ``fit``
    ├── AuthError(LevelfieldError, PermissionError)      web: authentication/authorization
    └── ModelError(LevelfieldError, RuntimeError)        numerical failure in a model

Warnings::

    LevelfieldWarning(UserWarning)
    ├── ConvergenceWarning        optimizer did not converge
    ├── SmallSampleWarning        result rests on few observations
    └── DataQualityWarning        data were repaired or assumptions applied (with a note)

Messages say what is wrong, where (file, row, column, count) and how to fix it.
"""

from __future__ import annotations

__all__ = [
    "AmbiguousDateError",
    "AuthError",
    "ConfigError",
    "ConvergenceWarning",
    "DataError",
    "DataQualityWarning",
    "InsufficientDataError",
    "InsufficientPriceVariation",
    "LevelfieldError",
    "LevelfieldWarning",
    "LimitExceededError",
    "ModelError",
    "NotFittedError",
    "ParseError",
    "RejectThresholdError",
    "SchemaError",
    "SmallSampleWarning",
    "UnknownLayoutError",
    "UnknownReferenceError",
    "WorkspaceError",
]


class LevelfieldError(Exception):
    """Base class of every error levelfield raises on purpose."""


class ConfigError(LevelfieldError, ValueError):
    """An option or parameter is invalid (e.g. a negative horizon)."""


class DataError(LevelfieldError, ValueError):
    """Input data are malformed or unusable."""


class SchemaError(DataError):
    """Columns are missing, duplicated or not recognised."""


class UnknownLayoutError(SchemaError):
    """No platform profile matches the header and the columns need a mapping."""


class ParseError(DataError):
    """A value cannot be parsed as the type its column needs."""


class AmbiguousDateError(ParseError):
    """Day/month order cannot be decided from the whole column."""


class RejectThresholdError(DataError):
    """More rows were rejected than the import allows."""


class LimitExceededError(DataError):
    """A file is larger than a configured limit (cells, rows, unpacked size, memory).

    The message names the file, the limit and the setting that raises it.
    """


class InsufficientDataError(DataError):
    """There is too little data to fit or estimate what was asked."""


class InsufficientPriceVariation(InsufficientDataError):  # noqa: N818 (name from the issue)
    """A product's price never moved enough to learn its elasticity from."""


class UnknownReferenceError(DataError, KeyError):
    """A name (country, channel, platform, shock) is not known."""

    def __str__(self) -> str:
        # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class WorkspaceError(LevelfieldError, RuntimeError):
    """A workspace cannot be created, opened or migrated."""


class NotFittedError(LevelfieldError, AttributeError):
    """A model was used before ``fit`` was called."""


class AuthError(LevelfieldError, PermissionError):
    """Authentication failed or the user may not access a resource."""


class ModelError(LevelfieldError, RuntimeError):
    """A numerical procedure failed in a way the user cannot fix by changing input."""


class LevelfieldWarning(UserWarning):
    """Base class of levelfield's warnings."""


class ConvergenceWarning(LevelfieldWarning):
    """The optimizer stopped before converging; results may be unreliable."""


class SmallSampleWarning(LevelfieldWarning):
    """A result rests on few observations."""


class DataQualityWarning(LevelfieldWarning):
    """Input was repaired or an assumption was applied; the message says which."""
