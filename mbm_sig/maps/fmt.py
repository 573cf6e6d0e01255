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


# official spellings with the ligature œ (words, not the letters «oe»: coefficient, Noé)
_OE_WORDS = {"coeur": "cœur", "noeux": "nœux", "oeuvre": "œuvre", "oeuvres": "œuvres", "soeur": "sœur",
             "soeurs": "sœurs", "voeu": "vœu", "voeux": "vœux", "oeil": "œil", "noeud": "nœud",
             "boeuf": "bœuf", "manoeuvre": "manœuvre", "oeillet": "œillet"}
_OE = re.compile(r"\b(" + "|".join(_OE_WORDS) + r")\b", re.IGNORECASE)
# one spelling of the former region: Nord-Pas-de-Calais (COG), whatever the source wrote
_NPDC = re.compile(r"\bNord[\s-]+Pas[\s-]+de[\s-]+Calais\b")
_NPDC_UP = re.compile(r"\bNORD[\s-]+PAS[\s-]+DE[\s-]+CALAIS\b")


def _oe(m) -> str:
    w = m.group(0)
    out = _OE_WORDS[w.lower()]
    if w.isupper():
        return out.upper()
    return out[0].upper() + out[1:] if w[0].isupper() else out


@functools.lru_cache(maxsize=16384)
def french_text(text: str) -> str:
    """French typography of a data string (names, notes, categories): typographic
    apostrophe, «n° 14» with a no-break space, the official œ spellings (Nœux-les-Mines,
    Cœur d’Ostrevent), one spelling of Nord-Pas-de-Calais. Idempotent."""
    if not isinstance(text, str) or not text:
        return text
    text = re.sub(r"(?<=\w)'(?=\w)", "\u2019", text)          # typographic apostrophe: l’État
    text = re.sub(r"\b([nN]°)[ \u00a0\u202f]?(?=\d)", r"\1" + NBSP, text)     # n° 14
    text = _OE.sub(_oe, text)
    text = _NPDC.sub("Nord-Pas-de-Calais", text)
    return _NPDC_UP.sub("NORD-PAS-DE-CALAIS", text)


@functools.lru_cache(maxsize=8192)
def typo(text: str) -> str:
    """French typography in free text: :func:`french_text`, then no-break space before ':'
    and '»' and after '«', narrow no-break space before ';', '!' and '?' (cached: sheets set
    the same texts again)."""
    text = french_text(text)
    text = re.sub(r"(?<=\d) (?=\d{3}\b)", NNBSP, text)        # 10 000 never breaks
    text = re.sub(r" ([:»])", NBSP + r"\1", text)
    text = re.sub(r"(?<=\S)»", NBSP + "»", text)
    text = re.sub(r" ([;!?])", NNBSP + r"\1", text)
    text = re.sub(r"«(?=\S)", "«" + NBSP, text)
    return re.sub(r"« ", "«" + NBSP, text)


# French collation (the order of a French index, as ICU/CLDR's «fr» collation sorts it):
# at the first level accents, case and ligatures are folded (œ = oe, æ = ae, ß = ss), so
# that Nœux-les-Mines falls between Noeux… and Noyelles and Éleu among the E; spaces,
# hyphens and apostrophes separate words and sort before any letter (word by word: «La
# Sentinelle» before «Lallaing»); digits sort before letters, by their value. Ties are broken
# by the accents (unaccented first), then by case (lower first), then by the text itself.
_LIGATURES = {"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss", "\u2019": "'", "\u02bc": "'"}
_LIG = re.compile("|".join(map(re.escape, _LIGATURES)))
_WORD_SEP = re.compile(r"[\s\-\u2010\u2011\u2013\u2014'’.,;:/()«»\"]+")
_DIGITS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)
def collation_key(text) -> tuple:
    """The sort key of a French name or label (see above); None and NaN sort last.
    ``sorted(names, key=collation_key)``; the one key every table and legend sorts with."""
    import unicodedata
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return (1,)
    s = _LIG.sub(lambda m: _LIGATURES[m.group(0)], str(text))
    decomposed = unicodedata.normalize("NFKD", s)
    base = "".join(c for c in decomposed if not unicodedata.combining(c))
    # an opening parenthesis files before letters and digits: «Cité des Musiciens (n° 33)»
    # before «Cité des Musiciens bis»
    words = [w for w in _WORD_SEP.split(base.casefold().replace("(", " \x00 ")) if w]
    # numbers by value: «Cité 4» before «Cité 16»
    primary = tuple(((-1, 0, ""),) if w == "\x00" else
                    tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(w) if p)
                    for w in words)
    accents = tuple(unicodedata.normalize("NFKD", c)[1:] for c in s.casefold() if c.isalnum())
    case = tuple(c.isupper() for c in base if c.isalpha())
    return (0, primary, accents, case, str(text))


def production_date() -> _dt.date:
    """Today, or the date of ``SOURCE_DATE_EPOCH`` when set (reproducible builds)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        return _dt.datetime.fromtimestamp(int(epoch), tz=_dt.timezone.utc).date()
    return _dt.date.today()


def month_year(d: _dt.date | None = None) -> str:
    d = d or production_date()
    return f"{MONTHS[d.month - 1]} {d.year}"
