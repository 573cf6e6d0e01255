"""CMYK conversion of a written PDF with Ghostscript: vector and fonts kept, the CMYK ICC
profile embedded as the document's output intent."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mbm_sig.maps.errors import GhostscriptMissing, MapError, OutputError

GS_MISSING = ("CMYK output needs Ghostscript: 'gs' was not found on PATH "
              "(Debian: apt-get install ghostscript)")


def require_ghostscript() -> str:
    gs = shutil.which("gs")
    if gs is None:
        raise GhostscriptMissing(GS_MISSING)
    return gs


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
    gs = require_ghostscript()
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
            raise OutputError(f"Ghostscript failed ({res.returncode}): {res.stderr.strip()[:500]}")
        shutil.copyfile(out, path)        # path is the temporary file of an atomic save
    return path


