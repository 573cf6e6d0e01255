"""Chart pages of atlases, drawn with the typography of the map sheets.

A chart is a function ``(catalogue, atlas, title, spec) -> Figure`` registered in
``CHARTS`` under the name an atlas definition gives (``chart: {name: …}``); ``spec`` holds
the chart's options from the atlas definition (and the coverage parameters).
"""

from __future__ import annotations

from typing import Callable

CHARTS: dict[str, Callable] = {}
MAP_CHARTS: set[str] = set()        # the charts that draw a map (counted as maps on the cover)


def chart(name: str, draws_map: bool = False):
    def deco(fn):
        CHARTS[name] = fn
        if draws_map:
            MAP_CHARTS.add(name)
        return fn
    return deco


def is_map_page(page) -> bool:
    """A body page that is a map: a map sheet, or a chart that draws one (a carte
    d’identité, a counted EPCI map), not a table or a chart of figures."""
    if page.kind == "map":
        return True
    if page.kind != "chart" or page.spec is None or not page.spec.table:
        return False
    # the map charts are registered by mbm_sig.atlas.fiche, which the package imports
    return page.spec.table.get("name") in MAP_CHARTS


# ---------------------------------------------------------------------------------------
# Séquelles minières: the closure procedures of the coal concessions, as the document counts them

def _facts(name: str):
    import pandas as pd

    from mbm_sig.config import FACTS_DIR
    return pd.read_csv(FACTS_DIR / name, dtype=str, keep_default_na=False)


def _names(text: str) -> list[str]:
    return [n.strip() for n in (text or "").split("|") if n.strip()]


def _wrapped(c, x, y, text, width_chars, size, color, weight="normal", step=None):
    """Wrapped French text; returns the y after the last line."""
    import textwrap

    from mbm_sig.atlas import pages
    from mbm_sig.maps import fmt
    step = step or size * 0.48
    for line in textwrap.wrap(fmt.typo(text), width_chars, break_on_hyphens=False):
        c.text(x, y, line, size=size, color=color or pages.INK, weight=weight)
        y += step
    return y


@chart("sequelles_bilan")
def sequelles_bilan(catalogue, atlas, title, spec):
    """The summary figures of «Chantier Séquelles minières» (data/sequelles_bilan.csv), as a
    timeline of three periods — situation in 2000, files instructed from end 2000 to 2005 (and
    in 2005), files left for 2006 — in horizontal bars on one scale. Every number printed comes
    from a row of the CSV, whose section is printed under its panel. Options: ``csv`` (file in
    data/, default sequelles_bilan.csv), ``layers`` (for the sources page)."""
    from mbm_sig.atlas import pages
    from mbm_sig.maps import fmt

    df = _facts(spec.get("csv", "sequelles_bilan.csv")).set_index("id")

    def row(key):
        r = df.loc[key]
        return int(r["valeur"]), _names(r["concessions"]), r["source_section"]

    c = pages.Canvas()
    M = pages.MARGIN
    y = 24.0
    for line in __import__("textwrap").wrap(title, 54):
        c.text(M, y, fmt.typo(line), size=15, weight="bold", color=pages.ACCENT)
        y += 6.6
    c.hline(M, c.w - M, y - 3.2, color=pages.ACCENT, lw=1.0)
    total, _, total_sec = row("total")
    y = _wrapped(c, M, y + 3.5,
                 f"Chiffres du document : rapport d'activité 2005 de la Mission Bassin Minier, chantier "
                 f"« Séquelles minières » ({total} concessions de charbon, dont 2 du Boulonnais). Ils sont "
                 "reproduits tels que le rapport les donne (une fiche descriptive par chiffre, "
                 "citant sa section) et ne sont pas recalculés à partir des concessions cartographiées.",
                 112, 8.3, pages.GREY, step=3.9)

    # timeline strip: 2000 → 2005 → 2006
    y += 9.0
    xs = (M + 6, c.w / 2, c.w - M - 6)
    c.hline(xs[0], xs[2], y, color=pages.GREY, lw=1.2)
    steps = ("2000 : création de la Mission", "fin 2000 → 2005", "2006 : restant à instruire")
    for x, lab in zip(xs, steps, strict=True):
        c.fig.add_artist(__import__("matplotlib").patches.Circle(
            (x / c.w, 1 - y / c.h), 1.3 / c.w, transform=c.fig.transFigure, facecolor=pages.ACCENT,
            edgecolor="white", linewidth=0.6))
        c.text(x, y - 2.6, fmt.typo(lab), size=7.8, color=pages.INK, weight="bold",
               ha="left" if x == xs[0] else ("right" if x == xs[2] else "center"))
    y += 10.0

    label_w = 62.0                      # category labels left of the bars
    x0 = M + label_w
    vmax = 30
    scale = (c.w - M - 22 - x0) / vmax  # mm per concession
    bar_h = 7.0

    def axis(y_top, y_bot):
        for v in range(0, vmax + 1, 5):
            x = x0 + v * scale
            c.fig.add_artist(__import__("matplotlib").lines.Line2D(
                [x / c.w] * 2, [1 - y_top / c.h, 1 - y_bot / c.h], transform=c.fig.transFigure,
                color="#d9d9d9" if v else pages.GREY, linewidth=0.35 if v else 0.6, zorder=0))
            c.text(x, y_bot + 3.2, fmt.num(v), size=6.5, color=pages.GREY, ha="center")
        c.text(x0 + vmax * scale + 3.0, y_bot + 3.2, "concessions", size=6.5, color=pages.GREY)

    def panel(y, heading, bars, source, note=None):
        """bars: (label, value, colour, detail, part) — part: value of the darker inner bar."""
        c.text(M, y, fmt.typo(heading), size=10.5, weight="bold", color=pages.ACCENT)
        y += 4.5
        top = y
        for label, value, colour, detail, part in bars:
            yy = y + bar_h / 2 + 1.2
            c.text(x0 - 2.5, yy, fmt.typo(label), size=8, ha="right", color=pages.INK)
            c.rect(x0, y, value * scale, bar_h, facecolor=colour, edgecolor="#4d4d4d", linewidth=0.3)
            if part:
                c.rect(x0, y + 1.3, part * scale, bar_h - 2.6, facecolor="#000000", alpha=0.28)
            c.text(x0 + value * scale + 1.8, yy, fmt.num(value), size=10, weight="bold", color=pages.INK)
            if detail:
                dx = x0 + value * scale + 1.8 + 4.2 + 1.6 * len(fmt.num(value))
                c.text(dx, yy, fmt.typo(detail), size=7, color=pages.GREY)
            y += bar_h + 3.0
        axis(top - 1.5, y - 1.5)
        y += 7.0
        if note:
            y = _wrapped(c, M, y, note, 118, 7.4, pages.INK, step=3.5)
        y = _wrapped(c, M, y, f"Source : {source}.", 125, 6.6, pages.GREY, step=3.2)
        return y + 8.0

    # the colours of the procedure states on the concessions map (the layer's style), one
    # colour per state across the atlas
    cats = ((catalogue.layer_def("concessions").style or {}).get("categories") or {}).get("colors") or {}

    def state(name, default):
        return cats.get(name, default)

    done, direct, after = (state("sortie complète avant 2000", "#253494"),
                           state("renonciation directe instruite en 2005", "#1d91c0"),
                           state("renonciation après arrêt instruite en 2005", "#7fcdbb"))
    stopped, direct_left = (state("arrêt instruit, renonciation à instruire", "#edf8b1"),
                            state("renonciation directe à instruire", "#f7fbff"))

    # 1. situation in 2000
    n_c, names_c, sec1 = row("s2000_complete")
    n_a, _, _ = row("s2000_arret_seul")
    n_0, _, _ = row("s2000_aucune")
    n_e, names_e, _ = row("s2000_en_cours")
    y = panel(y, "Situation à la création de la Mission (2000)", [
        ("procédure complète", n_c, done, ", ".join(names_c), 0),
        ("arrêt de travaux seul", n_a, stopped, "", 0),
        ("aucune procédure", n_0, "#ffffff", "", 0),
        ("arrêt en cours d'instruction", n_e, stopped, ", ".join(names_e), 0),
    ], f"rapport d'activité 2005, {sec1}",
        note=(f"Chiffres du document : {n_c} concessions en procédure complète, {n_a} en arrêt seul, "
              f"{n_0} sans procédure (+ {', '.join(names_e)}, arrêt en cours d'instruction)."))

    # 2. files instructed from end 2000 to 2005, and in 2005
    p_a, _, sec2 = row("p2000_2005_arrets")
    p_d, _, _ = row("p2000_2005_ren_directes")
    p_r, _, _ = row("p2000_2005_ren_apres_arret")
    a_a, _, sec2b = row("a2005_arrets")
    a_d, _, _ = row("a2005_ren_directes")
    a_r, _, _ = row("a2005_ren_apres_arret")
    y = panel(y, "Dossiers instruits de fin 2000 à 2005 (partie sombre : en 2005)", [
        ("arrêts de travaux", p_a, stopped, f"dont {fmt.num(a_a)} en 2005", a_a),
        ("renonciations directes", p_d, direct, f"dont {fmt.num(a_d)} en 2005", a_d),
        ("renonciations après arrêt", p_r, after, f"dont {fmt.num(a_r)} en 2005", a_r),
    ], f"rapport d'activité 2005, {sec2} ; en 2005 : {sec2b}",
        note=(f"Chiffres du document : de fin 2000 à 2005, {p_a} arrêts de travaux, {p_d} renonciations "
              f"directes, {p_r} renonciations après arrêt. Le rapport ne détaille pas les années 2000 à 2004."))

    # 3. left for 2006
    r_d, names_d, sec3 = row("r2006_ren_directes")
    r_r, names_r, _ = row("r2006_ren_apres_arret")
    y = panel(y, "Restant à instruire fin 2005 / 2006", [
        ("renonciations directes", r_d, direct_left, "Boulonnais", 0),
        ("renonciations après arrêt", r_r, stopped, "", 0),
    ], f"rapport d'activité 2005, {sec3}",
        note=(f"Chiffres du document : {r_d} + {r_r} dossiers nommés pour 2006 — {', '.join(names_d)} ; "
              f"{', '.join(names_r)}."))

    # how the atlas uses them: the concessions layer (named by the report, or by the shafts only)
    if catalogue is not None:
        try:
            con = catalogue.read("concessions", columns=["nom", "dans_rapport", "emprise"])
        except Exception:  # noqa: BLE001 — the chart still stands on the document's figures
            con = None
        if con is not None and len(con):
            named = int(con["dans_rapport"].astype(bool).sum())
            others = len(con) - named
            y += 1.0
            box_y = y
            text = (f"Les cartes de l'atlas comptent {fmt.num(named)} concessions nommées par "
                    f"le rapport, avec la procédure qu'il leur attribue, et "
                    f"{fmt.num(others)} autres connues par les seuls puits de mines, au statut « non renseigné ». "
                    "Leurs emprises sont des emprises approchées (enveloppe des puits attribués ou commune "
                    "éponyme), non réglementaires.")
            lines = __import__("textwrap").wrap(fmt.typo(text), 112, break_on_hyphens=False)
            c.rect(M, box_y - 4.6, c.w - 2 * M, 4.0 * len(lines) + 4.2, facecolor=pages.LIGHT)
            _wrapped(c, M + 3, box_y, text, 112, 7.8, pages.INK, step=4.0)
    pages._footer(c, atlas.title)
    return c.fig
