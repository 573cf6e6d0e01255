"""Checks of printed wording: reader pages free of commands, paths and internal words;
French typography; commune names as officially spelt; table rows in French order."""

from __future__ import annotations

import re
import unicodedata

# ------------------------------------------------------------------------------ reader text

READER_PATTERNS = (
    (re.compile(r"\bmbm-sig\b"), "a command line"),
    (re.compile(r"(?<!\w)--[a-z][\w-]+"), "a command option"),
    (re.compile(r"\bFICHIER\b"), "a command argument"),
    (re.compile(r"(?<![\w.])(?:[\w.-]+/)+[\w.-]+\.(?:csv|ya?ml|gpkg|geojson|json|py|shp|pdf|parquet|tgz)\b"),
     "a file path"),
    (re.compile(r"\b[\w-]+\.(?:ya?ml|gpkg|py)\b"), "a file name"),
    (re.compile(r"\bmbm_sig\b|\b[a-z]+_[a-z_]+\b"), "a package or layer internal"),
)

# words of the tool, not of the reader (a map is made from data, not from a «catalogue»
# of «couches» and «champs» filled «par import»)
INTERNAL_WORDS = re.compile(
    r"\b(?:[Cc]atalogues?|[Cc]ouches?|[Cc]hamps?|[Ii]mport(?:s|er|é|ée|és|ées|ation)?|Lambert[- ]93|EPSG"
    r"|GeoPackage|[Rr]ecettes?|MBM_SIG\w*)\b")


def _in_a_name(text: str, m) -> bool:
    """A capitalised word inside a proper name («Cité du Champ Fleuri»), not at the start
    of a sentence: not an internal word."""
    w = m.group(0)
    if not w[:1].isupper() or w.isupper() or not w[1:].islower() or w.lower().startswith(("lambert", "geopackage")):
        return False
    before = text[:m.start()].rstrip()
    return bool(before) and not before.endswith((".", ":", ";", "!", "?", "»", "—", "(")) and not before.endswith("\n")


def reader_text(text: str) -> list[str]:
    out = []
    for rx, what in READER_PATTERNS:
        m = rx.search(text)
        if m:
            out.append(f"{what}: {excerpt(text, m)}")
    words: dict = {}
    for m in INTERNAL_WORDS.finditer(text):
        if not _in_a_name(text, m):
            words.setdefault(m.group(0).lower(), m)
    for m in list(words.values())[:6]:
        out.append(f"internal word «{m.group(0)}»: {excerpt(text, m)}")
    return out


def excerpt(text: str, m, before: int = 25, after: int = 20) -> str:
    a, b = max(0, m.start() - before), min(len(text), m.end() + after)
    return "«" + ("…" if a else "") + text[a:b].replace("\n", " ") + ("…" if b < len(text) else "") + "»"


# ------------------------------------------------------------------------------ typography

TYPO_RULES = (
    (re.compile(r"(?<=\w)'(?=\w)|(?<=\s)'(?=\w)|(?<=\w)'(?=\s|$)"), "straight apostrophe (’)"),
    (re.compile(r'"'), "straight double quote (« »)"),
    (re.compile(r"(?<=\w) - (?=\w)"), "spaced hyphen (a hyphen takes no spaces; a dash is –)"),
    (re.compile(r"\.\.\."), "three full stops (…)"),
    (re.compile(r"\b[nN]°(?=\d)"), "«n°» stuck to its number (n° 14, with a no-break space)"),
    (re.compile(r"«(?=\S)|(?<=\S)»"), "guillemet without its inner space"),
    (re.compile(r"(?<=[^\W\d_])[:;!?](?=\s|$)"), "no space before a high punctuation mark"),
    (re.compile(r"\b(?:[CcSs]oeur|[Nn]oeu[dx]|[Oo]euvre|[Vv]oeux?|[Bb]oeuf|[Oo]eil|[Mm]anoeuvre)"),
     "«oe» for «œ»"),
)


def typography(text: str) -> list[str]:
    out = []
    for rx, what in TYPO_RULES:
        m = rx.search(text)
        if m:
            n = len(rx.findall(text))
            out.append(f"{what}{f' ({n}×)' if n > 1 else ''}: {excerpt(text, m)}")
    return out


# ------------------------------------------------------------------------------ French order

_LIG = str.maketrans({"œ": "oe", "Œ": "OE", "æ": "ae", "Æ": "AE", "ß": "ss"})


def fold(s: str) -> str:
    """Primary collation key of French (accents, case and ligatures ignored; hyphens,
    apostrophes and spaces one separator): «Nœux» files as «Noeux», «Éleu» among the E."""
    s = unicodedata.normalize("NFKD", str(s).translate(_LIG))
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    s = re.sub(r"\s*\(\s*", " (", s)                  # punctuation files before letters and digits
    s = re.sub(r"[\s\-’'‐‑.,)]+", " ", s)
    return s.strip()


def collation_key(s: str):
    """French order: the primary key (letters), then digits compared as numbers
    («Fosse 2» before «Fosse 10»)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", fold(s))]


def misordered(names: list[str]) -> list[tuple[str, str]]:
    """Consecutive pairs (a, b) printed in this order although b files before a."""
    out = []
    for a, b in zip(names, names[1:], strict=False):
        try:
            if collation_key(b) < collation_key(a):
                out.append((a, b))
        except TypeError:           # a number against a word: compare as text
            if fold(b) < fold(a):
                out.append((a, b))
    return out


# ------------------------------------------------------------------------------ official names

_WORD = re.compile(r"[^\W\d_]+", re.U)


class OfficialNames:
    """The communes' official names (COG, the registry's), found in printed text by their
    letters: a text naming «Conde-sur-l’Escaut» or «ECAILLON» where the official name is
    «Condé-sur-l’Escaut», «Écaillon»."""

    def __init__(self, names, aliases=None):
        # aliases: other spellings that stand alone for a commune (a label «Madeleine» for
        # La Madeleine, the name the catalogue holds): a text equal to one is flagged
        self.aliases = dict(aliases or {})
        self.by_first: dict = {}
        for n in dict.fromkeys(str(x) for x in names):
            toks = [fold(t) for t in _WORD.findall(n.translate(_LIG))]
            if toks:
                self.by_first.setdefault(toks[0], []).append((toks, n))
        for v in self.by_first.values():
            v.sort(key=lambda e: -len(e[0]))            # longest name first

    def differing(self, text: str) -> list[tuple[str, str]]:
        """(as printed, official) for each commune name printed with other letters."""
        alone = self.aliases.get(text.strip())
        if alone:
            return [(text.strip(), alone)]
        words = list(_WORD.finditer(text.translate(_LIG)))
        if not words:
            return []
        # spans in the original text (the ligature translation changes lengths: map back)
        src, out, i = text, [], 0
        folded = [fold(w.group(0)) for w in words]
        offsets = _offsets(src)
        while i < len(words):
            w = words[i]
            cands = self.by_first.get(folded[i])
            hit = None
            if cands and w.group(0)[:1].isupper() and not _inside_compound(words, i, src):
                for toks, name in cands:
                    if folded[i:i + len(toks)] == toks and _joined(words, i, len(toks), src, offsets):
                        hit = (toks, name)
                        break
            if hit:
                toks, name = hit
                a, b = offsets[words[i].start()], offsets[words[i + len(toks) - 1].end() - 1] + 1
                printed = src[a:b]
                if _letters(printed) != _letters(name) and not printed.isupper() or (
                        printed.isupper() and _letters(printed) != _letters(name.upper())):
                    out.append((printed, name))
                i += len(toks)
            else:
                i += 1
        return out


def _offsets(src: str) -> list[int]:
    """Index in ``src`` of each character of ``src.translate(_LIG)``."""
    out = []
    for k, ch in enumerate(src):
        out += [k] * len(ch.translate(_LIG))
    out.append(len(src))
    return out


def _joined(words, i, n, src, offsets) -> bool:
    """The n words from i are one name: separated by a hyphen, a space or an apostrophe."""
    t = src.translate(_LIG)
    for k in range(i, i + n - 1):
        gap = t[words[k].end():words[k + 1].start()]
        if not re.fullmatch(r"[\s\-’'‐‑]{1,3}", gap):
            return False
    return True


def _inside_compound(words, i, src) -> bool:
    """Word i continues a longer hyphenated name («Raches» of the concession «Flines-les-Raches»
    is not the commune Râches): a hyphen joins it to the word before."""
    if i == 0:
        return False
    t = src.translate(_LIG)
    return bool(re.fullmatch(r"[-‐‑]", t[words[i - 1].end():words[i].start()]))


def _letters(s: str) -> str:
    """The letters of a name with case kept, separators unified (an apostrophe's shape is
    the typography check's business)."""
    return re.sub(r"[’']", "’", re.sub(r"\s*[-‐‑]\s*", "-", s.strip()))


def registry_names() -> dict | None:
    """INSEE code -> official name of the communes of Nord and Pas-de-Calais, from the
    registry package the catalogue is built from (@etalab/decoupage-administratif, in the
    cache); None when it is not there."""
    import json
    import tarfile
    try:
        from mbm_sig.catalogue.builders import DEPARTEMENTS, decoupage_tarball
        from mbm_sig.config import settings
        with tarfile.open(decoupage_tarball(settings().cache_dir)) as tar:
            fh = tar.extractfile("package/data/communes.json")
            data = json.load(fh) if fh else []
    except Exception:           # no cache and no network: the catalogue's names stand
        return None
    return {c["code"]: c["nom"] for c in data
            if c.get("type") == "commune-actuelle" and c.get("departement") in DEPARTEMENTS}


def official_names(town_table) -> OfficialNames:
    """The official names (the registry's, else the catalogue's), and, as aliases, the
    catalogue's names that differ from them in more than the apostrophe («Madeleine» for
    «La Madeleine»): a label printed from the catalogue then shows the difference."""
    reg = registry_names()
    if not reg:
        return OfficialNames(town_table["nom"])
    aliases = {}
    for insee, nom in zip(town_table["insee"], town_table["nom"], strict=True):
        off = reg.get(str(insee))
        if off and _letters(off) != _letters(str(nom)):
            aliases[str(nom)] = off
    return OfficialNames(reg.values(), aliases)
