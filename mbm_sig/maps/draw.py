"""Drawing a :class:`~mbm_sig.maps.sheet.Map`: the legend of what the extent shows, the
solver's plan, the layers (each by its map type), labels, frame and furniture, into a
matplotlib Figure and a :class:`~mbm_sig.maps.sheet.RenderInfo`."""

from __future__ import annotations

from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from mbm_sig.maps import labels as labels_mod
from mbm_sig.maps import layout
from mbm_sig.maps import types as map_types
from mbm_sig.maps.furniture import (
    Credits,
    Inset,
    Logo,
    MapFrame,
    NorthArrow,
    ScaleBar,
    Stamp,
    Title,
    draw_basemap,
    fit_extent,
)
from mbm_sig.maps.layout import LegendBlock, Page
from mbm_sig.maps.types import DrawContext
from mbm_sig.maps.types._core import drawn_index


@dataclass
class RenderInfo:
    """What was drawn: useful to tests, the atlas engine and the CLI."""

    page: str
    orientation: str
    size_mm: tuple[float, float]
    frame_mm: tuple[float, float, float, float]          # x, y (top-left), w, h
    extent: tuple[float, float, float, float]            # ground bbox of the frame
    scale: float                                         # 1 : scale
    labels: list[dict] = field(default_factory=list)      # text, bbox (mm, top-left origin)
    legends: list[dict] = field(default_factory=list)     # per thematic layer
    texts: dict = field(default_factory=dict)            # title, subtitle, credits lines
    features: dict = field(default_factory=dict)          # layer index -> features drawn
    symbols: dict = field(default_factory=dict)           # layer index -> marker, size on the map
    boxes: dict = field(default_factory=dict)             # layout boxes (mm, top-left): inset, credits…
    pages: int = 1
    layout: str = ""                                      # side (legend column) or bottom (band)
    path: str | None = None
    layers: list = field(default_factory=list)            # catalogue layers read (recipes)
    unplaced_labels: list = field(default_factory=list)   # labels with no room: text, layer, required, reason
    figure: Any = None


def legend_blocks(m, clip=None) -> list[LegendBlock]:
    """Legend blocks: one per thematic layer, then the untitled single entries of base
    and symbol layers (outlines, terrils, puits…) gathered in one last block. With
    ``clip`` (ground bbox), typo and symbols blocks keep only the categories of the
    features drawn in it (in the layer's order); a block left empty is dropped. A layer drawn
    with a single symbol that has no feature in the frame (on a focused sheet: inside the
    focus) has no entry either (as a category absent from the map, QGIS's «only show items
    inside the linked map»)."""
    if not m._legend:
        return []
    blocks, misc = [], []
    focus = m._focus["union"] if m._focus is not None else None
    for L in m._layers:
        present = drawn_classes(L, clip, focus) if (clip is not None and L.cat_legend) else None
        shapes = (drawn_classes(L, clip, focus, L.shape_classes)
                  if (clip is not None and L.shape_classes is not None) else None)
        for b in L.legend:
            b = dc_replace(b, entries=list(b.entries))
            if b.shapes:
                if shapes is not None:
                    b.entries = [e for i, e in enumerate(b.entries) if i in shapes]
                if b.entries:
                    blocks.append(b)
                continue
            if present is not None and b.kind in ("typo", "symbols"):
                b.entries = [e for i, e in enumerate(b.entries) if i in present]
                if -1 not in present:
                    b.nodata = None
                if not b.entries and not b.nodata:
                    continue
            if b.kind in ("base", "symbols") and not b.title and len(b.entries) == 1:
                if clip is not None and not L.cat_legend and (not len(L.geoms) or not drawn_classes(
                        L, clip, focus, np.zeros(len(L.geoms), dtype=int))):
                    continue            # a single-symbol layer with nothing in the frame (or the focus)
                st = dict(b.entries[0][1])
                if b.kind == "symbols":
                    st.setdefault("marker", "o")
                misc.append((b.entries[0][0], st))
            else:
                blocks.append(b)
    if misc:
        blocks.append(LegendBlock("base", "", entries=misc))
    return blocks


def drawn_classes(L, clip, focus=None, classes=None) -> set:
    """Classes of the features drawn in ``clip``; with an atlas ``focus`` (a geometry), of
    those in the focus only: a neighbour's categories are not listed as the feature's.
    ``classes``: another class per feature than the colour's (the shapes)."""
    idx = drawn_index(L, clip)
    if focus is not None and len(idx):
        import shapely
        if L.anchors is not None:
            idx = idx[shapely.contains_xy(focus, L.anchors[idx, 0], L.anchors[idx, 1])]
        else:
            idx = idx[shapely.intersects(L.geoms[idx], focus)]
    return set(np.unique((L.classes if classes is None else classes)[idx]).tolist())


def extent_of(m, frame):
    """The ground extent of a frame (the map's extent grown to the frame's aspect, with its
    margin) and the clip box (1 % more)."""
    fw, fh = frame[2], frame[3]
    x0, y0, x1, y1 = ext = fit_extent(m.extent_bounds, fw / fh, m.margin)
    pad = 0.01 * (x1 - x0)
    return ext, (x0 - pad, y0 - pad, x1 + pad, y1 + pad)


def legend_key(blocks):
    return [(b.kind, b.title, tuple(e[0] for e in b.entries), bool(b.nodata)) for b in blocks]



def planned(m):
    """The legend blocks, the plan and the frame's ground extent and clip box. Typo and
    symbol legends list what the final extent shows: the plan is made again (twice at most)
    while the blocks of what it shows differ from those it was made with."""
    filtering = m._legend and (any(L.cat_legend for L in m._layers) or m._focus is not None)
    if filtering:       # first guess of the extent: the data's, with its margin
        x0, y0, x1, y1 = m.extent_bounds
        mx, my = (x1 - x0) * m.margin / 2 * 1.02, (y1 - y0) * m.margin / 2 * 1.02
        blocks = legend_blocks(m, (x0 - mx, y0 - my, x1 + mx, y1 + my))
    else:
        blocks = legend_blocks(m)
    plan = m._plan(blocks)
    ext, clip = extent_of(m, plan.frame)
    for _ in range(2 if filtering else 0):       # legend of what the final extent shows
        again = legend_blocks(m, clip)
        if legend_key(again) == legend_key(blocks):
            break
        blocks = again
        plan = m._plan(blocks)
        ext, clip = extent_of(m, plan.frame)
    return plan, ext, clip


def draw_labels(m, page: Page, frame, ext, clip, to_mm, obstacles: list, info: RenderInfo) -> None:
    """Every label of the sheet, the towns first, placed together (maps/labels.py) and
    drawn with their halo; the labels left without room go to the render information."""
    placement, layers_ = place_sheet_labels(m, frame, ext, clip, to_mm, obstacles)
    info.labels, info.unplaced_labels = labels_mod.draw(page, placement, layers_)


def legend_info(b: LegendBlock, bx: float, by: float, drawn: list) -> dict:
    """What a drawn legend block shows (render info: tests, atlas engine)."""
    bw, bh = b.size()
    d = dict(kind=b.kind, title=b.title, bbox=(bx, by, bx + bw, by + bh), scale=b.scale, ncols=b.ncols)
    if b.kind == "choro":
        d.update(breaks=[float(v) for v in b.breaks], colors=b.colors, labels=b.break_labels(),
                 nodata=bool(b.nodata))
    else:
        d.update(entries=[e[0] for e in b.entries], nodata=bool(b.nodata))
    if drawn:
        d["symbols"] = [dict(label=lab, marker=mk, width_mm=w, height_mm=h) for lab, mk, w, h in drawn]
    return d


def render(m, fig=None) -> RenderInfo:
    """Draw the sheet ``m`` on ``fig`` (a new Figure of the exact page size by default);
    returns what was drawn (:class:`RenderInfo`)."""
    W, H = m.W, m.H
    if fig is None:
        fig = Figure(figsize=(W / 25.4, H / 25.4), dpi=72)
    fig.patch.set_facecolor(m.background)
    page = Page(fig, W, H)
    plan, ext, clip = planned(m)
    fx0, fy0, fw, fh = frame = plan.frame
    x0, y0, x1, y1 = ext
    m_per_mm = (x1 - x0) / fw
    tol = m.simplify_mm * m_per_mm

    if m._basemap:
        draw_basemap(fig, page.frac_rect(fx0, fy0, fw, fh), ext, m._basemap["source"], m._basemap["alpha"])
    ax = MapFrame(fig, page.frac_rect(fx0, fy0, fw, fh), ext)
    info = RenderInfo(page=m.page, orientation=m.orientation, size_mm=(W, H), frame_mm=frame,
                      extent=ext, scale=m_per_mm * 1000, layout=plan.layout, figure=fig)
    for i, L in enumerate(m._layers):
        info.features[i] = map_types.get(L.type).draw(DrawContext(ax, clip, tol, m_per_mm, info, i), L)

    if m._focus is not None:
        draw_focus(ax, m._focus, clip, tol)

    def to_mm(xy):
        return np.c_[fx0 + (xy[:, 0] - x0) / m_per_mm, fy0 + (y1 - xy[:, 1]) / m_per_mm]

    obstacles = []
    if m._scalebar:
        bar = ScaleBar(fw, m_per_mm)
        obstacles.append(bar.draw_at(page, *bar.anchor(frame)))
        info.boxes["scalebar"] = obstacles[-1]
        info.texts["scalebar"] = dict(label=bar.label, bar_mm=bar.bar_mm, length_m=bar.length_m)
    if m._arrow:
        arrow = NorthArrow()
        obstacles.append(arrow.draw_at(page, *arrow.anchor(frame)))
    draw_labels(m, page, frame, ext, clip, to_mm, obstacles, info)
    if m.fictive:
        Stamp(fw, fh).draw(page, fx0, fy0)
    page.rect(fx0, fy0, fw, fh, facecolor="none", edgecolor=layout.INK, linewidth=0.6, zorder=5)
    Title(plan.title, plan.subtitle).draw(page, 10.0, plan.y_title)
    info.texts.update(title=m._title, subtitle=m._subtitle)
    for b, bx, by in plan.blocks:
        info.legends.append(legend_info(b, bx, by, b.draw(page, bx, by)))
    if plan.inset:
        Inset(m._inset, ext, plan.inset[2], plan.inset[3]).draw(page, plan.inset[0], plan.inset[1])
        info.boxes["inset"] = tuple(plan.inset)
    cx, cy, lines = plan.credits
    if lines:
        info.boxes["credits"] = Credits(lines, plan.credits_w).draw(page, cx, cy)
    info.texts["credits"] = lines
    if m._logo:
        logo = Logo(m._logo["path"], m._logo["width"])
        logo.draw(page, m.W - 10 - logo.width, 10)
    return info


def drawn_places(L):
    """Where a layer's point symbols were drawn: spread on rings by the point displacement
    (symbols ``displace_mm``), else at the features' anchors."""
    d = getattr(L, "displace", None)
    return d[1] if d is not None and d[1] is not None else L.anchors


def place_sheet_labels(m, frame, ext, clip, to_mm, obstacles):
    """One placement of every label of the sheet (maps/labels.py): the towns first (the
    toponym layer, unless the sheet turns it off), then the label layers of the map layers
    by their priority, clear of each other, of the furniture and of every point symbol."""
    layers_ = []
    focus = m._focus["union"] if m._focus is not None else None
    for spec in m._labels:
        texts = list(spec["texts"])
        if focus is not None and len(texts):
            import shapely
            a = np.asarray(spec["anchors"], dtype=float)
            inside = shapely.contains_xy(focus, a[:, 0], a[:, 1])
            texts = [t if ok else "" for t, ok in zip(texts, inside, strict=True)]     # only the feature's content
        pr = spec["priority"]
        if spec["max_labels"] and pr is not None:
            # the N labels of highest priority are candidates, the others are not
            order = np.argsort(-np.nan_to_num(np.asarray(pr, float), nan=-np.inf), kind="stable")
            for j in order[spec["max_labels"]:]:
                texts[j] = ""
        own = spec.get("layer")
        anchors = drawn_places(own) if own is not None and own.displace is not None else spec["anchors"]
        layers_.append(labels_mod.LabelLayer(
            texts, to_mm(anchors), size=spec["size"], weight=spec["weight"], priority=pr,
            around=bool(spec.get("around")), offset=spec.get("offset", 0.8), name=spec.get("name", ""),
            style=dict(color=spec["color"], halo=spec["halo"])))
    # the point symbols of every layer, which labels keep off
    for L in m._layers:
        if L.anchors is None or L.type not in ("symbols", "prop", "prop_choro"):
            continue
        idx = drawn_index(L, clip)
        if not len(idx):
            continue
        r = np.broadcast_to(np.asarray(m.symbol_radius(L), dtype=float), (len(L.anchors),))[idx]
        layers_.append(labels_mod.LabelLayer([""] * len(idx), to_mm(drawn_places(L)[idx]), offset=r, symbols=True,
                                             soft=L.type != "symbols", name=f"symboles {L.name or L.type}"))
    if m._toponyms is not None:
        t = m._toponyms
        towns = labels_mod.town_layer_for(t["table"], ext, frame, rule=t["rule"], keep=t["keep"], color=t["color"],
                                          subject=t.get("subject"))
        labels_mod.drop_duplicates_of(towns, layers_)      # a commune label of a layer is the town's
        layers_.insert(0, towns)
    return labels_mod.place_sheet(layers_, frame, obstacles=obstacles), layers_


def draw_focus(ax, focus, clip, tol) -> None:
    """Veil what lies outside the focus features: the frame's rectangle minus their union."""
    import shapely

    from mbm_sig.maps import geom
    x0, y0, x1, y1 = clip
    pad = max(x1 - x0, y1 - y0)
    outside = shapely.difference(shapely.box(x0 - pad, y0 - pad, x1 + pad, y1 + pad),
                                 geom.union_of(focus["geoms"], valid=True))
    paths = geom.polygon_paths(np.array([outside]))
    if paths and paths[0] is not None:
        ax.draw_path(paths[0], facecolor=focus["color"], edgecolor="none", alpha=focus["alpha"], zorder=2.5)

