"""«Cartes d'identité» of cités minières, the way the agency's Access fiches laid them out:
one A4 sheet per cité with a large-scale map (the cité, its neighbours, terrils, puits,
bâti, cavaliers, commune boundaries) and its attributes, «non renseigné» when empty.

    mbm-sig fiche cite BI-0001 -o fiche.pdf

Two atlas charts (see :mod:`mbm_sig.atlas.charts`) are registered here:

``fiche_cite``
    the carte d'identité of the cité whose ``id`` is in the coverage parameters: iterate
    it over a selection of ``cites_minieres`` to include the fiches in an atlas.
``carte_effectifs``
    a map recipe whose template parameters include counts taken from the catalogue
    (``counts: {nb_cites: {layer: cites_minieres, where: {epci_siren: "{siren}"}}}``), so
    that the numbers printed on the sheet are those of the catalogue.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mbm_sig.atlas.charts import chart
from mbm_sig.atlas.errors import FicheError
from mbm_sig.errors import MbmSigError
from mbm_sig.maps import Map, fmt, layout
from mbm_sig.maps.layout import GREY, INK, Page
from mbm_sig.maps.solver import RowLayout

__all__ = ["FicheError", "cli_fiche", "cite_attributes", "fiche_cite_figure", "find_cite", "write_fiche"]

ACCENT = "#7f2704"
LIGHT = "#f6efe9"
NON_RENSEIGNE = "non renseigné"
W, H, M = 210.0, 297.0, 10.0
MAP_FRAME = (M, 34.0, W - 2 * M, 110.0)          # x, y (top), w, h in mm


# ---------------------------------------------------------------------------------- data

def find_cite(cat, cite_id: str) -> pd.Series:
    """The cité with this id (case-insensitive), or with exactly this name when unique;
    else :class:`FicheError` naming a few close ids and names."""
    if not cat.has_data("cites_minieres"):
        raise FicheError("the catalogue holds no cités minières: run `mbm-sig build` first")
    df = cat.read("cites_minieres")
    key = str(cite_id).strip()
    hit = df[df["id"].str.upper() == key.upper()]
    if len(hit) == 0:
        hit = df[df["nom"].str.casefold() == key.casefold()]
        if len(hit) > 1:
            raise FicheError(f"{len(hit)} cités are named {key!r}: give one of their ids ("
                             + ", ".join(f"{r.id} à {r.commune}" for r in hit.itertuples()) + ")")
    if len(hit) == 0:
        raise FicheError(f"no cité with id {key!r} in the catalogue ({len(df)} cités, ids BI-… for the "
                         f"bien inscrit, ZT-… for the zone tampon); close: {_close(df, key)}")
    return hit.iloc[0]


def _close(df, key: str, n: int = 6) -> str:
    ids = df["id"].tolist()
    names = df["nom"].fillna("").tolist()
    label = {i: f"{i} ({nm}, {c})" for i, nm, c in zip(ids, names, df["commune"].fillna(""), strict=False)}
    out = difflib.get_close_matches(key.upper(), ids, n=n, cutoff=0.5)
    by_name = {nm.casefold(): i for i, nm in zip(ids, names, strict=False)}
    for nm in difflib.get_close_matches(key.casefold(), list(by_name), n=n, cutoff=0.55):
        if by_name[nm] not in out:
            out.append(by_name[nm])
    sub = [i for i, nm in zip(ids, names, strict=False) if key.casefold() in nm.casefold()]
    out += [i for i in sub if i not in out]
    return "; ".join(label[i] for i in out[:n]) or "none (see `mbm-sig` layer cites_minieres)"


def _val(v) -> str | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "oui" if v else "non"
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return fmt.num(float(v), 0)
    s = str(v).strip()
    return s or None


def _protection(r) -> str | None:
    ins, cla = _val(r.get("inscrit_mh")), _val(r.get("classe_mh"))
    if cla == "oui":
        return "Classée monument historique"
    if ins == "oui":
        return "Inscrite monument historique"
    if ins == "non" or cla == "non":
        return "Aucune protection MH"
    return None


def cite_attributes(r) -> list[tuple[str, list[tuple[str, str]]]]:
    """The fiche's attribute groups: [(group title, [(label, text or «non renseigné»)])]."""
    communes = ", ".join(c for c in (_val(r.get(k)) for k in ("commune", "commune_2", "commune_3")) if c)

    def rows(pairs):
        return [(lab, v if v is not None else NON_RENSEIGNE) for lab, v in pairs]
    return [
        ("Identification", rows([
            ("Nom", _val(r.get("nom"))),
            ("Autre nom", _val(r.get("nom_2"))),
            ("Commune(s)", communes or None),
            ("Agglomération", _val(r.get("epci_nom"))),
            ("Identifiant", _val(r.get("id"))),
            ("Élément UNESCO", _val(r.get("id_unesco"))),
            ("Identifiant inventaire (LSM)", _val(r.get("id_lsm"))),
        ])),
        ("Patrimoine", rows([
            ("Type de cité", _val(r.get("type"))),
            ("Compagnie minière", _val(r.get("compagnie"))),
            ("Intérêt patrimonial", _val(r.get("interet"))),
            ("Protection MH", _protection(r)),
            ("Périmètre UNESCO", _val(r.get("perimetre"))),
            ("Bailleur", _val(r.get("proprietaire"))),
            ("Cité ERBM", _val(r.get("erbm"))),
        ])),
        ("Inventaire du bâti et des espaces", rows([
            ("État du bâti", _val(r.get("etat_bati"))),
            ("Type de bâti", _val(r.get("type_bati"))),
            ("Forme urbaine", _val(r.get("forme_urbaine"))),
            ("Espaces publics", _val(r.get("espaces_publics"))),
            ("Typologie des logements", _val(r.get("typologie_logements"))),
            ("Nombre de logements", _val(r.get("nb_logements"))),
            ("Dates de rénovation", _val(r.get("date_renovation"))),
        ])),
    ]


# ---------------------------------------------------------------------------------- map

def _extent(geom, min_span=1700.0, pad=1.2):
    x0, y0, x1, y1 = geom.bounds
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    span_w = max(w * (1 + pad), min_span)
    span_h = max(h * (1 + pad), min_span * MAP_FRAME[3] / MAP_FRAME[2])
    return (cx - span_w / 2, cy - span_h / 2, cx + span_w / 2, cy + span_h / 2)


def _fiche_map(cat, r) -> tuple[Map, list[str]]:
    g = r["geom"]
    x0, y0, x1, y1 = _extent(g)
    # the read box: the frame's extent grown to the frame's aspect ratio, with a margin
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half = max(x1 - x0, (y1 - y0) * MAP_FRAME[2] / MAP_FRAME[3]) * 0.75
    box = (cx - half, cy - half, cx + half, cy + half)
    # the frame, legend row and inset where the fiche wants them (top of the page); the fiche
    # draws its own header, attributes and credits
    m = Map(page="A4", orientation="portrait", extent=(x0, y0, x1, y1), margin=0.0, simplify_mm=0.1,
            layout=RowLayout(MAP_FRAME, inset_w=34.0, inset_ratio=0.62))
    used = []

    def read(name):
        if not cat.has_data(name):
            return None
        used.append(name)
        return cat.read(name, bbox=box)

    communes = read("communes")
    if communes is not None and len(communes):
        m.layer(communes, type="base", fill="#f4f2ee", edgecolor="#a9a39a", linewidth=0.6, legend=False)
    zt = read("unesco_zone_tampon")
    if zt is not None and len(zt):
        m.layer(zt, type="base", fill="#fbeff5", edgecolor="#e7a8c9", linewidth=0.4,
                legend_label="Zone tampon UNESCO")
    cav = read("cavaliers")
    if cav is not None and len(cav):
        m.layer(cav, type="base", fill="none", edgecolor="#8c510a", linewidth=0.8, linestyle=":",
                legend_label="Cavalier")
    ter = read("terrils")
    if ter is not None and len(ter):
        m.layer(ter, type="base", fill="#7a6a5d", edgecolor="#3d3129", linewidth=0.3, legend_label="Terril")
    cites = read("cites_minieres")
    others = cites[cites["id"] != r["id"]]
    # the colours of the cité types: the layer definition's (the same as every other sheet)
    type_colors = cat.layer_def("cites_minieres").style["categories"]["colors"]
    present = [t for t in type_colors if t in set(cites["type"].dropna())]
    m.layer(cites, type="typo", var="type", colors={t: type_colors[t] for t in present}, order=present,
            edgecolor="#4d4d4d", linewidth=0.25, legend_title="Cités minières par type", name="cites")
    target = cites[cites["id"] == r["id"]]
    m.layer(target, type="base", fill="none", edgecolor="#000000", linewidth=2.2,
            legend_label="Cité décrite")
    bati = read("patrimoine_bati")
    if bati is not None and len(bati):
        m.layer(bati, type="base", fill="#7570b3", edgecolor="#3f007d", linewidth=0.3,
                legend_label="Bâti du bien inscrit")
    puits = read("puits")
    if puits is not None and len(puits):
        m.layer(puits, type="symbols", size=4.2, fill="#000000", edgecolor="#ffffff", linewidth=0.4,
                legend_label="Ancien puits de mine")
    # labels: the cité first (bold), then its neighbours, terrils, bâti and communes
    m.labels(target, var="nom", size=8.5, weight="bold")
    if len(others):
        m.labels(others, var="nom", size=6)
    if ter is not None and len(ter):
        m.labels(ter, var="no_terril", size=6, weight="bold", color="#3d3129")
    if bati is not None and len(bati):
        lab = bati.assign(_lab=bati["nom"].fillna(bati["denomination"]))
        m.labels(lab, var="_lab", size=6.0, color="#3f007d")
    if communes is not None and len(communes):
        m.labels(communes, var="nom", size=8, color="#6b6b6b", weight="bold", priority="population")
    m.scalebar(True)
    m.arrow(True)
    if cat.has_data("departements"):
        ctx = cat.read("bassin_minier") if cat.has_data("bassin_minier") else None
        m.inset(cat.read("departements"), context=ctx if ctx is not None and len(ctx) else None)
        used += ["departements"] + (["bassin_minier"] if ctx is not None else [])
    return m, used


# ---------------------------------------------------------------------------------- sheet

def fiche_cite_figure(cat, cite_id: str) -> Figure:
    """The A4 carte d'identité of one cité as a matplotlib Figure (vector, exact size)."""
    r = find_cite(cat, cite_id)
    fig = Figure(figsize=(W / 25.4, H / 25.4), dpi=72)
    m, used = _fiche_map(cat, r)
    m.draw(fig)
    import matplotlib

    from mbm_sig.maps.output import rc
    with matplotlib.rc_context(rc()):
        _draw_text(fig, cat, r, used)
    fig._mbm_title = f"Carte d'identité — {r['nom']}"
    return fig


def _draw_text(fig, cat, r, used):
    p = Page(fig, W, H)
    # header
    p.rect(0, 0, W, 3.2, facecolor=ACCENT, edgecolor="none")
    p.text(M, 13.5, "CARTE D’IDENTITÉ — CITÉ MINIÈRE", size=7.5, weight="bold", color=ACCENT)
    p.text(W - M, 13.5, f"{r['id']}  ·  {_val(r.get('perimetre')) or ''}", size=7.5, weight="bold",
           color=ACCENT, ha="right")
    name = layout.wrap(fmt.typo(str(r["nom"])), W - 2 * M, 16, "bold")[:2]
    y = p.lines(M, 16, name, 16, weight="bold", spacing=1.1)
    communes = ", ".join(c for c in (_val(r.get(k)) for k in ("commune", "commune_2", "commune_3")) if c)
    sub = " — ".join(s for s in (communes, _val(r.get("epci_nom"))) if s)
    p.text(M, y + 3.4, fmt.typo(sub), size=9, color=GREY)
    # attributes: identification | patrimoine side by side, then the inventory in two columns
    groups = cite_attributes(r)
    gap = 8.0
    col_w = (W - 2 * M - gap) / 2
    y0 = 178.0
    bottoms = [_group(p, M, y0, col_w, *groups[0]), _group(p, M + col_w + gap, y0, col_w, *groups[1])]
    y1 = max(bottoms) + 4
    title, rows = groups[2]
    half = (len(rows) + 1) // 2
    _group(p, M, y1, col_w, title, rows[:half])
    _group(p, M + col_w + gap, y1, col_w, "", rows[half:])
    # credits
    srcs = []
    for name in dict.fromkeys(used):
        try:
            srcs += [s.credit() for s in cat.sources_for(name)]
        except KeyError:
            pass
    notes = ["État du bâti, forme urbaine, espaces publics, typologie des logements et rénovation : "
             "« non renseigné » tant que l’inventaire des cités de la Mission Bassin Minier n’est pas "
             "publié."]
    lines = layout.credits_lines(srcs, notes, "Mission Bassin Minier", fmt.month_year(), W - 2 * M, 6.0)
    p.lines(M, H - M - len(lines) * layout.line_height(6.0), lines, 6.0, color=GREY)


def _group(p, x, y, w, title, rows) -> float:
    """One attribute group (title band, zebra rows); returns the bottom y (mm)."""
    p.rect(x, y, w, 5.2, facecolor=ACCENT if title else "#ffffff", edgecolor="none")
    if title:
        p.text(x + 1.8, y + 3.7, title.upper(), size=6.8, weight="bold", color="white")
    y += 5.2
    for i, (lab, val) in enumerate(rows):
        lines = layout.wrap(fmt.typo(val), w * 0.56 - 2, 7.2)[:3]
        h = 4.6 + (len(lines) - 1) * 3.1
        if i % 2 == 0:
            p.rect(x, y, w, h, facecolor=LIGHT, edgecolor="none")
        p.text(x + 1.8, y + 3.2, lab, size=6.8, color=GREY)
        empty = val == NON_RENSEIGNE
        for j, s in enumerate(lines):
            p.text(x + w * 0.44, y + 3.2 + 3.1 * j, s, size=7.2, color="#8a8a8a" if empty else INK,
                   weight="normal" if empty else "bold")
        y += h
    return y


def write_fiche(cat, cite_id: str, out: Path) -> Path:
    """Write the carte d'identité of one cité to a PDF (atomically: complete or not at all)."""
    from mbm_sig.atlas import pages
    fig = fiche_cite_figure(cat, cite_id)
    out = Path(out)
    pages.save_pdf([fig], out, {"Title": fig._mbm_title, "Author": "Mission Bassin Minier Nord-Pas de Calais",
                                "Subject": "Carte d'identité de cité minière", "Creator": "mbm-sig",
                                "CreationDate": None})
    return out


# ---------------------------------------------------------------------------------- atlas charts

@chart("fiche_cite", draws_map=True)
def _chart_fiche(cat, atlas, title, spec):
    """Atlas page: the carte d'identité of the coverage feature (``id`` of cites_minieres)."""
    if "id" not in spec:
        raise FicheError("chart fiche_cite needs a coverage over cites_minieres (parameter {id})")
    return fiche_cite_figure(cat, spec["id"])


@chart("carte_effectifs", draws_map=True)
def _chart_counted_map(cat, atlas, title, spec):
    """Atlas page: a map recipe whose parameters include counts of catalogue features.

    spec: ``recipe`` (path relative to the atlas file), ``counts``: {param: {layer, where}},
    plus the coverage parameters (used in the ``where`` patterns and the recipe)."""
    from mbm_sig.maps.recipe import build_map, load_recipe
    base = Path(atlas.path).parent if getattr(atlas, "path", None) else Path(".")
    params = {k: v for k, v in spec.items() if k not in ("name", "recipe", "counts", "layers")}
    for pname, c in (spec.get("counts") or {}).items():
        where = {k: (v.format_map(params) if isinstance(v, str) else v) for k, v in (c.get("where") or {}).items()}
        params[pname] = fmt.num(len(cat.read(c["layer"], where=where or None)), 0)
    m, _ = build_map(load_recipe(base / spec["recipe"], params), cat)
    info = m.draw()
    return info.figure


# ---------------------------------------------------------------------------------- CLI

def cli_fiche(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="mbm-sig fiche",
                                description="«carte d'identité» A4 sheet of one feature (cité minière)")
    p.add_argument("kind", choices=["cite"], help="kind of feature (cite: a cité minière)")
    p.add_argument("id", help="identifier of the cité (e.g. BI-0001, ZT-0012) or its exact name")
    p.add_argument("-o", "--out", type=Path, default=None, help="output PDF (default out/fiche-cite-ID.pdf)")
    p.add_argument("--db", default=None, help="catalogue (GeoPackage path or postgresql:// URL)")
    a = p.parse_args(argv)
    import warnings
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    from mbm_sig.atomic import inside, safe_name
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.config import settings
    cat = Catalogue.open(a.db, create=False)
    try:
        r = find_cite(cat, a.id)
        out = a.out or inside(settings().out_dir, f"fiche-cite-{safe_name(r['id'])}.pdf")
        write_fiche(cat, r["id"], out)
    except MbmSigError as exc:          # invalid input (unknown id): 2, failure: 1
        print(f"error: {exc.message()}", file=sys.stderr)
        return exc.exit_code
    print(f"{out}: carte d'identité de «{r['nom']}» ({r['id']}, {r['commune']})")
    return 0
