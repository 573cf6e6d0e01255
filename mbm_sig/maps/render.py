"""Writing sheets: PDF (vector, fonts embedded, metadata, reproducible bytes), PNG, SVG,
multi-page PDF for atlases, and optional CMYK conversion through Ghostscript."""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import matplotlib
from matplotlib.backends.backend_pdf import PdfPages

from mbm_sig.maps.pdftext import fast_pdf_text
from mbm_sig.maps.sheet import RC, MapError

FORMATS = ("pdf", "png", "svg")
AUTHOR = "Mission Bassin Minier Nord-Pas de Calais"


class GhostscriptMissing(MapError):
    """``--cmyk`` needs Ghostscript (``gs``)."""


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
def print_settings():
    """The print settings of every PDF the toolkit writes: matplotlib's settings of the
    sheets (:data:`mbm_sig.maps.sheet.RC`: TrueType fonts embedded, one subset…) and the
    print-font fast path (:mod:`mbm_sig.maps.pdftext`)."""
    with matplotlib.rc_context(RC), fast_pdf_text():
        yield


def save_figure(fig, path, fmt: str | None = None, metadata: dict | None = None, cmyk: bool = False,
                dpi: int = 300) -> Path:
    path = Path(path)
    f = format_of(path, fmt)
    if cmyk and f != "pdf":
        raise MapError("--cmyk applies to PDF output only")
    if cmyk and shutil.which("gs") is None:
        raise GhostscriptMissing("CMYK output needs Ghostscript: 'gs' was not found on PATH "
                                 "(Debian: apt-get install ghostscript)")
    path.parent.mkdir(parents=True, exist_ok=True)
    with print_settings():
        if f == "pdf":
            fig.savefig(path, format="pdf", dpi=dpi, metadata=pdf_metadata(metadata))
        elif f == "svg":
            md = {"Date": None}
            if (metadata or {}).get("Title"):
                md["Title"] = metadata["Title"]
            fig.savefig(path, format="svg", metadata=md)
        else:
            fig.savefig(path, format="png", dpi=dpi, metadata={"Software": None})
    if cmyk:
        to_cmyk(path)
    return path


# CMYK output profile: $MBM_SIG_CMYK_ICC (the print shop's, e.g. a FOGRA39 / ISO Coated
# profile), else Ghostscript's default CMYK profile
_GS_CMYK_PROFILES = ("/usr/share/color/icc/ghostscript/default_cmyk.icc",
                     "/usr/share/ghostscript/*/iccprofiles/default_cmyk.icc")


def cmyk_profile() -> Path | None:
    """The ICC profile of the CMYK output intent (None: Ghostscript has none installed)."""
    import glob
    env = os.environ.get("MBM_SIG_CMYK_ICC")
    if env:
        p = Path(env)
        if not p.is_file():
            raise MapError(f"MBM_SIG_CMYK_ICC={env}: no such ICC profile file")
        if any(ord(c) < 32 for c in str(p.resolve())):
            raise MapError(f"MBM_SIG_CMYK_ICC={env!r}: control characters in the path; rename the file")
        return p
    for pattern in _GS_CMYK_PROFILES:
        found = sorted(glob.glob(pattern))
        if found:
            return Path(found[-1])
    return None


def _ps_string(s: str) -> str:
    """A PostScript string of the UTF-8 bytes of ``s`` (a file name for the ``file`` operator)."""
    return "(" + s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _pdf_text(s: str) -> str:
    """A PDF text string (UTF-16BE with its byte-order mark, in hex): any character reads
    right in the document."""
    return "<FEFF" + s.encode("utf-16-be").hex().upper() + ">"


def _output_intent_ps(icc: Path) -> str:
    """pdfmark program that embeds ``icc`` as the document's CMYK output intent (the
    /OutputIntents a print shop's preflight reads), without flattening transparency as a
    PDF/X-3 conversion would (it turns a whole map into an image)."""
    return "\n".join([
        "%!",
        f"/ICCProfile {_ps_string(str(icc))} def",
        "[/_objdef {icc_mbm} /type /stream /OBJ pdfmark",
        "[{icc_mbm} << /N 4 >> /PUT pdfmark",
        "[{icc_mbm} ICCProfile (r) file /PUT pdfmark",
        "[/_objdef {intent_mbm} /type /dict /OBJ pdfmark",
        "[{intent_mbm} << /Type /OutputIntent /S /GTS_PDFX /OutputConditionIdentifier (Custom)",
        f"  /RegistryName (http://www.color.org) /Info {_pdf_text(icc.name)}",
        f"  /OutputCondition {_pdf_text('CMYK printing, ICC profile ' + icc.name)}",
        "  /DestOutputProfile {icc_mbm} >> /PUT pdfmark",
        "[{Catalog} << /OutputIntents [ {intent_mbm} ] >> /PUT pdfmark",
        ""])


def to_cmyk(path) -> Path:
    """Convert a PDF to CMYK in place with Ghostscript (pdfwrite, DeviceCMYK), vector and
    fonts kept, with the CMYK ICC profile (:func:`cmyk_profile`) embedded as its output
    intent."""
    gs = shutil.which("gs")
    if gs is None:
        raise GhostscriptMissing("CMYK output needs Ghostscript: 'gs' was not found on PATH "
                                 "(Debian: apt-get install ghostscript)")
    path = Path(path)
    icc = cmyk_profile()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "cmyk.pdf"
        cmd = [gs, "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOOUTERSAVE", "-sDEVICE=pdfwrite",
               "-sColorConversionStrategy=CMYK", "-dProcessColorModel=/DeviceCMYK",
               "-dEmbedAllFonts=true", "-dCompatibilityLevel=1.6", f"-sOutputFile={out}"]
        if icc is not None:
            intent = Path(tmp) / "intent.ps"
            intent.write_text(_output_intent_ps(icc), encoding="utf-8")   # file names as bytes
            cmd += [f"--permit-file-read={icc}", str(intent)]
        cmd.append(str(path))
        res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
        if res.returncode != 0:
            raise MapError(f"Ghostscript failed ({res.returncode}): {res.stderr.strip()[:500]}")
        shutil.move(out, path)
    return path


class Book:
    """Several sheets in one PDF (for atlases): ``with Book(path, metadata) as b: b.add(map)``."""

    def __init__(self, path, metadata: dict | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # the file is opened by the first page, under the print settings like every write
        self._pdf = PdfPages(self.path, metadata=pdf_metadata(metadata))
        self.infos = []

    def add(self, m, fig=None):
        info = m.draw(fig)
        with print_settings():
            self._pdf.savefig(info.figure)
        info.path = str(self.path)
        info.figure = None
        self.infos.append(info)
        return info

    def close(self):
        if self._pdf is not None:
            with print_settings():          # the fonts are written here
                self._pdf.close()
            self._pdf = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def render_recipe(recipe, catalogue, out_path, fmt: str | None = "pdf", cmyk: bool = False, params=None):
    """See :func:`mbm_sig.maps.recipe.render_recipe` (re-exported here for the atlas engine)."""
    from mbm_sig.maps.recipe import render_recipe as _render
    return _render(recipe, catalogue, out_path, fmt=fmt, cmyk=cmyk, params=params)
