"""The book pages of an atlas, drawn with the typography of the map sheets: cover, table of
contents, «cartes en attente de données», sources, attribute tables, page numbers.

Each function draws on an A4 portrait figure in page millimetres (origin top-left).
"""

from __future__ import annotations

import functools
import re
import textwrap
from dataclasses import dataclass

import matplotlib
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from mbm_sig.maps import fmt
from mbm_sig.maps.layout import TextLines, font, measure
from mbm_sig.maps.output import write_pdf

# the print font of the map sheets (DejaVu Sans reduced to French text: fast subsetting);
# set on every text here, never in matplotlib's global settings (analysts' notebooks)

A4 = (210.0, 297.0)
MM = 1 / 25.4
INK = "#1a1a1a"
GREY = "#595959"
ACCENT = "#7f2704"          # brick, the colour of the basin's cités
LIGHT = "#f3ede6"
MARGIN = 18.0


class Canvas:
    """An A4 figure addressed in millimetres from the top-left corner."""

    def __init__(self, size=A4):
        self.w, self.h = size
        self.fig = Figure(figsize=(self.w * MM, self.h * MM))

    def text(self, x, y, s, size=9.0, weight="normal", color=INK, ha="left", va="baseline", **kw):
        kw.setdefault("family", font())
        return self.fig.text(x / self.w, 1 - y / self.h, s, fontsize=size, fontweight=weight, color=color,
                             ha=ha, va=va, **kw)

    def column(self, x, y_baseline, lines, size, step_mm, ha="left", color=INK, weight="normal"):
        """Lines every ``step_mm`` from the baseline ``y_baseline``, aligned on ``x``
        (``ha``: left, right or center): a table column is one artist, not one Text per cell."""
        self.fig.add_artist(TextLines(self.w, self.h, x, y_baseline, lines, size, step_mm, ha=ha, color=color,
                                      weight=weight, family=font()))

    def rect(self, x, y, w, h, **kw):
        kw.setdefault("linewidth", 0)
        self.fig.add_artist(Rectangle((x / self.w, 1 - (y + h) / self.h), w / self.w, h / self.h,
                                      transform=self.fig.transFigure, **kw))

    def hline(self, x0, x1, y, color=GREY, lw=0.4, **kw):
        self.fig.add_artist(matplotlib.lines.Line2D([x0 / self.w, x1 / self.w], [1 - y / self.h] * 2,
                                                    transform=self.fig.transFigure, color=color, linewidth=lw, **kw))


def _footer(c: Canvas, atlas_title: str) -> None:
    c.hline(MARGIN, c.w - MARGIN, c.h - 14, lw=0.3)
    c.text(MARGIN, c.h - 9.5, atlas_title, size=7, color=GREY)


COUNT = re.compile(r"\{n:([a-z_]+)(?::([a-z_]+)=([^}]*))?\}")


def with_counts(atlas, cat) -> list[str]:
    """The cover's paragraphs with their counts taken from the catalogue: ``{n:LAYER}`` is
    the number of features of a layer, ``{n:LAYER:FIELD=VALUE}`` of those holding a value
    (the 109 elements of the inscribed property are the rows of its layer)."""
    notes = getattr(atlas, "_cover_templates", None)
    if notes is None:
        notes = atlas._cover_templates = list(atlas.cover_notes)

    def count(m) -> str:
        layer, field_, value = m.groups()
        try:
            df = cat.read(layer, where={field_: value} if field_ else None)
        except Exception as exc:        # an unknown layer or field: the atlas file is wrong
            from mbm_sig.atlas.errors import AtlasError
            raise AtlasError(f"{getattr(atlas, 'path', atlas.name)}: cover_notes: {m.group(0)}: {exc}") from None
        return fmt.num(len(df), 0)
    return [COUNT.sub(count, n) for n in notes]


def cover(atlas, n_sheets: int) -> Figure:
    c = Canvas()
    c.rect(0, 0, c.w, 118, facecolor=ACCENT)
    c.text(MARGIN, 30, "MISSION BASSIN MINIER NORD-PAS-DE-CALAIS", size=10, weight="bold", color="white")
    y = 62
    for line in textwrap.wrap(atlas.title, 30):
        c.text(MARGIN, y, line, size=27, weight="bold", color="white")
        y += 12
    sub_y = 136
    for line in textwrap.wrap(atlas.subtitle or "", 70):
        c.text(MARGIN, sub_y, fmt.typo(line), size=12.5, color=INK)
        sub_y += 6.5
    c.hline(MARGIN, c.w - MARGIN, sub_y + 4, color=ACCENT, lw=1.2)
    facts = [f"{n_sheets} carte{'s' if n_sheets > 1 else ''}", f"Édition {atlas.edition}"]
    c.text(MARGIN, sub_y + 14, " · ".join(facts), size=10, color=GREY)
    notes = [textwrap.wrap(fmt.typo(line), 95) for line in atlas.cover_notes]
    # the notes end 8 mm above the producer's line (a long note starts higher)
    y = min(232.0, c.h - 30 - 4.2 * sum(map(len, notes)) - 1.5 * max(len(notes) - 1, 0))
    for k, para in enumerate(notes):
        for sub in para:
            c.text(MARGIN, y, sub, size=8, color=GREY)
            y += 4.2
        y += 1.5 if k < len(notes) - 1 else 0
    c.text(MARGIN, c.h - 22, atlas.producer, size=10, weight="bold", color=INK)
    c.text(MARGIN, c.h - 16, f"Réalisation : {fmt.month_year()}", size=8.5, color=GREY)
    return c.fig


@dataclass
class TocEntry:
    level: int            # 0 section, 1 sheet
    title: str
    page: int | None


TOC_TOP = 46.0                 # mm: the first entry's baseline
TOC_BOTTOM = 276.0             # mm: the lowest baseline (the running footer below)
TOC_STEP = {0: 8.0, 1: 5.0}    # mm an entry takes: a section (its space above), a sheet


def toc_chunks(levels: list[int]) -> list[range]:
    """The contents' entries (their levels: 0 a section, 1 a sheet) cut into pages by their
    height: as few pages as the entries need, the entries then shared evenly between them (no
    last page holding five lines), and a section's title never the last line of a page."""
    n = len(levels)
    if not n:
        return [range(0, 0)]

    def fill(room: float) -> list[range]:
        out, start, used = [], 0, 0.0
        for i, lv in enumerate(levels):
            h = TOC_STEP[lv]
            need = h + (TOC_STEP[levels[i + 1]] if lv == 0 and i + 1 < n else 0.0)
            if i > start and used + need > room:
                out.append(range(start, i))
                start, used = i, 0.0
            used += h
        return out + [range(start, n)]
    room = TOC_BOTTOM - TOC_TOP + TOC_STEP[1]
    pages_ = len(fill(room))
    lo, hi = max(TOC_STEP.values()) * 2, room        # the smallest room that keeps as many pages
    for _ in range(30):
        mid = (lo + hi) / 2
        if len(fill(mid)) <= pages_:
            hi = mid
        else:
            lo = mid
    return fill(hi)


def toc_pages(atlas, entries: list[TocEntry]) -> list[Figure]:
    figs = []
    chunks = [entries[r.start:r.stop] for r in toc_chunks([e.level for e in entries])]
    for n, chunk in enumerate(chunks):
        c = Canvas()
        c.text(MARGIN, 30, "Sommaire" + (" (suite)" if n else ""), size=20, weight="bold", color=ACCENT)
        c.hline(MARGIN, c.w - MARGIN, 35, color=ACCENT, lw=1.0)
        y = TOC_TOP
        for k, e in enumerate(chunk):
            if e.level == 0:
                y += 2.5 if k else 0.0        # (no space above a page's first line)
                c.text(MARGIN, y, fmt.typo(e.title), size=10.5, weight="bold")
            else:
                c.text(MARGIN + 5, y, _fit(fmt.typo(e.title), c.w - 2 * MARGIN - 16, 8.5), size=8.5)
            if e.page is not None:
                c.text(c.w - MARGIN, y, str(e.page), size=8.5 if e.level else 10.5,
                       weight="bold" if e.level == 0 else "normal", ha="right")
            y += 5.0 if e.level else 5.5
        _footer(c, atlas.title)
        figs.append(c.fig)
    return figs


PENDING_TITLE = "Cartes en attente de données"
SOURCES_TITLE = "Sources et méthodes"


def _pending_blocks(items) -> list[list]:
    """«Cartes en attente de données»: the sheets whose data no open source provides, grouped
    by who holds the data, each with the data missing. It speaks to readers: the commands
    that fill the layers are printed by ``mbm-sig atlas`` and given in the README, not here."""
    intro = ("Ces cartes de l'atlas de 2005 reposent sur des données qu'aucune source ouverte ne fournit. "
             "Leur mise en page est prête : elles seront produites dès que leurs détenteurs auront transmis "
             "les données à la Mission Bassin Minier.")
    blocks = [[(line, 8.5, "normal", GREY, 3.0)
               for line in textwrap.wrap(fmt.typo(intro), 100, break_on_hyphens=False)]]
    groups: dict[str, list] = {}
    for it in items:
        groups.setdefault(it.get("holder") or "détenteur à identifier", []).append(it)
    for holder, its in groups.items():
        blocks.append([(line, 8, "bold", ACCENT, 3.0)
                       for line in textwrap.wrap(fmt.typo(f"Détenteur : {holder}"), 100, break_on_hyphens=False)])
        for it in its:
            block = [(("• " if k == 0 else "  ") + line, 9, "bold", INK, 3.0)
                     for k, line in enumerate(textwrap.wrap(fmt.typo(it["title"]), 90, break_on_hyphens=False))]
            if it.get("missing"):
                block += [(line, 7.5, "normal", GREY, 7.0)
                          for line in textwrap.wrap(fmt.typo(f"Données manquantes : {it['missing']}."), 105,
                                                       break_on_hyphens=False)]
            blocks.append(block)
    return blocks


def pending_page(atlas, items) -> Figure:
    """The «Cartes en attente de données» page alone (the book flows it with the sources:
    :func:`back_pages`)."""
    return back_pages(atlas, items, None)[0][0]


# what each classification method of the recipes means, for the sources page
METHOD_NOTES = {
    "quantile": ("Quantiles", "chaque classe compte le même nombre de communes : la carte oppose les "
                 "communes les unes aux autres, sans que l'écart de valeurs entre classes soit constant."),
    "q6": ("Q6 à classes centrales égales", "six classes, quantiles aux rangs 5 %, 27,5 %, 50 %, 72,5 % et "
           "95 % : les deux classes extrêmes isolent les 5 % de communes aux valeurs les plus basses et les "
           "plus hautes, les quatre autres en comptent chacune 22,5 % (la méthode Q6 : 20 %, 25 %, 25 %, 20 %)."),
    "Q6": ("Q6", "six classes, quantiles aux rangs 5 %, 25 %, 50 %, 75 % et 95 % : les deux classes "
           "extrêmes isolent les 5 % de communes aux valeurs les plus basses et les plus hautes."),
    "equal": ("Amplitudes égales", "classes de même étendue entre le minimum et le maximum."),
    "jenks": ("Seuils naturels (Jenks)", "les bornes minimisent la variance à l'intérieur des classes."),
    "fisher": ("Seuils naturels (Fisher)", "les bornes minimisent la variance à l'intérieur des classes."),
    "geom": ("Progression géométrique", "chaque borne multiplie la précédente par un même facteur, pour des "
             "distributions très dissymétriques."),
    "nested_means": ("Moyennes emboîtées", "la moyenne partage les valeurs en deux, puis chaque moitié à "
                     "nouveau par sa moyenne."),
    "headtails": ("Head/tail breaks", "la moyenne sépare la « tête » des grandes valeurs, redécoupée "
                  "tant qu'elle reste minoritaire."),
    "breaks": ("Seuils choisis", "bornes fixées par l'auteur de la carte (valeurs rondes ou seuils "
               "réglementaires), les mêmes sur toutes les cartes d'une série."),
    "prop": ("Cercles proportionnels", "la surface du cercle est proportionnelle à l'effectif ; les "
             "cartes d'une même série partagent une même échelle."),
}


def methods_used(atlas) -> list[str]:
    """The classification methods of the atlas's map recipes, in METHOD_NOTES order."""
    from mbm_sig.catalogue.layerdef import load_yaml
    found = set()
    for sec in getattr(atlas, "sections", []):
        for sh in sec.sheets:
            if not sh.recipe:
                continue
            with open(sh.recipe, encoding="utf-8") as fh:
                doc = load_yaml(fh) or {}
            for spec in doc.get("layers") or []:
                t = spec.get("type")
                if t in ("choro", "prop_choro", "q6"):
                    m = "q6" if t == "q6" else str(spec.get("method") or "quantile")
                    found.add(m if m in METHOD_NOTES else m.lower())
                if t in ("prop", "prop_choro"):
                    found.add("prop")
    return [m for m in METHOD_NOTES if m in found]


def _source_blocks(atlas, sources) -> list[list]:
    """Every source used by the atlas with its title, producer, vintage and licence, then
    a paragraph on each classification method used and the method notes. Package internals
    (file names, registries) stay in the source manifest."""
    blocks = []
    for s in sources:
        lines = [(fmt.typo(s.title), 9, "bold", INK, 3.0)]
        body = [f"Producteur : {s.producer} · Millésime : {s.vintage} · Licence : {s.licence}"]
        for line in body:
            lines += [(sub, 7.5, "normal", GREY, 6.0) for sub in textwrap.wrap(fmt.typo(line), 110)]
        blocks.append(lines)
    methods = methods_used(atlas)
    if methods:
        blocks.append([("Méthodes de représentation", 10, "bold", ACCENT, 3.0)])
        for m in methods:
            name, text = METHOD_NOTES[m]
            blocks.append([(sub, 7.5, "normal", INK, 3.0)
                           for sub in textwrap.wrap(fmt.typo(f"{name} : {text}"), 115)])
    for note in atlas.method_notes:
        blocks.append([(sub, 7.5, "normal", INK, 3.0) for sub in textwrap.wrap(fmt.typo(note), 115)])
    return blocks


def sources_pages(atlas, sources) -> list[Figure]:
    """The «Sources et méthodes» pages alone (the book flows them after the pending sheets:
    :func:`back_pages`)."""
    return back_pages(atlas, [], sources)[0]


def back_pages(atlas, pending, sources) -> tuple[list[Figure], int]:
    """The reader pages at the back of the book: «Cartes en attente de données» (when
    sheets wait) then «Sources et méthodes», flowed one after the other so that a short
    pending list shares its page with the sources, and a long one continues on the next page
    (never cut). Returns the figures and the index of the page where the sources begin."""
    parts = ([(PENDING_TITLE, _pending_blocks(pending))] if pending else []) + (
        [(SOURCES_TITLE, _source_blocks(atlas, sources))] if sources is not None else [])
    figs: list = []
    c, y, sources_at = None, 0.0, 0
    bottom = A4[1] - 22

    def new_page(title):
        nonlocal c, y
        if c is not None:
            _footer(c, atlas.title)
            figs.append(c.fig)
        c = Canvas()
        c.text(MARGIN, 30, title, size=20, weight="bold", color=ACCENT)
        c.hline(MARGIN, c.w - MARGIN, 35, color=ACCENT, lw=1.0)
        y = 46

    for title, blocks in parts:
        first_h = sum(4.4 if size > 8 else 3.8 for _, size, *_ in blocks[0]) + 3 if blocks else 0
        if c is None or y + 28 + first_h > bottom:         # never a title alone at the foot of a page
            new_page(title)
        else:                               # the part begins under the previous one
            y += 6
            c.text(MARGIN, y + 6, title, size=20, weight="bold", color=ACCENT)
            c.hline(MARGIN, c.w - MARGIN, y + 11, color=ACCENT, lw=1.0)
            y += 22
        if title == SOURCES_TITLE:
            sources_at = len(figs)
        for block in blocks:
            h = sum(4.4 if size > 8 else 3.8 for _, size, *_ in block) + 3
            if y + h > bottom:
                new_page(f"{title} (suite)")
            for text, size, weight, color, indent in block:
                c.text(MARGIN + indent - 3.0, y, text, size=size, weight=weight, color=color)
                y += 4.4 if size > 8 else 3.8
            y += 3
    _footer(c, atlas.title)
    figs.append(c.fig)
    return figs, sources_at


# internal identifiers of the basin's inventory (cités, terrils): the perimeter they belong to
# is what a reader needs; the identifier stays in the data
ID_PATTERN = re.compile(r"\b(BI|ZT)-\d{3,}\b")
PERIMETERS = {"BI": "bien inscrit", "ZT": "zone tampon"}
CONSTANT_MIN_ROWS = 3          # a column with one value on every row of at least this many is said once
DASH = "—"                     # a yes/no cell not filled in (protection not inventoried)


def reader_rows(columns: dict, rows: list[dict]) -> tuple[dict, list[dict]]:
    """The columns a table prints and its rows as a reader reads them: a column of internal
    identifiers («BI-0095», «ZT-0130») gives the perimeter they name («bien inscrit», «zone
    tampon»); a yes/no column's blank cells read «—» (said under the title); a column with
    one value on every row (the same EPCI on an EPCI's table) is left out and said once under
    the title (:func:`table_subtitle`). The rows keep every value (the page's key holds them)."""
    body = [r for r in rows if not r.get(TOTAL_KEY)]
    rows = [dict(r) for r in rows]
    for k in columns:
        vals = [r.get(k) for r in body if not _blank(r.get(k))]
        if vals and all(isinstance(v, str) and ID_PATTERN.fullmatch(v.strip()) for v in vals):
            for r in rows:
                v = r.get(k)
                if isinstance(v, str) and ID_PATTERN.fullmatch(v.strip()):
                    r[k] = PERIMETERS[v.strip()[:2]]
        elif vals and all(isinstance(v, bool) for v in vals) and len(vals) < len(body):
            for r in rows:
                if not r.get(TOTAL_KEY) and _blank(r.get(k)):
                    r[k] = DASH
    if any(r.get(k) == DASH for r in rows for k in columns):
        # the table says «— : non renseigné»: its blank text cells read so too (a cité
        # whose company the inventory leaves empty), not an empty cell beside a «—»
        for k in columns:
            vals = [r.get(k) for r in body if not _blank(r.get(k))]
            if vals and all(isinstance(v, str) for v in vals):
                for r in rows:
                    if not r.get(TOTAL_KEY) and _blank(r.get(k)):
                        r[k] = DASH
    body = [r for r in rows if not r.get(TOTAL_KEY)]
    keys = list(columns)
    shown = {k: t for i, (k, t) in enumerate(columns.items())
             if i == 0 or len(body) < CONSTANT_MIN_ROWS or len({_cell(r.get(k)) for r in body}) > 1
             or any(r.get(TOTAL_KEY) and r.get(k) is not None for r in rows)}
    if len(shown) < 2:                  # a table keeps at least its first two columns
        shown = {k: columns[k] for k in keys[:2]}
    return shown, rows


def _blank(v) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def table_subtitle(columns: dict, shown: dict, rows: list[dict]) -> str:
    """The line under a table's title: the value of each column left out because every row
    holds it, and what «—» means when a cell reads it."""
    body = [r for r in rows if not r.get(TOTAL_KEY)]
    parts = [f"{fmt.typo(str(t))} : {_cell(body[0].get(k)) or 'non renseigné'}"
             for k, t in columns.items() if k not in shown and body]
    if any(r.get(k) == DASH for r in body for k in shown):
        parts.append(f"{DASH} : non renseigné")
    return " · ".join(parts)


TOTAL_KEY = "__total__"        # a row flagged so is the table's total line (drawn in bold)
ROW_STEP = 4.7                 # mm between two lines of the table body


def table_page(atlas, title: str, columns: dict, rows: list[dict], part: int, parts: int,
               note: str = "", more: list | None = None, subtitle: str = "", widths=None) -> Figure:
    """One page of an attribute table: wrapped headers, numbers right-aligned, zebra rows;
    text cells wrap on as many lines as they need (never cut), a total row is set in bold
    under a rule. ``subtitle``: a line under the title (the columns every row shares).
    ``more``: the short tables that follow on the same page, as (title, columns, rows, note[,
    subtitle]), each under its own title. ``widths``: the column widths of the whole table
    (:func:`table_widths`), the same on each of its pages; by default those of ``rows``."""
    c = Canvas()
    suffix = f" ({part}/{parts})" if parts > 1 else ""
    title = fmt.typo(title)
    size = 14.0
    while size > 9 and measure(title + suffix, size, "bold")[0] > c.w - 2 * MARGIN:
        size -= 0.5          # long titles shrink to the measure rather than run off the page
    c.text(MARGIN, 26, title + suffix, size=size, weight="bold", color=ACCENT)
    c.hline(MARGIN, c.w - MARGIN, 30, color=ACCENT, lw=0.8)
    more = more or []
    notes = [note] + [m[3] for m in more]
    # a source note shared by the next table is printed once, under the last of them
    notes = [n if k == len(notes) - 1 or n != notes[k + 1] else "" for k, n in enumerate(notes)]
    y = 36.0
    if subtitle:
        c.text(MARGIN, 35, fmt.typo(subtitle), size=8, color=GREY)
        y = 39.0
    y = _draw_table(c, y, columns, rows, notes[0], last=not more, widths=widths)
    for k, (sub_title, sub_cols, sub_rows, _, *sub) in enumerate(more, start=1):
        y += 9
        c.text(MARGIN, y, fmt.typo(sub_title), size=11, weight="bold", color=ACCENT)
        c.hline(MARGIN, c.w - MARGIN, y + 2.5, color=ACCENT, lw=0.5)
        if sub and sub[0]:
            c.text(MARGIN, y + 6.5, fmt.typo(sub[0]), size=8, color=GREY)
            y += 3.5
        y = _draw_table(c, y + 6.5, sub_cols, sub_rows, notes[k], last=k == len(more))
    _footer(c, atlas.title)
    return c.fig


def _draw_table(c: Canvas, y: float, columns: dict, rows: list[dict], note: str, last: bool = True,  # noqa: C901
                widths=None) -> float:
    """The table from ``y`` (mm) down; returns the y under it (its note included). The
    last table of a page may tighten its lines to the page, never cut them. ``widths``: the
    whole table's (the same on its every page), else those of ``rows``."""
    keys = list(columns)
    width = c.w - 2 * MARGIN
    body = [r for r in rows if not r.get(TOTAL_KEY)]
    totals = [r for r in rows if r.get(TOTAL_KEY)]
    if widths is not None and len(widths) == len(keys):
        numeric, widths = _numeric(columns, rows), list(widths)
    else:
        numeric, widths = _columns(columns, rows, width)
    width = sum(widths)                 # the table's own width (a narrow table is not stretched)
    x_pos = [MARGIN + sum(widths[:i]) for i in range(len(widths))]
    headers = [_wrap_mm(header_text(columns[k]), w - 2.4, 6.6) for k, w in zip(keys, widths, strict=True)]
    n_lines = max(len(h) for h in headers)
    head_h = 2.5 + 3.2 * n_lines
    c.rect(MARGIN, y, width, head_h, facecolor=LIGHT)
    for k, x, w, h in zip(keys, x_pos, widths, headers, strict=True):
        for j, line in enumerate(h):
            tx, ha = (x + w - 1.2, "right") if numeric[k] else (x + 1.2, "left")
            c.text(tx, y + 3.6 + 3.2 * j, line, size=6.6, weight="bold", ha=ha)
    y += head_h + 3.6
    # every cell wrapped to its column; a row is as tall as its tallest cell
    cells = [[_cell_lines(r.get(k), w - 2.4, numeric[k]) for k, w in zip(keys, widths, strict=True)]
             for r in body + totals]
    heights = [max(len(cl) for cl in row) for row in cells]
    n_note = len(textwrap.wrap(fmt.typo(note), 120)) if note else 0
    room = (c.h - 26) - y - (3.3 * n_note + 2 if note else 0)
    step = ROW_STEP
    if last and sum(heights) * step > room:    # long wrapped rows: tighten the lines, never cut
        step = max(3.0, room / max(sum(heights), 1))
    n_body = len(body)
    line = 0
    for i, h in enumerate(heights[:n_body]):
        if i % 2:
            c.rect(MARGIN, y + step * line - 0.72 * step, width, step * h, facecolor="#faf7f3")
        line += h
    for j, (k, x, w) in enumerate(zip(keys, x_pos, widths, strict=True)):
        lines = []
        for row, h in zip(cells[:n_body], heights[:n_body], strict=True):
            lines += row[j] + [""] * (h - len(row[j]))
        if numeric[k]:
            c.column(x + w - 1.2, y, lines, 6.8, step, ha="right")
        else:
            c.column(x + 1.2, y, lines, 6.8, step)
    y += step * line
    if not rows:
        c.text(MARGIN + 1.2, y, "Aucune entrée.", size=7, color=GREY, style="italic")
        y += step
    if totals:
        c.hline(MARGIN, MARGIN + width, y - 3.2, color=INK, lw=0.5)
        for row, h in zip(cells[n_body:], heights[n_body:], strict=True):
            for j, (k, x, w) in enumerate(zip(keys, x_pos, widths, strict=True)):
                if numeric[k]:
                    c.column(x + w - 1.2, y, row[j], 6.8, step, ha="right", weight="bold")
                else:
                    c.column(x + 1.2, y, row[j], 6.8, step, weight="bold")
            y += step * h
    c.hline(MARGIN, MARGIN + width, y - 2.8, color=GREY, lw=0.3)
    n_note = 0
    if note:
        for j, line_ in enumerate(textwrap.wrap(fmt.typo(note), 120)):
            c.text(MARGIN, y + 1.5 + 3.3 * j, line_, size=6.3, color=GREY)
            n_note = j + 1
    return y + 3.3 * n_note


def shares_page(tables: list[tuple]) -> bool:
    """Whether these tables — (columns, rows[, column widths]) each: the first may be a longer
    table's last page, at its table's widths — fit one page together, at the normal line
    spacing (each further table costs its title and header: about six lines) or with the last
    table's lines a little closer (at most :data:`SHARE_SLACK` lines over the page, and never
    under :data:`SHARE_MIN_STEP` between its lines)."""
    fills = [_page_fill(*t) for t in tables]
    lines = sum(f + 6 for f in fills) - 6
    over = lines - TABLE_LINES
    return over <= 0 or (over <= SHARE_SLACK and fills[-1] * (ROW_STEP - SHARE_MIN_STEP) >= over * ROW_STEP)


def _columns(columns: dict, rows: list[dict], width: float):
    """(numeric flag per column, column widths in mm) of a table."""
    keys = list(columns)
    numeric = _numeric(columns, rows)
    heads = [header_width(header_text(columns[k])) for k in keys]
    words = [_longest_word(header_text(columns[k])) for k in keys]
    cells = [max([measure(_cell(r.get(k)), 6.8, "bold" if r.get(TOTAL_KEY) else "normal")[0] for r in rows]
                 or [0.0]) for k in keys]           # the total line is set in bold
    return numeric, _sized(heads, words, cells, [numeric[k] for k in keys], width)


def _numeric(columns: dict, rows: list[dict]) -> dict:
    """Per column: whether its body cells are all numbers (right-aligned) or empty."""
    body = [r for r in rows if not r.get(TOTAL_KEY)]
    return {k: all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in body) for k in columns}


def _sized(heads, words, cells, numeric, width: float) -> list[float]:
    """Column widths from each column's header width, longest header word, widest cell and
    numeric flag: natural widths (cells counted up to 60 mm), floors, the room the cells want,
    shared out on ``width`` (:func:`_share`)."""
    weights = [max(h, min(c, 60.0), 8.0) + 2.6 for h, c in zip(heads, cells, strict=True)]
    floors = [max(f, min(c, 60.0) if num else 0.0) + 2.6 for f, c, num in zip(words, cells, numeric, strict=True)]
    want = [max(h, c, 8.0) + 2.6 for h, c in zip(heads, cells, strict=True)]
    return _share(weights, width, floors, want)


HEADER_LINES = 3               # a column header wraps on at most three lines, on spaces only
NBSP = "\u00a0"


@functools.lru_cache(maxsize=512)
def header_text(title) -> str:
    """A column title as its header prints it (French typography): a number, a year or a «+»
    stays with the word before it («10 000», «RP 2021», «et +»), wrapped on the other spaces."""
    t = fmt.typo(str(title))
    return re.sub(r" (?=\d|\+)", NBSP, t)


@functools.lru_cache(maxsize=512)
def _longest_word(text: str) -> float:
    return max((measure(w, 6.6, "bold")[0] for w in text.split(" ")), default=0.0)


@functools.lru_cache(maxsize=512)
def header_width(text: str) -> float:
    """The narrowest width (mm) a column header takes wrapped on spaces on at most
    :data:`HEADER_LINES` lines, never under its longest word."""
    lo, hi = _longest_word(text), measure(text, 6.6, "bold")[0]
    if len(_wrap_mm(text, lo, 6.6)) <= HEADER_LINES:
        return lo
    for _ in range(30):
        mid = (lo + hi) / 2
        if len(_wrap_mm(text, mid, 6.6)) <= HEADER_LINES:
            hi = mid
        else:
            lo = mid
    return hi + 0.05


# lines of the table body a page holds (A4 portrait, header of two lines, a note)
TABLE_LINES = 46
# a table that fits one page with its lines closer (3.8 mm instead of 4.7 mm) stays on one page
TIGHT_LINES = 54
# lines over a page two tables may hold together, the last one's lines closer (mm at least)
SHARE_SLACK = 2
SHARE_MIN_STEP = 4.3


class _Measured:
    """The cells of a table measured once, for :func:`paginate`: page widths and heights
    then cost a few lookups (the widths follow the rows on the page, as in table_page)."""

    def __init__(self, columns: dict, rows: list[dict]):
        self.keys = list(columns)
        body = [r for r in rows if not r.get(TOTAL_KEY)]
        self.numeric = [all(isinstance(r.get(k), (int, float)) or r.get(k) is None for r in body) for k in self.keys]
        self.head = [header_width(header_text(columns[k])) for k in self.keys]
        self.floor = [_longest_word(header_text(columns[k])) for k in self.keys]
        self.cells = [[_cell(r.get(k)) for k in self.keys] for r in rows]
        self.cw = [[measure(c, 6.8, "bold" if r.get(TOTAL_KEY) else "normal")[0] for c in row]
                   for r, row in zip(rows, self.cells, strict=True)]
        self._widths: dict = {}
        self._lines: dict = {}

    def widths(self, maxcw: tuple) -> list:
        if maxcw not in self._widths:
            self._widths[maxcw] = _sized(self.head, self.floor, maxcw, self.numeric, A4[0] - 2 * MARGIN)
        return self._widths[maxcw]

    def height(self, i: int, widths) -> int:
        h = 1
        for j, w in enumerate(widths):
            s = self.cells[i][j]
            if self.numeric[j] or not s or self.cw[i][j] <= w - 2.4:
                continue
            key = (s, round(w, 2))
            if key not in self._lines:
                self._lines[key] = len(_cell_lines(s, w - 2.4, False))
            h = max(h, self._lines[key])
        return h


def table_widths(columns: dict, rows: list[dict]) -> tuple:
    """The column widths (mm) of a table, from all its rows: the same on each of its pages
    (a continuation page whose names are shorter does not narrow or rewrap its columns)."""
    return tuple(_columns(columns, rows, A4[0] - 2 * MARGIN)[1])


def _fill(m: _Measured, rows, capacity) -> list[list[dict]]:
    """The rows in pages of at most ``capacity`` body lines, in order, at the column widths of
    the whole table (:func:`table_widths`); a total row stays with the page before it."""
    w = m.widths(tuple(max(c) for c in zip(*m.cw, strict=True)))
    pages_, cur, used = [], [], 0
    for i, r in enumerate(rows):
        h = m.height(i, w)
        if cur and not r.get(TOTAL_KEY) and used + h > capacity:
            pages_.append([rows[j] for j in cur])
            cur, used = [], 0
        cur.append(i)
        used += h
    return pages_ + [[rows[j] for j in cur]]


def _page_fill(columns: dict, rows: list[dict], widths=None) -> int:
    """Body lines a page of ``rows`` takes (as table_page wraps them), at ``widths`` (its
    table's, when the page is one part of a longer table) or at its own."""
    if not rows:
        return 0
    m = _Measured(columns, rows)
    w = (list(widths) if widths is not None and len(widths) == len(columns)
         else m.widths(tuple(max(c) for c in zip(*m.cw, strict=True))))
    return sum(m.height(i, w) for i in range(len(rows)))


TIGHT_STEP = 3.8               # mm between lines of a table kept on one page with closer lines


def _one_page_lines(columns: dict, rows: list[dict], note: str | None) -> int:
    """Body lines one page holds at the closer spacing, under this table's header (its
    wrapped height) and above its note (``None``: a note of two lines)."""
    width = A4[0] - 2 * MARGIN
    _, widths = _columns(columns, rows, width)
    head = max(len(_wrap_mm(header_text(columns[k]), w - 2.4, 6.6)) for k, w in zip(columns, widths, strict=True))
    n_note = 2 if note is None else len(textwrap.wrap(fmt.typo(note), 120))
    room = (A4[1] - 26) - (36 + 2.5 + 3.2 * head + 3.6) - (3.3 * n_note + 2)
    return min(TIGHT_LINES, int(room // TIGHT_STEP))


def paginate(columns: dict, rows: list[dict], note: str | None = None) -> list[list[dict]]:
    """The rows of a table cut into pages by their height once wrapped (a long name takes
    two lines), as few pages as possible, then the lines shared evenly between them so
    that no last page is left nearly empty; a total row stays with the last page. A table
    that fits one page with its lines a little closer stays on one page (``note``: the
    source note printed under it)."""
    if not rows:
        return [[]]
    m = _Measured(columns, rows)
    if len(_fill(m, rows, _one_page_lines(columns, rows, note))) == 1:
        return [rows]          # one page with its lines a little closer rather than two half-empty
    best = _fill(m, rows, TABLE_LINES)
    n = len(best)
    if n == 1:
        return best
    lo, hi = 1, TABLE_LINES                 # the smallest capacity that keeps n pages
    while lo < hi:
        mid = (lo + hi) // 2
        if len(_fill(m, rows, mid)) <= n:
            hi = mid
        else:
            lo = mid + 1
    return _fill(m, rows, lo)


def _cell_lines(v, width_mm: float, numeric: bool) -> list[str]:
    """A cell on as many lines as its column needs (numbers stay on one line)."""
    s = _cell(v)
    if not s or numeric or measure(s, 6.8)[0] <= width_mm:
        return [s]
    # break between words, and after the hyphen of a compound (Vicoigne-Nœux-Drocourt), never
    # inside an identifier or a number range (BI-0112, 24-25)
    parts = []
    for word in s.split(" "):
        pieces = re.findall(r"(?:[^-]|-(?=\d))+-?|-", word)
        parts += [(p, i == 0) for i, p in enumerate(pieces)]
    lines, cur = [], ""
    for piece, new_word in parts:
        cand = (f"{cur} {piece}" if new_word else cur + piece).strip() if cur else piece
        if cur and measure(cand, 6.8)[0] > width_mm:
            lines.append(cur)
            cur = piece
        else:
            cur = cand
    return lines + ([cur] if cur else [])


SPREAD_MAX = 0.25      # share of its width a column of a narrow table grows by at most: not stretched


def _share(natural: list[float], width: float, floors: list[float] | None = None,
           want: list[float] | None = None) -> list[float]:
    """Column widths: the natural widths when they fit, else the widest columns are capped
    (water-filling) so that short columns keep their full width, never below their
    ``floors`` (a header's longest word, a number). Spare width first goes to the columns
    whose cells are wider than their natural width (``want``: their longest cell, which then
    wraps less), then in proportion to the widths, each column growing by at most
    :data:`SPREAD_MAX` of its width: a table of two or three short columns keeps about its own
    width instead of spreading them across the page."""
    total = sum(natural)
    if total <= width:
        out, spare = list(natural), width - total
        need = [max(0.0, v - w) for w, v in zip(natural, want or natural, strict=True)]
        if sum(need) > 0:
            give = min(spare, sum(need))
            out = [w + give * n / sum(need) for w, n in zip(out, need, strict=True)]
            spare -= give
        # the rest in proportion to the widths, each column at most a quarter wider
        total = sum(out)
        return [w + min(spare * w / total, SPREAD_MAX * w) for w in out]
    fl = [min(f, w) for f, w in zip(floors or [0.0] * len(natural), natural, strict=True)]
    lo, hi = 0.0, max(natural)
    for _ in range(40):                     # the cap c with sum(max(floor, min(w, c))) == width
        c = (lo + hi) / 2
        if sum(max(f, min(w, c)) for w, f in zip(natural, fl, strict=True)) > width:
            hi = c
        else:
            lo = c
    return [max(f, min(w, lo)) for w, f in zip(natural, fl, strict=True)]


def _wrap_mm(text: str, width_mm: float, size: float) -> list[str]:
    """Words wrapped to a measured width on spaces (never on a no-break space); a word is
    never broken."""
    lines, line = [], ""
    for word in text.split(" "):
        if not word:
            continue
        cand = f"{line} {word}".strip()
        if line and measure(cand, size, "bold")[0] > width_mm:
            lines.append(line)
            line = word
        else:
            line = cand
    return lines + [line] if line else lines


def _fit(s: str, width_mm: float, size: float) -> str:
    """``s`` cut with an ellipsis so that it fits ``width_mm`` (measured, not guessed)."""
    if not s or measure(s, size)[0] <= width_mm:
        return s
    lo, hi = 0, len(s)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(s[:mid] + "…", size)[0] <= width_mm:
            lo = mid
        else:
            hi = mid - 1
    return s[:lo].rstrip() + "…"


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return "oui" if v else "non"
    if isinstance(v, float):
        return fmt.num(v, 1)
    if isinstance(v, int):
        return fmt.num(v, 0)
    return fmt.french_text(" ".join(str(v).split()))   # one line: line breaks and tabs become spaces


def number_overlay(number: int, total: int, size=A4) -> Figure:
    c = Canvas(size)
    c.fig.patch.set_visible(False)      # transparent: merged over the page
    # top right: the one corner no map sheet uses (credits fill the bottom right)
    c.text(c.w - 10, 6.5, f"{number} / {total}", size=7, color=GREY, ha="right")
    return c.fig


def close(fig) -> None:
    fig.clear()


def save_pdf(figs, path, metadata: dict) -> None:
    """Book pages (figures) into one PDF (atomically), with the print settings of the map sheets."""
    write_pdf(figs, path, metadata, close=close)
