"""The estimator contract shared by levelfield's models (scikit-learn's conventions).

Options are keyword arguments of ``__init__``, stored unchanged under their own names and
checked in ``fit`` (not in ``__init__``); what ``fit`` learns is stored in attributes whose
names end with an underscore; ``fit`` returns the estimator. :class:`Estimator` adds
``get_params``/``set_params`` read from the ``__init__`` signature, so
:func:`clone` (and ``sklearn.base.clone``) make an unfitted copy with the same options, and
:func:`check_is_fitted` raises :class:`~levelfield.errors.NotFittedError` (a levelfield
error the CLI reports in plain words) when a fitted attribute is asked for too early.

Examples
--------
>>> from levelfield.customers import BetaGeoModel
>>> m = BetaGeoModel(penalizer=0.1)
>>> m.get_params()
{'penalizer': 0.1, 'tol': 1e-09, 'max_iter': 1000}
>>> clone(m.set_params(max_iter=50)).get_params()["max_iter"]
50
>>> m.summary()
Traceback (most recent call last):
...
levelfield.errors.NotFittedError: this BetaGeoModel is not fitted yet; call fit(...) first
"""

from __future__ import annotations

import copy
import inspect
from typing import Any, Self, TypeVar

from levelfield.errors import ConfigError, NotFittedError

__all__ = ["Estimator", "check_is_fitted", "clone"]

E = TypeVar("E", bound="Estimator")


class Estimator:
    """Mixin: ``get_params``/``set_params`` from the keyword options of ``__init__``."""

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        names = []
        for p in sig.parameters.values():
            if p.name == "self":
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ must list its options explicitly")
            names.append(p.name)
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The options given to ``__init__`` (``deep`` is accepted for scikit-learn)."""
        return {n: getattr(self, n) for n in type(self)._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Change options (checked at the next ``fit``); unknown names are a ConfigError."""
        valid = type(self)._param_names()
        for name, value in params.items():
            if name not in valid:
                raise ConfigError(
                    f"{type(self).__name__} has no option {name!r}; valid options: "
                    f"{', '.join(valid)}"
                )
            setattr(self, name, value)
        return self


def clone(estimator: E) -> E:
    """An unfitted estimator of the same class with (deep copies of) the same options."""
    params = {k: copy.deepcopy(v) for k, v in estimator.get_params().items()}
    return type(estimator)(**params)


def check_is_fitted(estimator: object, attribute: str | None = None) -> None:
    """Raise NotFittedError unless ``fit`` has run (``attribute`` or any ``name_`` is set)."""
    if attribute is not None:
        fitted = hasattr(estimator, attribute)
    else:
        fitted = any(k.endswith("_") and not k.startswith("_") for k in vars(estimator))
    if not fitted:
        name = type(estimator).__name__
        raise NotFittedError(f"this {name} is not fitted yet; call fit(...) first")
