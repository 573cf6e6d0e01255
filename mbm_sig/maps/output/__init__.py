"""Output of sheets and books: PDF/PNG/SVG saving (atomic), the print font (made on first
use), the PDF text fast path, CMYK conversion. Nothing here imports the map builder: a
room below :mod:`mbm_sig.maps.sheet` and :mod:`mbm_sig.atlas`."""

from __future__ import annotations

from mbm_sig.maps.errors import GhostscriptMissing
from mbm_sig.maps.output.save import FORMATS, Book, format_of, pdf_metadata, print_settings, rc, save_figure, write_pdf

__all__ = ["FORMATS", "Book", "GhostscriptMissing", "format_of", "pdf_metadata", "print_settings", "rc",
           "save_figure", "write_pdf", "to_cmyk", "cmyk_profile"]


def __getattr__(name):          # the CMYK module only when asked for
    if name in ("to_cmyk", "cmyk_profile"):
        from mbm_sig.maps.output import cmyk
        return getattr(cmyk, name)
    raise AttributeError(name)
