"""``mbm-sig check ATLAS``: automated cartographic checks of a produced atlas.

The atlas is rendered as ``mbm-sig atlas`` renders it; every page of the book is read
back from the PDF (each text with its font size and ink box, :mod:`mbm_sig.check.pdf`),
and each map sheet's render information (frame, ground extent, legends, labels) is taken
from the renderer, drawn again in this process. Per sheet, the checks (:data:`CHECKS`):

- ``small-text``: text below 6 pt;
- ``overlap``: two printed texts whose ink overlaps;
- ``frame``: a text crossing the edge of the map frame;
- ``legend-colours``: two entries of one categorical legend too close in colour
  (CIEDE2000 < 10 in normal vision or under simulated deuteranopia, same symbol shape);
- ``count-decimals``: a legend of whole numbers printed with decimals («94,0»);
- ``unnamed-towns``: a commune the town rule says must be named (≥ 10 000 inhabitants
  inside the frame; on basin-wide maps the arrondissement seats and ≥ 20 000) not printed
  inside the frame;
- ``near-empty-table``: a table page less than a third full followed by another table page
  it could share;
- ``reader-text``: a command line, a file path or a package internal on a page.

Exit status 0 only when every page is clean, 1 when a check fails, 2 on bad input.
"""

from __future__ import annotations

import argparse
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mbm_sig.check.pdf import PageText, read_pdf
from mbm_sig.errors import InvalidInput
from mbm_sig.maps import colorcheck
from mbm_sig.maps.labels import MIN_SIZE, TownRule, towns

SMALL_TOLERANCE = 0.05          # pt: 5.96 pt is 6 pt
OVERLAP_MM2 = 0.05              # ink overlap below this is two texts touching by rounding
TABLE_MIN_FILL = 1 / 3          # share of the page height a table page should use


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
    kind: str                               # cover, toc, map, table, chart, pending, sources
    text: PageText
    frame_mm: tuple | None = None           # x, y (top-left), w, h
    extent: tuple | None = None             # ground bbox of the frame (EPSG:2154)
    legends: list = field(default_factory=list)     # dicts: kind, title, labels, entries [(label, colour, shape)]
    towns: object = None                    # DataFrame nom, population, seat, x, y (None: not checked)
    rule: TownRule = TownRule()
    focus: object = None                    # the coverage feature (geometry): only its towns are required
    unplaced: list = field(default_factory=list)    # labels the renderer listed as unplaced
    next_kind: str | None = None


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


def check_overlap(s: Sheet) -> list[str]:
    runs = [r for r in s.text.runs if not r.rotated]       # a rotated stamp overlaps the map by design
    if len(runs) < 2:
        return []
    b = np.array([r.bbox for r in runs])
    out = []
    order = np.argsort(b[:, 0])
    for k, i in enumerate(order):
        for j in order[k + 1:]:
            if b[j, 0] >= b[i, 2]:
                break
            if _area(b[i], b[j]) > OVERLAP_MM2:
                out.append(f"«{runs[i].text[:30]}» overlaps «{runs[j].text[:30]}»")
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
    return out


def check_legend_colours(s: Sheet) -> list[str]:
    out = []
    for lg in s.legends:
        if lg.get("kind") not in ("typo", "symbols") or len(lg.get("entries") or []) < 2:
            continue
        for c in colorcheck.clashes(lg["entries"]):
            out.append(f"legend «{lg.get('title') or ''}»: {c}")
        if len(lg["entries"]) > colorcheck.MAX_CATEGORIES:
            out.append(f"legend «{lg.get('title') or ''}»: {len(lg['entries'])} categories "
                       f"(at most {colorcheck.MAX_CATEGORIES})")
    return out


_NUM = re.compile(r"^[<>≤≥]?\s*-?[\d\u202f\u00a0 ]+(,\d+)?\s*$")


def check_count_decimals(s: Sheet) -> list[str]:
    out = []
    for lg in s.legends:
        labels = [str(v).strip() for v in lg.get("labels") or []]
        nums = [v for v in labels if _NUM.match(v)]
        if len(nums) >= 2 and all("," in v and set(v.split(",")[1].strip()) == {"0"} for v in nums):
            out.append(f"legend «{lg.get('title') or ''}»: whole numbers printed with decimals ("
                       + " / ".join(nums[:4]) + ")")
    return out


def _norm(t: str) -> str:
    return re.sub(r"[\s\u00a0\u202f’'\-]+", " ", t).strip().lower()


def check_unnamed_towns(s: Sheet) -> list[str]:
    if s.towns is None or not s.frame_mm or not s.extent or not len(s.towns):
        return []
    x0, y0, x1, y1 = s.extent
    t = s.towns
    inside = (t["x"] >= x0) & (t["x"] <= x1) & (t["y"] >= y0) & (t["y"] <= y1)
    if s.focus is not None:
        import shapely
        inside &= shapely.contains_xy(s.focus, t["x"].to_numpy(), t["y"].to_numpy())
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


def check_near_empty_table(s: Sheet) -> list[str]:
    if s.kind != "table" or s.next_kind != "table":
        return []
    body = [r for r in s.text.runs if r.bbox[1] > 12 and r.bbox[3] < s.text.size_mm[1] - 12]
    if not body:
        return ["table page with no rows"]
    top = min(r.bbox[1] for r in body)
    bottom = max(r.bbox[3] for r in body)
    usable = s.text.size_mm[1] - 2 * 12
    fill = (bottom - top) / usable
    if fill < TABLE_MIN_FILL:
        return [f"table page {fill:.0%} full followed by another table page: they could share one page"]
    return []


READER_PATTERNS = (
    (re.compile(r"\bmbm-sig\b"), "a command line"),
    (re.compile(r"(?<!\w)--[a-z][\w-]+"), "a command option"),
    (re.compile(r"\bFICHIER\b"), "a command argument"),
    (re.compile(r"(?<![\w.])(?:[\w.-]+/)+[\w.-]+\.(?:csv|ya?ml|gpkg|geojson|json|py|shp|pdf|parquet|tgz)\b"),
     "a file path"),
    (re.compile(r"\b[\w-]+\.(?:ya?ml|gpkg|py)\b"), "a file name"),
    (re.compile(r"\bmbm_sig\b|\bsante_communes_import\b|\bindicateurs_communes\b|\bssm_dispensaires\b"
                r"|\bpts_projets\b|\bequipements_sante\b"), "a package or layer internal"),
)


def check_reader_text(s: Sheet) -> list[str]:
    text = " ".join(r.text for r in s.text.runs)
    out = []
    for rx, what in READER_PATTERNS:
        m = rx.search(text)
        if m:
            a = max(0, m.start() - 25)
            out.append(f"{what}: «…{text[a:m.end() + 15]}…»")
    return out


CHECKS = {
    "small-text": check_small_text,
    "overlap": check_overlap,
    "frame": check_frame,
    "legend-colours": check_legend_colours,
    "count-decimals": check_count_decimals,
    "unnamed-towns": check_unnamed_towns,
    "near-empty-table": check_near_empty_table,
    "reader-text": check_reader_text,
}


def check_sheets(sheets, only=None) -> list[Problem]:
    out = []
    for s in sheets:
        for name, fn in CHECKS.items():
            if only and name not in only:
                continue
            out += [Problem(s.number, s.title, name, d) for d in fn(s)]
    return out


# ------------------------------------------------------------------------------ atlases

def shapes_of(entries):
    """The shape the no-data entry shares with the others (one marker for the layer)."""
    shapes = {e[2] for e in entries}
    return shapes.pop() if len(shapes) == 1 else None


def legend_entries(m, info) -> list[dict]:
    """The legends the sheet printed, with each entry's colour and symbol shape."""
    styles, nodata = {}, {}
    for L in getattr(m, "_layers", []):
        for block in L.legend or []:
            if getattr(block, "nodata", None):
                nodata.setdefault(block.title, block.nodata)
            for e in getattr(block, "entries", None) or []:
                st = e[1] if len(e) > 1 and isinstance(e[1], dict) else {}
                styles.setdefault((block.title, str(e[0])), (st.get("fill"), st.get("marker") or st.get("hatch")))
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
        out.append(dict(kind=lg.get("kind"), title=lg.get("title"), labels=list(labels), entries=entries))
    return out


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
    legends = legend_entries(m, info)
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


def check_atlas(name, catalogue=None, out_dir=None, demo: bool = False, only=None, pdf=None) -> Report:
    """Render atlas ``name`` (or read ``pdf``, the book already rendered from the same
    catalogue) and check every page."""
    from mbm_sig.atlas.engine import AtlasError, load_atlas, plan, render_atlas
    from mbm_sig.catalogue import Catalogue
    cat = catalogue or Catalogue.open()
    try:
        atlas = load_atlas(name)
    except (AtlasError, FileNotFoundError) as exc:
        raise InvalidInput(f"check: {exc}") from None
    with tempfile.TemporaryDirectory(prefix="mbm-check-") as tmp:
        if pdf is None:
            res = render_atlas(name, Path(out_dir or tmp), catalogue=cat, progress=False, demo=demo, workers=1)
            pdf_path, body = res.pdf, res.body
            check_cat = cat
            if demo:            # the demo book's maps come from a demo copy of the catalogue
                from mbm_sig.atlas.demo import demo_catalogue
                (Path(tmp) / "demo").mkdir(exist_ok=True)
                check_cat, _ = demo_catalogue(cat, Path(tmp) / "demo")
        else:
            pdf_path, check_cat = Path(pdf), cat
            body, _ = plan(atlas, cat)
        texts = read_pdf(pdf_path)
        if pdf is not None:     # number the planned pages as the book does
            first = len(texts) - len(body) - _trailing(texts)
            for k, p in enumerate(body):
                p.number = first + k + 1
        by_number = {p.number: p for p in body}
        from mbm_sig.atlas import series
        series_values = series.resolve(atlas.series, check_cat, str(atlas.path)) if atlas.series else {}
        town_table = towns(check_cat)
        sheets = []
        for t in texts:
            p = by_number.get(t.number)
            if p is None:
                kind = "cover" if t.number == 1 else "book"
                sheets.append(Sheet(t.number, _first_line(t), kind, t))
                continue
            s = Sheet(t.number, p.title, p.kind, t)
            if p.kind == "map":
                info, legends, r = map_sheet_info(p.spec.recipe, p.params, check_cat, series_values)
                s.frame_mm, s.extent, s.legends = info.frame_mm, info.extent, legends
                s.focus, s.unplaced = info.focus, getattr(info, "unplaced_labels", [])
                if r.doc.get("toponyms", True) is not False:
                    s.towns = town_table
                    top = r.doc.get("toponyms")
                    if isinstance(top, dict):
                        s.rule = TownRule(**{k: v for k, v in top.items() if k != "color"})
            nxt = by_number.get(t.number + 1)
            s.next_kind = nxt.kind if nxt else None
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


def cli_check(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mbm-sig check",
                                description="check every page of an atlas (exit 0 only when clean)")
    p.add_argument("name", help="atlas name (atlases/NAME.yaml) or path")
    p.add_argument("--pdf", type=Path, default=None, help="check this already rendered book instead")
    p.add_argument("--demo", action="store_true", help="check the demonstration edition")
    p.add_argument("--only", nargs="+", choices=sorted(CHECKS), default=None, help="run only these checks")
    a = p.parse_args(argv)
    rep = check_atlas(a.name, pdf=a.pdf, demo=a.demo, only=a.only)
    by_page: dict = {}
    for pr in rep.problems:
        by_page.setdefault((pr.page, pr.sheet), []).append(pr)
    for (page, sheet), probs in sorted(by_page.items()):
        print(f"p. {page} «{sheet}»")
        for pr in probs:
            print(f"  [{pr.check}] {pr.detail}")
    n_sheets = len(by_page)
    status = "clean" if rep.clean else f"{len(rep.problems)} problem(s) on {n_sheets} page(s)"
    print(f"{rep.pdf}: {rep.pages} pages checked, {status}")
    return 0 if rep.clean else 1
