"""Writing sheets: PDF (vector, fonts embedded, metadata, reproducible bytes), PNG, SVG,
multi-page PDF for atlases, and optional CMYK conversion through Ghostscript.

Every file is written atomically (:func:`mbm_sig.atomic.atomic_path`): complete under its
final name, or, on an error or a full disk, the old file intact and no temporary file left.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
from pathlib import Path

from mbm_sig.atomic import atomic_path, temp_beside
from mbm_sig.maps.errors import MapError
from mbm_sig.maps.output import fonts
from mbm_sig.maps.output.pdftext import pdf_canvas, pdf_pages, save_page

FORMATS = ("pdf", "png", "svg")
AUTHOR = "Mission Bassin Minier Nord-Pas de Calais"


def rc() -> dict:
    """matplotlib's settings of every sheet and page: TrueType fonts embedded (one subset),
    the print font (made on first use), stable SVG ids, compressed PDF (zlib level 2: 55 %
    of level 3's time for 7 % more bytes; a sheet of all the basin's communes stays under
    200 KB, level 1 does not)."""
    return {
        "pdf.fonttype": 42, "ps.fonttype": 42, "font.family": fonts.ensure(),
        "svg.hashsalt": "mbm-sig", "svg.fonttype": "path", "pdf.compression": 2,
        "path.simplify": True, "hatch.linewidth": 0.4, "axes.unicode_minus": True,
    }


def _creation_date():
    """Fixed date from SOURCE_DATE_EPOCH, else none at all (so re-renders are identical)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc)
    return None


def pdf_metadata(md: dict | None) -> dict:
    md = dict(md or {})
    out = {"Title": md.get("Title", ""), "Author": md.get("Author", AUTHOR),
           "Subject": md.get("Subject", ""), "Keywords": md.get("Keywords", ""),
           "Creator": md.get("Creator", "mbm-sig"), "CreationDate": _creation_date()}
    if isinstance(out["Keywords"], (list, tuple)):
        out["Keywords"] = ", ".join(out["Keywords"])
    return {k: v for k, v in out.items() if v != "" or k == "Title"}


def format_of(path, fmt: str | None) -> str:
    f = (fmt or Path(path).suffix.lstrip(".") or "pdf").lower()
    if f not in FORMATS:
        raise MapError(f"unknown output format {f!r}; known formats: {', '.join(FORMATS)}")
    return f


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector paused for the drawing and writing of one sheet, put back
    (when it was on) at the end: a sheet makes some ten thousand short-lived objects (artists,
    paths, PDF operators) that reference counting frees, and the collector's passes over them
    while the sheet is alive found little to free; paused, its passes are fewer (one after the
    sheet, over what it left) and fewer objects reach the oldest generation, whose full passes
    over the whole process cost most (``bench/bench_maps.py``: about 0.4 ms of CPU per sheet
    in a command, whose imports are frozen out of the collector, 2-3 ms in a plain Python
    process). Nothing drawn depends on it. Process-wide, as :func:`gc.disable` is: a thread
    that enters while it is paused leaves it to the one that paused it."""
    import gc
    was = gc.isenabled()
    if was:
        gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextlib.contextmanager
def print_settings():
    """The print settings of every page the toolkit writes (:func:`rc`); the print-font fast
    path comes with the canvas and files of :mod:`mbm_sig.maps.output.pdftext`.

    Like ``matplotlib.rc_context(rc())`` for what is drawn and saved inside, but only the
    settings of :func:`rc` are saved and put back (``rc_context`` copies and restores all
    ~300, twice per sheet: a tenth of a millisecond each time)."""
    import matplotlib
    params = matplotlib.rcParams
    new = rc()
    old = {k: dict.__getitem__(params, k) for k in new}
    try:
        params.update(new)                  # validated, as rc_context sets them
        yield
    finally:
        dict.update(params, old)            # put back as rc_context does (no validation)


def save_figure(fig, path, fmt: str | None = None, metadata: dict | None = None, cmyk: bool = False,
                dpi: int = 300) -> Path:
    """Write ``fig`` to ``path`` (format from ``fmt`` or the suffix), atomically."""
    from mbm_sig.maps.output.cmyk import require_ghostscript, to_cmyk
    path = Path(path)
    f = format_of(path, fmt)
    if cmyk and f != "pdf":
        raise MapError("--cmyk applies to PDF output only")
    if cmyk:
        require_ghostscript()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        with print_settings():
            if f == "pdf":
                with pdf_canvas(fig):
                    fig.savefig(tmp, format="pdf", dpi=dpi, metadata=pdf_metadata(metadata))
            elif f == "svg":
                md = {"Date": None}
                if (metadata or {}).get("Title"):
                    md["Title"] = metadata["Title"]
                fig.savefig(tmp, format="svg", metadata=md)
            else:
                fig.savefig(tmp, format="png", dpi=dpi, metadata={"Software": None})
        if cmyk:
            to_cmyk(tmp)
    return path


def write_pdf(figs, path, metadata: dict, close=None) -> Path:
    """Figures (book pages) into one PDF, atomically, with the print settings of the sheets;
    ``close(fig)`` is called after each page is written (to free it). Each page, from the
    drawing of its figure (when ``figs`` is a generator that draws them) to its close, is made
    with the garbage collector paused (:func:`gc_paused`), which runs between pages."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figs = iter(figs)
    with atomic_path(path) as tmp:
        with print_settings(), pdf_pages(tmp, metadata=metadata) as pdf:
            while True:
                with gc_paused():
                    fig = next(figs, _END)
                    if fig is _END:
                        break
                    save_page(pdf, fig)
                    if close is not None:
                        close(fig)
    return path


_END = object()


class Book:
    """Several sheets in one PDF (for atlases): ``with Book(path, metadata) as b: b.add(map)``.

    The pages go to a temporary file beside ``path``, renamed to ``path`` when the book is
    closed without error; on an error the temporary file is removed and an older ``path``
    is left as it was."""

    def __init__(self, path, metadata: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = temp_beside(self.path)
        self._pdf = pdf_pages(self._tmp, metadata=pdf_metadata(metadata))
        self.infos: list = []

    def add(self, m, fig=None):
        with gc_paused():
            info = m.draw(fig)
            with print_settings():
                save_page(self._pdf, info.figure)
        info.path = str(self.path)
        info.figure = None
        self.infos.append(info)
        return info

    def close(self):
        """Write the fonts and move the book to its final name."""
        if self._pdf is None:
            return
        pdf, self._pdf = self._pdf, None
        with atomic_path(self.path) as tmp:
            with print_settings():          # the fonts are written here
                pdf.close()
            os.replace(self._tmp, tmp)

    def abort(self):
        """Drop the book: the temporary file is removed, ``path`` untouched."""
        if self._pdf is not None:
            pdf, self._pdf = self._pdf, None
            with contextlib.suppress(Exception):
                pdf.close()
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self.close()
        else:
            self.abort()
