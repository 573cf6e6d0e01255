"""Layout pieces share one size/draw protocol and the solver returns a typed plan; the fiches
use a fixed layout (solver.RowLayout) instead of overriding the map's layout."""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import numpy as np
import pytest
import shapely
from matplotlib.figure import Figure

from mbm_sig.maps import Map
from mbm_sig.maps.furniture import Credits, NorthArrow, ScaleBar, Stamp, Title
from mbm_sig.maps.layout import LegendBlock, Page
from mbm_sig.maps.solver import AutoLayout, Plan, RowLayout


@pytest.fixture()
def cells():
    g = [shapely.box(650_000 + i * 1000, 7_000_000 + j * 1000, 651_000 + i * 1000, 7_001_000 + j * 1000)
         for i in range(8) for j in range(5)]
    return gpd.GeoDataFrame({"v": np.arange(40.0), "kind": list("ABCD") * 10}, geometry=g, crs=2154)


PIECES = [
    lambda: Title(["Un titre"], ["Un sous-titre"]),
    lambda: ScaleBar(120.0, 250.0),
    lambda: NorthArrow(),
    lambda: Stamp(80.0, 60.0),
    lambda: Credits(["Sources : INSEE.", "Réalisation : Mission Bassin Minier."]),
    lambda: LegendBlock("typo", "Types", entries=[("A", {"fill": "#f00"}), ("B", {"fill": "#00f"})]),
]


@pytest.mark.parametrize("make", PIECES)
def test_every_piece_has_the_size_and_draw_protocol(make):
    piece = make()
    w, h = piece.size()
    assert w > 0 and h > 0
    fig = Figure(figsize=(210 / 25.4, 297 / 25.4), dpi=72)
    page = Page(fig, 210.0, 297.0)
    before = len(fig.artists) + len(fig.texts)
    drawn = piece.draw(page, 20.0, 30.0)
    assert len(fig.artists) + len(fig.texts) > before            # it drew something
    if isinstance(drawn, tuple):                                  # the box it drew in: at (x, y), its size
        assert drawn[:2] == pytest.approx((20.0, 30.0)) and drawn[2:] == pytest.approx((w, h))


def test_solver_returns_a_typed_plan(cells):
    m = Map(extent=cells, orientation="landscape").layer(cells, "typo", "kind", legend_title="Type")
    m.title("Titre").credits(sources=["INSEE"])
    plan = AutoLayout("auto").plan(m, m._blocks())
    assert isinstance(plan, Plan) and plan.layout in ("side", "bottom")
    assert {f.name for f in dataclasses.fields(Plan)} >= {"frame", "blocks", "inset", "credits", "title"}
    x, y, w, h = plan.frame
    for b, bx, by in plan.blocks:                # legend blocks never on the frame
        bw, bh = b.size()
        assert bx >= x + w - 1e-6 or by >= y + h - 1e-6


def test_row_layout_places_frame_legend_and_inset_where_given(cells):
    frame = (10.0, 34.0, 190.0, 110.0)
    m = Map(extent=cells, layout=RowLayout(frame, inset_w=34.0)).layer(cells, "typo", "kind", legend_title="T")
    m.inset(cells)
    info = m.draw()
    assert info.frame_mm == frame and info.layout == "row"
    assert info.boxes["inset"] == pytest.approx((10.0 + 190.0 - 34.0, 34.0 + 110.0 + 4.0, 34.0, 34.0 * 0.62))
    (leg,) = info.legends
    assert leg["bbox"][:2] == pytest.approx((10.0, 148.0))
    with pytest.raises(Exception, match="layout must be"):
        Map(extent=cells, layout=42)


def test_single_symbol_entry_left_out_of_a_focused_legend_when_nothing_lies_in_the_focus(cells):
    """On a focused sheet, a layer drawn with one symbol (the shafts) whose features all lie
    outside the focus has no legend entry, like a category absent from the focus; with one
    shaft inside, it has its entry."""
    focus = cells.iloc[:10]                                   # the two westmost columns of cells
    outside = gpd.GeoDataFrame(geometry=[shapely.Point(657_500, 7_002_500)], crs=2154)
    inside = gpd.GeoDataFrame(geometry=[shapely.Point(657_500, 7_002_500), shapely.Point(650_500, 7_000_500)],
                              crs=2154)

    def entries(points, with_focus=True):
        m = Map(extent=cells, orientation="landscape")
        m.layer(cells, "base", fill="#eeeeee", legend_label="Commune")
        m.layer(points, "symbols", legend_label="Puits de mine")
        if with_focus:
            m.focus(focus)
        info = m.draw()
        return [e for lg in info.legends for e in lg.get("entries") or []]

    assert entries(outside) == ["Commune"]
    assert entries(inside) == ["Commune", "Puits de mine"]
    assert entries(outside, with_focus=False) == ["Commune", "Puits de mine"]     # no focus: all listed
