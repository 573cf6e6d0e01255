"""French number and date formatting for map text.

French typography: thousands separated by a narrow no-break space (U+202F), decimal comma,
no-break space before the colon and the semicolon (``Sources : …``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import math
import os
import re

NNBSP = "\u202f"      # narrow no-break space: thousands, before ; ! ?
NBSP = "\u00a0"       # no-break space: before the colon

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")


def num(x, decimals: int = 0, sep: str = NNBSP) -> str:
    """``1234.5 -> '1 234,5'`` (narrow no-break space, decimal comma). NaN -> ''."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return ""
    s = f"{abs(float(x)):,.{decimals}f}"
    s = s.replace(",", "\x00").replace(".", ",").replace("\x00", sep)
    if float(x) < 0 and s.strip("0,\u202f") != "":
        s = "\u2212" + s        # true minus sign
    return s


def auto_decimals(values, max_decimals: int = 3) -> int:
    """Fewest decimals (0..max) that keep the given break values distinct and meaningful."""
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return 0
    span = max(vals) - min(vals)
    if span >= 100:
        d = 0
    elif span >= 10:
        d = 1
    else:
        d = 2
    while d < max_decimals:
        rounded = [round(v, d) for v in vals]
        if len(set(rounded)) == len(set(vals)):
            break
        d += 1
    return d


@functools.lru_cache(maxsize=8192)
def typo(text: str) -> str:
    """French typography in free text: no-break space before ':' and '»' and after '«',
    narrow no-break space before ';', '!' and '?' (cached: sheets set the same texts again)."""
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)          # typographic apostrophe: l’État
    text = re.sub(r"(?<=\d) (?=\d{3}\b)", NNBSP, text)        # 10 000 never breaks
    text = re.sub(r"\b(n°|N°)(?=\d)", r"\1" + NBSP, text)       # n° 1
    text = re.sub(r" ([:»])", NBSP + r"\1", text)
    text = re.sub(r"(?<=\S)»", NBSP + "»", text)
    text = re.sub(r" ([;!?])", NNBSP + r"\1", text)
    text = re.sub(r"«(?=\S)", "«" + NBSP, text)
    return re.sub(r"« ", "«" + NBSP, text)


def production_date() -> _dt.date:
    """Today, or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).date()
    return _dt.date.today()


def month_year(d: _dt.date | None = None) -> str:
    d = d or production_date()
    return f"{MONTHS[d.month - 1]} {d.year}"
