"""``mbm-sig check ATLAS``: automated cartographic checks of a produced atlas.

The atlas is rendered as ``mbm-sig atlas`` renders it; every page of the book is read
back from the PDF (each text with its font size, its halo and the ink of its glyphs,
:mod:`mbm_sig.check.pdf`), and each map sheet's render information (frame, ground extent,
orientation, layout, legends with their colours and classes, labels left unplaced) is
taken from the renderer, drawn again in this process with the atlas's series. What the
reader sees is judged on the PDF (texts, their sizes, boxes, overlaps, words); what the
PDF cannot tell (which colour is which class, which sheets belong to one series) comes
from the render information.

Per page (:data:`CHECKS`):

- ``small-text``: text below 6 pt;
- ``overlap``: two printed texts whose ink (grown by its halo) overlaps, glyph by glyph;
- ``label-symbols``: a map label (a text with a halo inside the frame) whose ink or halo
  covers a point symbol of the sheet (positions and radii from the render information); a
  town is accepted over them only when no clear place lies next to its commune;
- ``frame``: a text crossing the edge of the map frame, or inside it with its ink less than
  0.5 mm from the frame line (cut by it, its halo over it, or glued to it);
- ``page-edge``: a text beyond the page or within 3 mm of its edge (cut at trimming);
- ``legend-colours``: two entries of one categorical legend too close in colour
  (CIEDE2000 < 10 in normal vision or under simulated deuteranopia, same symbol shape;
  for point symbols below 3 mm and thin lines < 20, < 15 under deuteranopia, shapes of one
  family counting as one), more than one entry that reads as black (L* ≤ 25), more than
  10 categories, or two adjacent classes of a ramp less than 8 apart in L*
  (:mod:`mbm_sig.maps.colorcheck`);
- ``count-decimals``: a legend of whole numbers printed with decimals («94,0»), read from
  the texts printed in the legend's box;
- ``legend-touch``: two texts of one legend set so close that they touch (on one line,
  closer than a word space; one above the other, less than 0.1 mm apart);
- ``outlier-class``: the top (or bottom) class of a choropleth holding a single feature;
- ``unnamed-towns``: a commune the town rule says must be named (≥ 10 000 inhabitants
  inside the frame; on basin-wide maps the arrondissement seats and ≥ 20 000) not printed
  inside the frame;
- ``town-distance``: a town label whose ink lies farther than
  :data:`~mbm_sig.maps.labels.TOWN_MAX_MM` (3 mm) from its commune's anchor (drifted away);
- ``town-context``: a town outside the map's subject (Lille on a basin map) printed bold or
  at the size of the subject's towns;
- ``label-ambiguity``: a point label (a terril's number) nearer another symbol than its own;
- ``label-covered``: a map label whose glyphs are painted over by something drawn after it
  (a symbol above the labels: z-order), read from the PDF's painting order;
- ``near-empty-table``: a table page that could share its page with the next or previous
  table page, the last part of a table holding under a quarter of the rows of its fullest
  part or under a quarter full, or a table page under a quarter full;
- ``table-headers``: a table's column header wrapped on more than three lines, or a word of
  it broken across lines;
- ``table-columns``: an internal identifier («BI-0095», «ZT-0130») printed in a table, or a
  column holding the same value on every row;
- ``table-order``: table rows not in French alphabetical order (œ as oe, accents ignored);
- ``reader-text``: a command line, a file path, a package internal or an internal word
  («catalogue», «couche», «champ», «import», «Lambert-93»…) on a page;
- ``typography``: straight apostrophes or quotes, spaced hyphens, «n°14», «oe» for «œ»…;
- ``official-names``: a commune name printed with other letters than its official
  spelling («Conde-sur-l’Escaut» for Condé-sur-l’Escaut).

Across the sheets of the atlas (:data:`SERIES_CHECKS`):

- ``series-classes``: one indicator (one legend title) drawn with different breaks or
  colours on different sheets;
- ``series-layout``: the pages of one series (one sheet iterated over a coverage, or the
  basin maps of the atlas: one page format, orientation and extent) with different
  orientations or legend positions, or whose map frame (size, place), credits or legend
  corner lie more than 1 mm apart;
- ``series-town-positions``: the same town on two sheets of one frame printed more than
  1 mm apart although each could have printed it where the other does.

Exit status 0 only when every page is clean, 1 when a check fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mbm_sig.check import labels as label_checks
from mbm_sig.check import text as wording
from mbm_sig.check.pdf import PT_MM, PageText, read_pdf
from mbm_sig.errors import InvalidInput
from mbm_sig.maps import colorcheck
from mbm_sig.maps.labels import MIN_SIZE, TownRule, towns

SMALL_TOLERANCE = 0.05          # pt: 5.96 pt is 6 pt
OVERLAP_MM2 = 0.02              # glyph overlap below this is two texts touching by rounding
FRAME_LINE_MM = 0.11            # half the frame line (0.6 pt): a label's halo or ink reaching it touches the line
FRAME_CLEAR_MM = 0.5            # a label's ink closer to the frame line than this is glued to it
PAGE_MARGIN_MM = 3.0            # no ink closer to the trimmed page edge
TABLE_MARGIN_MM = 12.0          # running header and footer of table pages
TABLE_SHORT = 1 / 2             # a table page under half full may share its page
TABLE_SHARE_GAP = 0.05          # of the page: the space between two tables on one page (their titles apart)
TABLE_NEAR_EMPTY = 1 / 4        # a table page under a quarter full is near empty
OUTLIER_MIN_FEATURES = 10       # a class of one feature among at least this many


@dataclass(frozen=True)
class Problem:
    page: int
    sheet: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"p. {self.page} «{self.sheet}» [{self.check}] {self.detail}"


@dataclass
class Sheet:
    """One page of the book, as the checks see it."""

    number: int
    title: str
    kind: str                               # cover, toc, map, table, chart, pending, sources, book
    text: PageText
    frame_mm: tuple | None = None           # x, y (top-left), w, h
    extent: tuple | None = None             # ground bbox of the frame (EPSG:2154)
    legends: list = field(default_factory=list)     # dicts: kind, title, labels, entries [(label, colour, shape)],
                                                    # breaks, colors, bbox, counts
    towns: Any = None                    # DataFrame nom, population, seat, x, y (None: not checked)
    rule: TownRule = TownRule()
    focus: Any = None                    # the coverage feature (geometry): only its towns are required
    unplaced: list = field(default_factory=list)    # labels the renderer listed as unplaced
    next_kind: str | None = None
    prev_kind: str | None = None
    next_fill: float | None = None          # filled share of the neighbouring table pages
    prev_fill: float | None = None
    part: tuple = (1, 1)                    # table: part k of n
    rows: list | None = None                # table: the sort column's values, in printed order
    sort: tuple = ()                        # table: the sort columns
    series: str | None = None               # the sheet this page repeats (one per coverage feature)
    orientation: str | None = None
    layout: str | None = None
    official: Any = None                 # wording.OfficialNames of the communes (None: not checked)
    symbols: Any = None                  # point symbols drawn: array (x mm, y mm, radius mm), and layer names
    circles: Any = None                  # proportional circles drawn: the same form
    subject: Any = None                  # the map's subject (geometry): towns outside it are context
    point_labels: list | None = None     # labels set beside their symbol: (text, x mm, y mm, radius mm)
    credits_box: tuple | None = None        # the credits block printed: x0, y0, x1, y1 (mm)
    headers: list | None = None             # table: the column titles of the tables on the page
    part_rows: list | None = None           # table: the rows of each part of the table
    cells: list | None = None               # table: the printed cells of the tables on the page, by column


# ------------------------------------------------------------------------------ checks

def check_small_text(s: Sheet) -> list[str]:
    small = [r for r in s.text.runs if r.size < MIN_SIZE - SMALL_TOLERANCE]
    if not small:
        return []
    ex = ", ".join(f"«{r.text[:30]}» {r.size:g} pt" for r in small[:5])
    return [f"{len(small)} text(s) below {MIN_SIZE:g} pt: {ex}"]


def _area(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _grow(b, d):
    return (b[0] - d, b[1] - d, b[2] + d, b[3] + d)


def ink_overlap(a, b) -> float:
    """Area (mm²) where the ink of one run, grown by its halo, covers the ink of the other
    (the larger of the two ways), glyph by glyph."""
    best = 0.0
    for p, q in ((a, b), (b, a)):
        ga = [_grow(g, p.halo) for g in (p.glyphs or (p.bbox,))]
        gb = q.glyphs or (q.bbox,)
        tot = 0.0
        for x in ga:
            for y in gb:
                tot += _area(x, y)
        best = max(best, tot)
    return best


def check_overlap(s: Sheet) -> list[str]:
    runs = [r for r in s.text.runs if not r.rotated]       # a rotated stamp overlaps the map by design
    if len(runs) < 2:
        return []
    b = np.array([r.outer() for r in runs])
    out = []
    order = np.argsort(b[:, 0])
    for k, i in enumerate(order):
        for j in order[k + 1:]:
            if b[j, 0] >= b[i, 2]:
                break
            if _area(b[i], b[j]) > 0 and ink_overlap(runs[i], runs[j]) > OVERLAP_MM2:
                a, c = sorted((runs[i], runs[j]), key=lambda r: (r.bbox[1], r.bbox[0]))
                out.append(f"«{a.text[:30]}» overlaps «{c.text[:30]}» at x {a.cx:.0f} mm, y {a.cy:.0f} mm")
    return out


def check_label_symbols(s: Sheet) -> list[str]:
    """A printed map label whose ink or halo covers a point symbol (a puits, a terril, a
    hospital): the symbol is hidden or cut by the text."""
    if s.symbols is None or not s.frame_mm:
        return []
    xy_r, names = s.symbols
    if not len(xy_r):
        return []
    fx, fy, fw, fh = s.frame_mm
    anchors = label_checks.town_anchors(s)
    out = []
    for r in s.text.runs:
        if r.rotated or not r.halo or not (fx <= r.cx <= fx + fw and fy <= r.cy <= fy + fh):
            continue            # map labels only (set with a halo, inside the frame)
        o = r.outer()
        near = ((xy_r[:, 0] + xy_r[:, 2] > o[0]) & (xy_r[:, 0] - xy_r[:, 2] < o[2])
                & (xy_r[:, 1] + xy_r[:, 2] > o[1]) & (xy_r[:, 1] - xy_r[:, 2] < o[3]))
        hit = []
        for k in np.flatnonzero(near):
            x, y, rad = xy_r[k]
            for g in r.glyphs or (r.bbox,):
                g = _grow(g, r.halo)
                dx = max(g[0] - x, 0, x - g[2])
                dy = max(g[1] - y, 0, y - g[3])
                if dx * dx + dy * dy < (rad * 0.8) ** 2:        # more than the symbol's rim
                    hit.append(k)
                    break
        if not hit:
            continue
        town = label_checks._town_of(r, anchors)
        free = label_checks.clear_place_near(s, r, town[:2]) if town is not None else None
        if town is not None and free is None:
            continue            # a town with no clear place next to its commune overlays them with its halo
        layers = ", ".join(dict.fromkeys(names[k] for k in hit))
        out.append(f"«{r.text[:30]}» covers {len(hit)} point symbol(s) ({layers}) at x {r.cx:.0f} mm, "
                   f"y {r.cy:.0f} mm" + (f" although a clear place next to its commune exists (x {free[0]:.0f} mm, "
                                         f"y {free[1]:.0f} mm)" if free else ""))
    return out


def check_frame(s: Sheet) -> list[str]:
    if not s.frame_mm:
        return []
    x, y, w, h = s.frame_mm
    fx0, fy0, fx1, fy1 = x, y, x + w, y + h
    out = []
    for r in s.text.runs:
        if r.rotated:
            continue
        b = r.bbox
        inside_v = b[3] > fy0 and b[1] < fy1
        inside_h = b[2] > fx0 and b[0] < fx1
        crosses = ((inside_v and (b[0] < fx0 < b[2] or b[0] < fx1 < b[2]))
                   or (inside_h and (b[1] < fy0 < b[3] or b[1] < fy1 < b[3])))
        if crosses:
            out.append(f"«{r.text[:30]}» crosses the map frame")
            continue
        if not (b[0] >= fx0 and b[2] <= fx1 and b[1] >= fy0 and b[3] <= fy1):
            continue                # outside the frame: furniture, titles
        gaps = {"top": b[1] - fy0, "bottom": fy1 - b[3], "left": b[0] - fx0, "right": fx1 - b[2]}
        side, ink = min(gaps.items(), key=lambda kv: kv[1])
        if ink < FRAME_CLEAR_MM:
            what = ("its ink is cut by the frame line" if ink < FRAME_LINE_MM else
                    "its halo reaches the frame line" if ink - r.halo < FRAME_LINE_MM else
                    "glued to the frame line")
            out.append(f"«{r.text[:30]}» touches the {side} edge of the map frame ({what}: ink {ink:.2f} mm "
                       f"from the line, at least {FRAME_CLEAR_MM:g} mm wanted)")
    return out


def check_page_edge(s: Sheet) -> list[str]:
    W, H = s.text.size_mm
    out = []
    for r in s.text.runs:
        b = r.bbox
        gap = min(b[0], b[1], W - b[2], H - b[3])
        if gap < PAGE_MARGIN_MM:
            what = "cut at the page edge" if gap < 0 else f"{gap:.1f} mm from the page edge (trimmed at print)"
            out.append(f"«{r.text[:30]}» {what}")
    return out


def check_legend_colours(s: Sheet) -> list[str]:
    """Categorical legends: pairs too close in colour for the symbols' size, near-blacks,
    too many entries (:func:`mbm_sig.maps.colorcheck.legend_problems`); classed legends:
    adjacent classes of a ramp too close in lightness (:func:`~mbm_sig.maps.colorcheck.weak_steps`)."""
    out = []
    for lg in s.legends:
        title = lg.get("title") or ""
        if lg.get("kind") in ("typo", "symbols") and len(lg.get("entries") or []) >= 2:
            for d in colorcheck.legend_problems(lg["entries"], lg.get("geometry"), lg.get("size_mm")):
                out.append(f"legend «{title}»: {d}")
        if lg.get("breaks") is not None and len(lg.get("colors") or []) >= 3:
            for st in colorcheck.weak_steps(lg["colors"]):
                out.append(f"legend «{title}»: {st}")
    return out


_NUM = re.compile(r"^[<>≤≥]?\s*-?[\d\u202f\u00a0 ]+(,\d+)?\s*$")


def legend_texts(s: Sheet, lg) -> list[str]:
    """The texts printed inside a legend block's box (what the reader sees), else the
    labels the renderer reported."""
    b = lg.get("bbox")
    if b and s.text is not None:
        inside = [r.text for r in s.text.runs if b[0] - 0.5 <= r.cx <= b[2] + 0.5 and b[1] - 0.5 <= r.cy <= b[3] + 0.5]
        if inside:
            return inside
    return [str(v) for v in lg.get("labels") or []]


def check_count_decimals(s: Sheet) -> list[str]:
    out = []
    for lg in s.legends:
        labels = [v.strip() for v in legend_texts(s, lg)]
        nums = [v for v in labels if _NUM.match(v)]
        if len(nums) >= 2 and all("," in v and set(v.split(",")[1].strip()) == {"0"} for v in nums):
            out.append(f"legend «{lg.get('title') or ''}»: whole numbers printed with decimals ("
                       + " / ".join(nums[:4]) + ")")
        elif (lg.get("extremes") or {}).get("integers") and any("," in v for v in nums):
            out.append(f"legend «{lg.get('title') or ''}»: classes of a count (whole numbers) bounded by decimals ("
                       + " / ".join(nums[:6]) + ")")
    return out


LEGEND_TOUCH_EM = 0.3           # two legend texts on one line closer than a word space read as one
LEGEND_TOUCH_MM = 0.1           # two lines of a legend closer than this touch


def check_legend_touch(s: Sheet) -> list[str]:
    """Two texts of one legend whose inks touch (the labels of reference circles, of
    classes): measured on the PDF."""
    out = []
    for lg in s.legends:
        b = lg.get("bbox")
        if not b or s.text is None:
            continue
        runs = [r for r in s.text.runs if not r.rotated
                and b[0] - 0.5 <= r.cx <= b[2] + 0.5 and b[1] - 0.5 <= r.cy <= b[3] + 0.5]
        for i, a in enumerate(runs):
            for c in runs[i + 1:]:
                dx = max(a.bbox[0] - c.bbox[2], c.bbox[0] - a.bbox[2])
                dy = max(a.bbox[1] - c.bbox[3], c.bbox[1] - a.bbox[3])
                space = LEGEND_TOUCH_EM * min(a.size, c.size) * PT_MM
                touch = (dy < 0 and dx < space) or (dx < 0 and dy < LEGEND_TOUCH_MM)
                if touch and ink_overlap(a, c) <= OVERLAP_MM2:
                    out.append(f"legend «{lg.get('title') or ''}»: «{a.text[:20]}» and «{c.text[:20]}» touch "
                               f"({max(dx, dy, 0):.2f} mm apart)")
    return out


def check_outlier_class(s: Sheet) -> list[str]:
    """An extreme class holding a single feature set apart from the others: its value lies
    farther from the next one than a third of the range of all the others (the legend's
    classes stretched for one outlier). A lone feature in the top class of classes shared
    by a series (basin breaks on an arrondissement) is no outlier and is not reported."""
    out = []
    for lg in s.legends:
        counts = lg.get("counts")
        if not counts or len(counts) < 3 or sum(counts) < OUTLIER_MIN_FEATURES:
            continue
        labels = [str(v) for v in lg.get("labels") or []]
        ext = lg.get("extremes") or {}
        for k, where in ((len(counts) - 1, "top"), (0, "bottom")):
            gap, rest = ext.get(f"{where}_gap"), ext.get("rest_range")
            if counts[k] != 1 or gap is None or not rest or gap < rest / 3:
                continue
            lab = (f"{labels[k]} – {labels[k + 1]}" if len(labels) == len(counts) + 1
                   else labels[k] if k < len(labels) else f"class {k + 1}")
            v = ext.get(where)
            out.append(f"legend «{lg.get('title') or ''}»: the {where} class ({lab}) holds a single feature"
                       + (f" ({v})" if v else "") + f" of {sum(counts)}, set apart from the others: "
                       "an outlier alone in its class")
    return out


def _norm(t: str) -> str:
    return re.sub(r"[\s\u00a0\u202f’'\-]+", " ", t).strip().lower()


def check_unnamed_towns(s: Sheet) -> list[str]:
    if s.towns is None or not s.frame_mm or not s.extent or not len(s.towns):
        return []
    x0, y0, x1, y1 = s.extent
    t = s.towns
    inside = (t["x"] >= x0) & (t["x"] <= x1) & (t["y"] >= y0) & (t["y"] <= y1)
    for g in (s.focus, s.subject):          # only the subject's towns are required
        if g is not None:
            import shapely
            inside &= shapely.contains_xy(g, t["x"].to_numpy(), t["y"].to_numpy())
    t = t[inside]
    width_km = (x1 - x0) / 1000
    req = s.rule.required(t["population"].to_numpy(float), t["seat"].to_numpy(bool), width_km)
    fx, fy, fw, fh = s.frame_mm
    # a town on the frame edge (its anchor within edge_mm of it) is half outside: not required
    mm = fw / (x1 - x0)
    ax, ay = fx + (t["x"].to_numpy() - x0) * mm, fy + (y1 - t["y"].to_numpy()) * mm
    e = s.rule.edge_mm
    req = req & (ax >= fx + e) & (ax <= fx + fw - e) & (ay >= fy + e) & (ay <= fy + fh - e)
    printed = {_norm(r.text) for r in s.text.runs
               if fx <= r.cx <= fx + fw and fy <= r.cy <= fy + fh}
    missing = [(n, p) for n, p, q in zip(t["nom"], t["population"], req, strict=True)
               if q and _norm(str(n)) not in printed]
    if not missing:
        return []
    missing.sort(key=lambda m: -m[1])
    listed = {_norm(u["text"]) for u in s.unplaced or []}
    silent = [m for m in missing if _norm(str(m[0])) not in listed]
    out = [f"{len(missing)} town(s) the rule requires are not named: "
           + ", ".join(f"{n} ({int(p):,} hab.)".replace(",", "\u202f") for n, p in missing[:8])
           + (" …" if len(missing) > 8 else "")]
    if silent:
        out.append(f"{len(silent)} of them dropped in silence (not in the sheet's unplaced labels): "
                   + ", ".join(str(n) for n, _ in silent[:8]))
    return out


def table_fill(page: PageText) -> float | None:
    """Share of the page height (between the running header and footer) the table page's
    content uses, from its title to its last line; None for a page with no content."""
    H = page.size_mm[1]
    body = [r for r in page.runs if r.bbox[1] > TABLE_MARGIN_MM and r.bbox[3] < H - TABLE_MARGIN_MM]
    if not body:
        return None
    top = min(r.bbox[1] for r in body)
    bottom = max(r.bbox[3] for r in body)
    return (bottom - top) / (H - 2 * TABLE_MARGIN_MM)


def check_near_empty_table(s: Sheet) -> list[str]:
    if s.kind != "table":
        return []
    fill = table_fill(s.text)
    if fill is None:
        return ["table page with no rows"]
    out = []
    if fill < TABLE_SHORT:
        for kind, other, where in ((s.next_kind, s.next_fill, "next"), (s.prev_kind, s.prev_fill, "previous")):
            if kind == "table" and other is not None and fill + other + TABLE_SHARE_GAP <= 1.0:
                out.append(f"table page {fill:.0%} full beside a {where} table page {other:.0%} full: "
                           "they could share one page")
                break
    k, n = s.part
    rows = s.part_rows or []
    if n > 1 and k == n and len(rows) == n and max(rows) and rows[-1] < TABLE_NEAR_EMPTY * max(rows) and not out:
        out.append(f"last part ({k}/{n}) of the table holds {rows[-1]} row(s) where another holds {max(rows)} "
                   f"(parts of {' + '.join(map(str, rows))} rows): its rows are not balanced between its pages")
    elif n > 1 and k == n and fill < TABLE_NEAR_EMPTY and not out:
        out.append(f"last part ({k}/{n}) of the table {fill:.0%} full: its lines are not shared evenly "
                   "between its pages")
    elif fill < TABLE_NEAR_EMPTY and not out:
        out.append(f"table page {fill:.0%} full: a short table alone on its page (set it beside its map "
                   "or with another table)")
    return out


HEADER_MAX_LINES = 3            # a table's column header on at most three lines
HEADER_SIZE = 6.6               # pt: the bold text of the table headers


def header_columns(s: Sheet) -> list[list]:
    """The column headers printed on a table page: [[run, …] of one column, top to bottom],
    from the bold header text (header bands apart vertically, columns apart horizontally)."""
    runs = sorted((r for r in s.text.runs if r.bold and abs(r.size - HEADER_SIZE) < 0.15 and not r.rotated),
                  key=lambda r: r.bbox[1])
    bands: list[list] = []
    for r in runs:
        if bands and r.bbox[1] - bands[-1][-1].bbox[1] < 5.0:
            bands[-1].append(r)
        else:
            bands.append([r])
    cols = []
    for band in bands:
        band.sort(key=lambda r: r.bbox[0])
        cur: list = []
        right = -1e9
        for r in band:
            if cur and r.bbox[0] > right + 0.3:
                cols.append(cur)
                cur = []
            cur.append(r)
            right = max(right, r.bbox[2]) if len(cur) > 1 else r.bbox[2]
        if cur:
            cols.append(cur)
    return [sorted(c, key=lambda r: r.bbox[1]) for c in cols]


def check_table_headers(s: Sheet) -> list[str]:
    """A column header wrapped on more than three lines, or a word of it broken across two
    lines (a printed piece that is no word of the table's column titles)."""
    if s.kind != "table" or s.text is None:
        return []
    from mbm_sig.maps import fmt
    words = {w for h in s.headers or [] for w in fmt.typo(str(h)).split()}
    out = []
    for col in header_columns(s):
        text = " ".join(r.text for r in col)
        lines = len({round(r.bbox[1], 1) for r in col})
        if lines > HEADER_MAX_LINES:
            out.append(f"column header «{text[:40]}» wrapped on {lines} lines (at most {HEADER_MAX_LINES})")
        if words:
            broken = [w for r in col for w in r.text.split() if w not in words]
            if broken:
                out.append(f"column header «{text[:40]}»: word broken across lines («{'», «'.join(broken[:3])}»)")
    return out




def check_table_columns(s: Sheet) -> list[str]:
    """Internal identifiers («BI-0095», «ZT-0130») printed in a table, and a column whose
    every row holds the same value (said once in the table's subtitle instead)."""
    if s.kind != "table" or s.text is None:
        return []
    from mbm_sig.atlas.pages import CONSTANT_MIN_ROWS, ID_PATTERN
    out = []
    ids = sorted({m.group(0) for r in s.text.runs for m in ID_PATTERN.finditer(r.text)})
    if ids:
        out.append(f"{len(ids)} internal identifier(s) printed in the table: {', '.join(ids[:5])}"
                   + (" …" if len(ids) > 5 else ""))
    for title, values in s.cells or []:
        vals = [("" if v is None else str(v)) for v in values]
        if len(vals) >= CONSTANT_MIN_ROWS and len(set(vals)) == 1:
            out.append(f"column «{title}» holds «{vals[0] or '(vide)'}» on every row: a constant column "
                       "(say it once in the table's subtitle)")
    return out


def check_table_order(s: Sheet) -> list[str]:
    if s.kind != "table" or not s.rows or len(s.rows) < 2:
        return []
    bad = wording.misordered([str(v) for v in s.rows])
    if not bad:
        return []
    ex = "; ".join(f"«{b}» after «{a}»" for a, b in bad[:4])
    return [f"{len(bad)} row(s) not in French alphabetical order of «{' / '.join(s.sort)}»: {ex}"]


def _page_text(s: Sheet) -> str:
    return " ".join(r.text for r in s.text.runs)


def check_reader_text(s: Sheet) -> list[str]:
    return wording.reader_text(_page_text(s))


def check_typography(s: Sheet) -> list[str]:
    return wording.typography(_page_text(s))


def check_official_names(s: Sheet) -> list[str]:
    if s.official is None:
        return []
    found: dict = {}
    for r in s.text.runs:
        for printed, name in s.official.differing(r.text):
            found.setdefault((printed, name), 0)
            found[(printed, name)] += 1
    return [f"«{p}» printed{f' ({n}×)' if n > 1 else ''} for the commune «{o.replace(chr(39), '’')}» (official name)"
            for (p, o), n in found.items()]


CHECKS = {
    "small-text": check_small_text,
    "overlap": check_overlap,
    "label-symbols": check_label_symbols,
    "frame": check_frame,
    "page-edge": check_page_edge,
    "legend-colours": check_legend_colours,
    "count-decimals": check_count_decimals,
    "legend-touch": check_legend_touch,
    "outlier-class": check_outlier_class,
    "unnamed-towns": check_unnamed_towns,
    "town-distance": label_checks.check_town_distance,
    "town-context": label_checks.check_town_context,
    "label-ambiguity": label_checks.check_label_ambiguity,
    "label-covered": label_checks.check_label_covered,
    "near-empty-table": check_near_empty_table,
    "table-headers": check_table_headers,
    "table-columns": check_table_columns,
    "table-order": check_table_order,
    "reader-text": check_reader_text,
    "typography": check_typography,
    "official-names": check_official_names,
}


# ------------------------------------------------------------------------------ series

def _classes_of(lg) -> tuple | None:
    """What a reader compares between two legends of one indicator: the class bounds and
    their colours (a choropleth), the colour of each category (a typology)."""
    if lg.get("breaks") is not None:
        return ("breaks", tuple(round(float(v), 6) for v in lg["breaks"]),
                tuple(str(c).lower() for c in (lg.get("colors") or [])))
    return None


def _indicators(sheets):
    """(kind, title) -> [(sheet, classes)] of the classed legends, and (title, category)
    -> [(sheet, colour)] of the categorical ones."""
    groups: dict = {}
    cats: dict = {}
    for s in sheets:
        for lg in s.legends:
            title = (lg.get("title") or "").strip()
            if not title:
                continue
            c = _classes_of(lg)
            if c is not None:
                groups.setdefault((lg.get("kind"), title), []).append((s, c))
            for lab, col, _shape in lg.get("entries") or []:
                cats.setdefault((title, lab), []).append((s, str(col).lower()))
    return groups, cats


def _class_differences(kind, title, items) -> list[tuple[Sheet, str]]:
    variants: dict = {}
    for s, c in items:
        variants.setdefault(c, []).append(s)
    if len(variants) < 2:
        return []
    rc, ref = max(variants.items(), key=lambda kv: len(kv[1]))
    pages = ", ".join(f"p. {x.number}" for x in ref[:6])
    out = []
    for c, ss in variants.items():
        if c == rc:
            continue
        what = []
        if c[1] != rc[1]:
            what.append("breaks " + " / ".join(_fmt(v) for v in c[1]) + " instead of "
                        + " / ".join(_fmt(v) for v in rc[1]))
        if c[2] != rc[2]:
            what.append("colours " + " ".join(c[2]) + " instead of " + " ".join(rc[2]))
        out += [(s, f"«{title}» ({kind}) drawn with {'; '.join(what)} as on {pages}") for s in ss]
    return out


def check_series_classes(sheets) -> list[tuple[Sheet, str]]:
    """One indicator (a legend title and kind) drawn with other breaks or colours on
    another sheet; categories of one legend title drawn in other colours."""
    groups, cats = _indicators(sheets)
    out = []
    for (kind, title), items in groups.items():
        out += _class_differences(kind, title, items)
    for (title, lab), items in cats.items():
        cols = [c for _, c in items]
        if len(set(cols)) > 1:
            common = max(set(cols), key=cols.count)
            out += [(s, f"legend «{title}»: «{lab}» drawn {c}, elsewhere {common}") for s, c in items if c != common]
    return out


def _fmt(v: float) -> str:
    return f"{v:g}".replace(".", ",")


def legend_side(s: Sheet) -> str | None:
    """Where the legend stands against the map frame: right, left, below, above or inside."""
    if not s.frame_mm or not s.legends:
        return None
    boxes = [lg["bbox"] for lg in s.legends if lg.get("bbox")]
    if not boxes:
        return None
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    fx, fy, fw, fh = s.frame_mm
    if x0 >= fx + fw - 1:
        return "right"
    if x1 <= fx + 1:
        return "left"
    if y0 >= fy + fh - 1:
        return "below"
    if y1 <= fy + 1:
        return "above"
    return "inside"


SERIES_MM = 1.0                 # frames, legends and credits of one series within this of each other


def _box_of(what: str, s: Sheet):
    """The frame's size and place, the credits' and the legend's top-left corner (mm) of a
    series page, rounded to whole :data:`SERIES_MM` steps for a reader of the report."""
    if what == "frame size":
        return tuple(s.frame_mm[2:]) if s.frame_mm else None
    if what == "frame position":
        return tuple(s.frame_mm[:2]) if s.frame_mm else None
    if what == "credits position":
        return tuple(s.credits_box[:2]) if s.credits_box else None
    boxes = [lg["bbox"] for lg in s.legends if lg.get("bbox")]
    return (min(b[0] for b in boxes), min(b[1] for b in boxes)) if boxes else None


def _series_boxes(name, ss) -> list[tuple[Sheet, str]]:
    """Pages of one series whose frame (size, place), credits or legend corner lie more than
    :data:`SERIES_MM` from the first page's."""
    out = []
    for what in ("frame size", "frame position", "credits position", "legend corner"):
        vals = [(x, _box_of(what, x)) for x in ss]
        vals = [(x, v) for x, v in vals if v is not None]
        if len(vals) < 2:
            continue
        ref_page, ref = vals[0]
        for x, v in vals[1:]:
            d = max(abs(a - b) for a, b in zip(v, ref, strict=True))
            if d > SERIES_MM:
                mm = " × " if what == "frame size" else ", "
                out.append((x, f"series «{name}»: {what} {mm.join(f'{a:.1f}' for a in v)} mm where p. "
                               f"{ref_page.number} has {mm.join(f'{a:.1f}' for a in ref)} mm "
                               f"({d:.1f} mm apart, at most {SERIES_MM:g} mm)"))
    return out


def check_series_layout(sheets) -> list[tuple[Sheet, str]]:
    """The pages of one series (a coverage series, the basin maps of the atlas) with another
    orientation or legend position than most, or whose frame size or place, credits or
    legend corner lie more than :data:`SERIES_MM` from the first page's."""
    groups: dict = {}
    for s in sheets:
        if s.series and s.kind == "map":
            groups.setdefault(s.series, []).append(s)
    out = []
    for name, ss in groups.items():
        if len(ss) < 2:
            continue
        out += _series_boxes(name, ss)
        for what, get in (("orientation", lambda x: x.orientation), ("legend position", legend_side)):
            vals = [get(x) for x in ss]
            common = max(vals, key=lambda v: (vals.count(v), -vals.index(v)))    # a tie: the first page's
            if len(set(vals)) > 1:
                for x, v in zip(ss, vals, strict=True):
                    if v != common:
                        others = ", ".join(f"p. {y.number}" for y, w in zip(ss, vals, strict=True) if w == common)
                        out.append((x, f"series «{name}»: {what} {v} where the other pages ({others}) are {common}"))
    return out


SERIES_CHECKS: dict[str, Any] = {
    "series-classes": check_series_classes,
    "series-layout": check_series_layout,
    "series-town-positions": label_checks.check_series_town_positions,
}
ALL_CHECKS = (*CHECKS, *SERIES_CHECKS)


def check_sheets(sheets, only=None) -> list[Problem]:
    out = []
    for s in sheets:
        for name, fn in CHECKS.items():
            if only and name not in only:
                continue
            out += [Problem(s.number, s.title, name, d) for d in fn(s)]
    for name, fn in SERIES_CHECKS.items():
        if only and name not in only:
            continue
        out += [Problem(x.number, x.title, name, d) for x, d in fn(sheets)]
    out.sort(key=lambda p: (p.page, ALL_CHECKS.index(p.check)))
    return out


# ------------------------------------------------------------------------------ atlases

def shapes_of(entries):
    """The shape the no-data entry shares with the others (one marker for the layer)."""
    shapes = {e[2] for e in entries}
    return shapes.pop() if len(shapes) == 1 else None


def _class_counts(m) -> dict:
    """Legend title -> (features per class, smallest and largest value) of each classed layer."""
    out: dict = {}
    for L in getattr(m, "_layers", []):
        if L.breaks is None or L.classes is None:
            continue
        cl = np.asarray(L.classes)
        n = max(len(L.breaks) - 1, 0)
        if not n or not len(cl):
            continue
        counts = np.bincount(cl[cl >= 0].astype(int), minlength=n)[:n].tolist()
        vals = np.asarray(L.values, dtype=float) if L.values is not None else np.array([])
        vals = vals[np.isfinite(vals)]
        ext = {}
        if len(vals) and L.type == "choro":          # values are the classified variable (not a prop size)
            from mbm_sig.maps import fmt
            d = int(getattr(next(iter(L.legend), None), "decimals", 1) or 1)
            ext = {"top": fmt.num(float(vals.max()), d), "bottom": fmt.num(float(vals.min()), d),
                   "integers": bool(np.all(vals == np.round(vals)))}
            v = np.sort(vals)
            if len(v) >= 3:
                # how far each extreme lies from the next value, against the span of the others
                ext.update(top_gap=float(v[-1] - v[-2]), bottom_gap=float(v[1] - v[0]),
                           rest_range=float(v[-2] - v[1]))
        for b in L.legend or []:
            if b.kind in ("choro",) or getattr(b, "breaks", None) is not None:
                out.setdefault(b.title, (counts, ext))
    return out


def _hatch_linewidth() -> float:
    import matplotlib
    return float(matplotlib.rcParams["hatch.linewidth"])


def _mark(st: dict) -> tuple[str, float | None]:
    """(geometry, size on the page in mm) of one legend entry's symbol: a marker's size, a
    line's width, or an area."""
    if st.get("marker"):
        return "point", float(st.get("size_mm") or 4 * PT_MM)
    if st.get("line"):
        return "line", float(st.get("linewidth") or 0.6) * PT_MM
    if st.get("hatch"):
        return "hatched", None
    return "area", None


def _block_mark(marks) -> tuple[str | None, float | None]:
    """One legend's geometry and the largest size of its symbols (the check is for the
    symbols as printed: the largest is the kindest reading)."""
    if not marks:
        return None, None
    geoms = [g for g, _ in marks]
    g = max(set(geoms), key=geoms.count)
    sizes = [v for gg, v in marks if gg == g and v is not None]
    return g, (max(sizes) if sizes else None)


def legend_entries(m, info) -> list[dict]:
    """The legends the sheet printed, with each entry's colour and symbol shape, the
    classes' bounds, colours and feature counts, and where each legend stands."""
    styles: dict = {}
    nodata: dict = {}
    marks: dict = {}
    for L in getattr(m, "_layers", []):
        for block in L.legend or []:
            if getattr(block, "nodata", None):
                nodata.setdefault(block.title, block.nodata)
            for e in getattr(block, "entries", None) or []:
                st = e[1] if len(e) > 1 and isinstance(e[1], dict) else {}
                fill = st.get("fill")
                if st.get("hatch") and fill and str(fill).startswith("#"):     # as the swatch reads on paper
                    fill = colorcheck.hatched(fill, st["hatch"], st.get("edgecolor"), _hatch_linewidth())
                styles.setdefault((block.title, str(e[0])), (fill, st.get("marker") or st.get("hatch")))
                marks.setdefault(block.title, []).append(_mark(st))
    counts = _class_counts(m)
    out = []
    for lg in info.legends:
        labels = lg.get("labels") or lg.get("entries") or []
        entries = []
        if lg.get("kind") in ("typo", "symbols"):
            for lab in lg.get("entries") or []:
                fill, shape = styles.get((lg.get("title"), str(lab)), (None, None))
                if fill and str(fill).startswith("#"):
                    entries.append((str(lab), fill, shape))
            nd = nodata.get(lg.get("title")) if lg.get("nodata") else None
            if nd and str(nd[0]).startswith("#"):
                entries.append((str(nd[1]), nd[0], shapes_of(entries)))
        d = dict(kind=lg.get("kind"), title=lg.get("title"), labels=list(labels), entries=entries,
                 bbox=lg.get("bbox"))
        if entries:
            d["geometry"], d["size_mm"] = _block_mark(marks.get(lg.get("title")) or [])
        if lg.get("breaks") is not None:
            d.update(breaks=list(lg["breaks"]), colors=[str(c) for c in (lg.get("colors") or [])])
            c = counts.get(lg.get("title"))
            if c and len(c[0]) == len(lg["breaks"]) - 1:
                d.update(counts=c[0], extremes=c[1])
        out.append(d)
    return out


def point_symbols(m, info, types=("symbols",)):
    """(array of x mm, y mm, radius mm, layer names) of the point symbols drawn inside the
    frame (``symbols`` layers: markers of puits, terrils, hospitals…; ``types``: the map
    types whose symbols are wanted, ``prop`` and ``prop_choro`` for the circles)."""
    from mbm_sig.maps.draw import drawn_places
    from mbm_sig.maps.types._core import drawn_index
    fx, fy, fw, fh = info.frame_mm
    x0, y0, x1, y1 = info.extent
    k = fw / (x1 - x0)
    rows, names = [], []
    for L in getattr(m, "_layers", []):
        if L.anchors is None or L.type not in types:
            continue
        idx = drawn_index(L, info.extent)
        if not len(idx):
            continue
        r = np.broadcast_to(np.asarray(m.symbol_radius(L), dtype=float), (len(L.anchors),))[idx]
        a = drawn_places(L)[idx]         # where drawn (spread by the point displacement)
        rows.append(np.c_[fx + (a[:, 0] - x0) * k, fy + (y1 - a[:, 1]) * k, r])
        names += [L.name or L.type] * len(idx)
    return (np.vstack(rows) if rows else np.zeros((0, 3))), names


def map_sheet_info(recipe, params, cat, series_values=None):
    """(render information, legends with colours, recipe document) of one map sheet,
    drawn with the print settings (and the atlas's comparable series, as the book is)."""
    from mbm_sig.atlas import series
    from mbm_sig.maps.recipe import build_map, load_recipe
    try:
        from mbm_sig.maps.output import print_settings
    except ImportError:
        from mbm_sig.maps.render import print_settings
    r = series.apply(load_recipe(str(recipe), params), series_values or {})
    m, _ = build_map(r, cat)
    with print_settings():
        info = m.draw()
        legends = legend_entries(m, info)        # hatches read with the print settings' line width
    info.point_symbols = point_symbols(m, info)
    info.circle_symbols = point_symbols(m, info, ("prop", "prop_choro"))
    top = getattr(m, "_toponyms", None) or {}
    info.subject = top.get("subject")
    info.figure = None
    info.focus = m._focus["union"] if getattr(m, "_focus", None) is not None else None
    return info, legends, r


@dataclass
class Report:
    pdf: Path
    pages: int
    problems: list

    @property
    def clean(self) -> bool:
        return not self.problems


def _sort_columns(spec) -> tuple:
    t = (spec.table or {}) if spec else {}
    srt = t.get("sort")
    if not srt:
        return ()
    return tuple([srt] if isinstance(srt, str) else srt)


def _table_rows(page) -> list | None:
    """The values of a table page's sort columns, in the order printed (the total line
    left out), one text per row (several columns joined)."""
    cols = _sort_columns(page.spec)
    if not cols or not page.rows:
        return None
    from mbm_sig.atlas import pages as atlas_pages
    total = getattr(atlas_pages, "TOTAL_KEY", "__total__")
    out = []
    for r in page.rows:
        if r.get(total):
            continue
        vals = [r.get(c) for c in cols if c in r]
        if not vals:
            return None
        out.append(" ".join("" if v is None else str(v) for v in vals[:1]))
    return out


def _fill_table_sheet(s: Sheet, p, body) -> None:
    """A table page's column titles, the rows of each part of its table and its printed
    cells by column (the total line left out)."""
    from mbm_sig.atlas import pages as atlas_pages
    tables = [(p.columns or p.spec.table["columns"], p.rows or [])] + [
        (q.columns or q.spec.table["columns"], q.rows or []) for q in p.shared]
    s.headers = [str(t) for cols, _ in tables for t in cols.values()]
    s.part_rows = [len([r for r in (q.rows or []) if not r.get(atlas_pages.TOTAL_KEY)]) for q in body
                   if q.kind == "table" and q.spec is p.spec and q.params == p.params]
    s.cells = []
    for q in [p, *p.shared]:        # a column constant on every part of the table (all its rows)
        cols = q.columns or q.spec.table["columns"]
        rows = [r for x in body if x.kind == "table" and x.spec is q.spec and x.params == q.params
                for r in (x.rows or [])] if q is p else (q.rows or [])
        body_rows = [r for r in rows if not r.get(atlas_pages.TOTAL_KEY)]
        for k, title in cols.items():
            s.cells.append((str(title), [atlas_pages._cell(r.get(k)) for r in body_rows]))


def _fill_map_sheet(s: Sheet, p, cat, series_values, town_table, in_series: bool) -> None:
    """A map page's render information: frame, extent, legends, focus, unplaced labels,
    orientation, layout, its series, and the town rule of its recipe."""
    info, legends, r = map_sheet_info(p.spec.recipe, p.params, cat, series_values)
    s.frame_mm, s.extent, s.legends = info.frame_mm, info.extent, legends
    s.focus, s.unplaced = info.focus, getattr(info, "unplaced_labels", [])
    s.orientation, s.layout = info.orientation, info.layout
    s.symbols = getattr(info, "point_symbols", None)
    s.circles = getattr(info, "circle_symbols", None)
    s.subject = getattr(info, "subject", None)
    s.point_labels = [(lab["text"], lab["anchor"][0], lab["anchor"][1], lab.get("offset", 0.0))
                      for lab in info.labels if lab.get("around") and lab.get("anchor") is not None]
    s.credits_box = (getattr(info, "boxes", None) or {}).get("credits")
    if in_series:
        s.series = p.spec.title or str(p.spec.recipe.stem)
    elif not p.coverage:
        from mbm_sig.atlas import series
        key = series.group_key(r.doc)
        if key:         # the basin maps of the atlas: one page format, orientation and extent
            ext = r.doc.get("extent")
            on = ext.get("layer") if isinstance(ext, dict) else "bbox"
            s.series = f"maps on the extent of {on} ({r.doc.get('orientation', 'portrait')})"
    if r.doc.get("toponyms", True) is not False:
        s.towns = town_table
        top = r.doc.get("toponyms")
        if isinstance(top, dict):
            s.rule = TownRule(**{k: v for k, v in top.items() if k != "color"})


def check_atlas(name, catalogue=None, out_dir=None, demo: bool = False, only=None, pdf=None) -> Report:
    """Render atlas ``name`` (or read ``pdf``, the book already rendered from the same
    catalogue) and check every page."""
    from mbm_sig.atlas.engine import AtlasError, _check_requires, load_atlas, plan, render_atlas
    from mbm_sig.catalogue import Catalogue
    cat = catalogue or Catalogue.open()
    try:
        atlas = load_atlas(name)
    except (AtlasError, FileNotFoundError) as exc:
        raise InvalidInput(f"check: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="mbm-check-") as tmp:
        if pdf is None:
            res = render_atlas(name, Path(out_dir or tmp), catalogue=cat, progress=False, demo=demo)
            pdf_path, body = res.pdf, res.body
            check_cat = cat
            if demo:            # the demo book's maps come from a demo copy of the catalogue
                from mbm_sig.atlas.demo import demo_catalogue
                (Path(tmp) / "demo").mkdir(exist_ok=True)
                check_cat, _ = demo_catalogue(cat, Path(tmp) / "demo")
        else:
            pdf_path, check_cat = Path(pdf), cat
            if not pdf_path.is_file():
                raise InvalidInput(f"check: {pdf_path}: no such PDF")
            body, _ = plan(atlas, cat)
        texts = read_pdf(pdf_path)
        if pdf is not None:     # number the planned pages as the book does
            first = len(texts) - len(body) - _trailing(texts)
            if not 1 <= first <= 3:         # cover and contents pages before the body
                raise InvalidInput(f"check: {pdf_path}: {len(texts)} pages, not a book of atlas {name!r} "
                                   f"({len(body)} body pages planned from this catalogue)")
            for k, p in enumerate(body):
                p.number = first + k + 1
        by_number = {p.number: p for p in body}
        repeats: dict = {}          # a sheet drawn on several pages (one per coverage feature): a series
        for p in body:
            if p.kind == "map":
                repeats[id(p.spec)] = repeats.get(id(p.spec), 0) + 1
        from mbm_sig.atlas import series
        series_values = series.resolve(atlas.series, check_cat, str(atlas.path)) if atlas.series else {}
        series_values = series.with_layouts(atlas, check_cat, lambda spec: _check_requires(check_cat, spec),
                                            series_values)
        town_table = towns(check_cat)
        official = wording.official_names(town_table)
        fills = {t.number: table_fill(t) for t in texts
                 if (p := by_number.get(t.number)) is not None and p.kind == "table"}
        sheets = []
        for t in texts:
            p = by_number.get(t.number)
            if p is None:
                kind = "cover" if t.number == 1 else "book"
                sheets.append(Sheet(t.number, _first_line(t), kind, t, official=official))
                continue
            s = Sheet(t.number, p.title, p.kind, t, official=official)
            if p.kind == "map":
                _fill_map_sheet(s, p, check_cat, series_values, town_table, repeats.get(id(p.spec), 0) > 1)
            elif p.kind == "table":
                s.part, s.rows, s.sort = (p.part, p.parts), _table_rows(p), _sort_columns(p.spec)[:1]
                _fill_table_sheet(s, p, body)
            nxt, prv = by_number.get(t.number + 1), by_number.get(t.number - 1)
            s.next_kind, s.prev_kind = (nxt.kind if nxt else None), (prv.kind if prv else None)
            s.next_fill, s.prev_fill = fills.get(t.number + 1), fills.get(t.number - 1)
            sheets.append(s)
    return Report(pdf_path, len(texts), check_sheets(sheets, only))


def _trailing(texts) -> int:
    """Book pages after the body: the pending page and the sources pages."""
    n = 0
    for t in reversed(texts):
        head = t.text[:200]
        if "Sources et méthodes" in head or "Cartes en attente de données" in head:
            n += 1
        else:
            break
    return n


def _first_line(t: PageText) -> str:
    runs = sorted(t.runs, key=lambda r: (-r.size, r.bbox[1]))
    return runs[0].text[:60] if runs else ""


def format_report(rep: Report) -> str:
    """The findings page by page, then the summary line."""
    by_page: dict = {}
    for pr in rep.problems:
        by_page.setdefault((pr.page, pr.sheet), []).append(pr)
    lines = []
    for (page, sheet), probs in sorted(by_page.items()):
        lines.append(f"p. {page} «{sheet}»")
        for pr in probs:
            lines.append(f"  [{pr.check}] {pr.detail}")
    status = "clean" if rep.clean else f"{len(rep.problems)} problem(s) on {len(by_page)} page(s)"
    lines.append(f"{rep.pdf}: {rep.pages} pages checked, {status}")
    return "\n".join(lines)


def cli_check(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mbm-sig check",
                                description="check every page of an atlas (exit 0 only when clean)")
    p.add_argument("name", help="atlas name (atlases/NAME.yaml) or path")
    p.add_argument("--pdf", type=Path, default=None, help="check this already rendered book instead")
    p.add_argument("--demo", action="store_true", help="check the demonstration edition")
    p.add_argument("--only", nargs="+", choices=sorted(ALL_CHECKS), default=None, help="run only these checks")
    a = p.parse_args(argv)
    rep = check_atlas(a.name, pdf=a.pdf, demo=a.demo, only=a.only)
    print(format_report(rep))
    return 0 if rep.clean else 1
