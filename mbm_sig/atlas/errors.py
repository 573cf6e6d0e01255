"""The atlas errors, in the tool's one hierarchy (:mod:`mbm_sig.errors`): a wrong atlas
definition, selection or sheet input is :class:`AtlasError` (invalid input, exit status 2);
a sheet that failed on valid input, or a missing catalogue, is :class:`AtlasFailure`
(exit status 1)."""

from __future__ import annotations

from mbm_sig.errors import Failure, InvalidInput


class AtlasError(InvalidInput):
    """An atlas definition is wrong (unknown key, missing recipe…), or a sheet's input is."""


class AtlasFailure(Failure):
    """A sheet could not be rendered on valid input, or the catalogue is missing."""


class FicheError(InvalidInput, LookupError):
    """Unknown cité, or a catalogue without the cités layer."""
