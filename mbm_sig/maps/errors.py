"""The errors of the maps and atlases, in the tool's one hierarchy (:mod:`mbm_sig.errors`).

Invalid input (a recipe key, a layer option, an atlas definition, an unknown palette or
classification method, a bad expression) derives from :class:`~mbm_sig.errors.InvalidInput`
(exit status 2); work that could not be done (Ghostscript missing or failing, a sheet that
failed while its input was valid) from :class:`~mbm_sig.errors.Failure` (exit status 1).
"""

from __future__ import annotations

from mbm_sig.errors import Failure, InvalidInput

__all__ = ["MapError", "RecipeError", "OutputError", "GhostscriptMissing", "check_number", "map_fail"]


class MapError(InvalidInput):
    """Invalid map specification (unknown type, missing field, option out of range…)."""


class RecipeError(MapError):
    """A recipe is invalid; the message names the recipe file and the key path."""

    def __init__(self, path, key: str, message: str):
        self.path, self.key = str(path), key
        super().__init__(f"{path}: {key}: {message}" if key else f"{path}: {message}")


class OutputError(Failure):
    """A sheet could not be written (disk full, Ghostscript failed…)."""


class GhostscriptMissing(OutputError):
    """``--cmyk`` needs Ghostscript (``gs``)."""


def map_fail(key: str, message: str) -> MapError:
    return MapError(f"{key}: {message}" if key else message)


def check_number(value, key: str, *, minimum: float | None = None, maximum: float | None = None,
                 exclusive_min: bool = False, integer: bool = False, fail=map_fail):
    """``value`` as a number within bounds, else the error ``fail(key, message)`` makes
    (``key``: the option or the recipe key path), naming the accepted range."""
    import numbers
    ok_type = isinstance(value, numbers.Integral) if integer else isinstance(value, numbers.Real)
    if isinstance(value, bool) or type(value).__name__ == "bool_" or not ok_type:
        kind = "an integer" if integer else "a number"
        raise fail(key, f"must be {kind}, not {value!r}")
    if value != value:
        raise fail(key, "must be a number, not NaN")
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        raise fail(key, f"must be {'>' if exclusive_min else '>='} {minimum:g}, not {value!r}")
    if maximum is not None and value > maximum:
        raise fail(key, f"must be <= {maximum:g}, not {value!r}")
    return value
