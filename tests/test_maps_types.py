"""The map-type registry (mbm_sig.maps.types): one module per type, found by the registry;
:meth:`Map.layer` and recipes take their options from the type's schema."""

from __future__ import annotations

import importlib
import sys
import textwrap

import geopandas as gpd
import numpy as np
import pytest
import shapely

from mbm_sig.maps import Map, MapError
from mbm_sig.maps import types as map_types


@pytest.fixture()
def cells():
    g = [shapely.box(650_000 + i * 1000, 7_000_000, 651_000 + i * 1000, 7_001_000) for i in range(6)]
    return gpd.GeoDataFrame({"v": np.arange(6.0), "kind": list("ABABAC"), "nom": list("abcdef")},
                            geometry=g, crs=2154)


def test_registry_has_one_module_per_type():
    reg = map_types.registry()
    assert list(reg)[:6] == ["choro", "prop", "prop_choro", "typo", "symbols", "base"]
    for name, t in reg.items():
        assert t.name == name and type(t).__module__ == f"mbm_sig.maps.types.{name}"
        sch = t.schema()
        assert {"legend", "legend_title", "fictive"} <= set(sch)
        for o in sch.values():
            assert o.doc, f"{name}.{o.name} has no documentation"


def test_unknown_type_and_option_are_refused(cells):
    with pytest.raises(MapError, match="unknown layer type 'heat'; known types: choro, prop"):
        Map(extent=cells).layer(cells, type="heat")
    with pytest.raises(MapError, match="inches: unknown option of layer type 'choro'"):
        Map(extent=cells).layer(cells, "choro", "v", inches=0.3)
    with pytest.raises(MapError, match="var: layer type 'choro' needs var"):
        Map(extent=cells).layer(cells, "choro")
    with pytest.raises(MapError, match="field 'w' not in the layer data"):
        Map(extent=cells).layer(cells, "prop", "w")


@pytest.mark.parametrize("option, value, message", [
    ("linewidth", -1, "linewidth: must be >= 0"),
    ("inches", -0.2, "inches: must be > 0"),
    ("k", 1, "k: must be >= 2"),
    ("alpha", 2, "alpha: must be <= 1"),
    ("legend_decimals", -2, "legend_decimals: must be >= 0"),
    ("symbol", "star", "symbol: must be one of circle, square"),
    ("legend", "no", "legend: expected boolean"),
])
def test_out_of_range_options_are_refused(cells, option, value, message):
    t = "prop_choro" if option in ("inches", "symbol", "k", "legend_decimals") else "choro"
    kw = {option: value}
    if t == "prop_choro":
        kw["var2"] = "v"
    if option == "alpha":
        t, kw = "typo", {"alpha": value}
    with pytest.raises(MapError, match=message):
        Map(extent=cells).layer(cells, t, "kind" if t == "typo" else "v", **kw)


@pytest.mark.parametrize("kw, message", [
    (dict(margin=-0.1), "margin: must be >= 0"), (dict(simplify_mm=-1), "simplify_mm: must be >= 0")])
def test_map_numbers_out_of_range(cells, kw, message):
    with pytest.raises(MapError, match=message):
        Map(extent=cells, **kw)


def test_a_new_type_is_one_module(tmp_path, monkeypatch, cells):
    """A module dropped in the types package is a map type for Map.layer and recipes."""
    pkg = tmp_path / "extra"
    pkg.mkdir()
    (pkg / "outline.py").write_text(textwrap.dedent('''
        from mbm_sig.maps.types._core import opt
        from mbm_sig.maps.types.base import Base

        class Outline(Base):
            name = "outline"
            doc = "Outlines only, thick."
            options = (*Base.options, opt("width", float, 1.5, "outline width (pt)", minimum=0))

            def prepare(self, L, data, o):
                L.style.update(fill="none", linewidth=o["width"])

        TYPE = Outline()
    '''), encoding="utf-8")
    monkeypatch.setattr(map_types, "__path__", list(map_types.__path__) + [str(pkg)])
    monkeypatch.setattr(map_types, "_REGISTRY", {})
    try:
        assert "outline" in map_types.names()
        info = Map(extent=cells).layer(cells, "outline", width=2.0).draw()
        assert info.features[0] == 6
        with pytest.raises(MapError, match="width: must be >= 0"):
            Map(extent=cells).layer(cells, "outline", width=-1)
        from mbm_sig.maps.recipe.schema import layer_schema
        assert "width" in layer_schema(map_types.get("outline"))
    finally:
        sys.modules.pop("mbm_sig.maps.types.outline", None)
        importlib.invalidate_caches()


def _grid(values, names=None):
    g = [shapely.box(650_000 + i * 1000, 7_000_000, 651_000 + i * 1000, 7_001_000) for i in range(len(values))]
    return gpd.GeoDataFrame({"v": values, "nom": names or [f"c{i}" for i in range(len(values))]},
                            geometry=g, crs=2154)


def test_an_outlier_gets_its_own_named_entry_and_never_owns_the_top_class():
    vals = [0.0, 2, 4, 6, 9, 12, 16, 19, 22, 226]
    d = _grid(vals, [f"c{i}" for i in range(9)] + ["Bois-Bernard"])
    m = Map(extent=d).layer(d, "choro", var="v", method="breaks", breaks=[0, 5, 10, 20, 40],
                            outliers={"above": 100, "label": "nom"}, palette="YlGn")
    (b,) = m._layers[0].legend
    assert b.breaks[-1] == 22                           # the top class ends at the largest regular value
    assert len(b.colors) == 4 and b.extra and "Bois-Bernard (226)" in b.extra[0][0]
    L = m._layers[0]
    assert L.classes[-1] == 4 and L.colors[4] == b.extra[0][1] and L.colors[4] not in b.colors
    assert not b.nodata                                 # an outlier is not a missing value
    m.draw()                                            # and draws


def test_a_manual_top_break_above_the_maximum_is_clipped_the_classes_kept():
    d = _grid([0.1, 0.5, 1.5, 3.0, 6.1])
    m = Map(extent=d).layer(d, "choro", var="v", method="breaks", breaks=[0, 1, 2, 4, 8], palette="Blues")
    (b,) = m._layers[0].legend
    assert b.breaks == [0, 1, 2, 4, 6.1] and len(b.colors) == 4


def test_counts_in_integers_class_counts_and_missing_values_with_their_count():
    d = _grid([0.0, 1, 2, 3, 5, 8, 13, 21, 34, np.nan])
    m = Map(extent=d).layer(d, "choro", var="v", method="quantile", k=4, legend_counts=True)
    (b,) = m._layers[0].legend
    assert all(float(x).is_integer() for x in b.breaks) and b.decimals == 0
    assert sum(b.counts) == 9 and b.count_labels()[0].startswith("(")
    assert b.nodata and b.nodata[1].endswith("(1)")
    t = Map(extent=d).layer(d.assign(k=list("AABBBCCC") + [None, None]), "typo", var="k", legend_counts=True)
    (tb,) = t._layers[0].legend
    assert [e[0] for e in tb.entries] == ["A (2)", "B (3)", "C (3)"] and tb.nodata[1].endswith("(2)")
    info = m.draw()
    assert any(lg["kind"] == "choro" for lg in info.legends)


def test_proportional_symbols_state_their_missing_values():
    d = _grid([3.0, 10, np.nan, 40])
    m = Map(extent=d).layer(d, "prop", var="v")
    (b,) = m._layers[0].legend
    assert b.nodata and b.nodata[1].endswith("(1)")
    h_with = b.size()[1]
    b.nodata = None
    assert b.size()[1] < h_with
    m.draw()


def test_a_single_symbol_layer_with_nothing_in_the_frame_has_no_legend_entry():
    """As QGIS's «only show items inside the linked map»: a base layer whose features all lie
    outside the frame is not listed (the fiche of a cité listed «Terril» with none in its
    frame); one with a feature inside is."""
    import geopandas as gpd
    from shapely.geometry import box

    from mbm_sig.maps import Map
    from mbm_sig.maps.draw import legend_blocks
    near = gpd.GeoDataFrame(geometry=[box(0, 0, 100, 100)], crs="EPSG:2154")
    far = gpd.GeoDataFrame(geometry=[box(50_000, 50_000, 50_100, 50_100)], crs="EPSG:2154")
    m = Map(extent=(0, 0, 1000, 1000))
    m.layer(near, type="base", legend_label="Dedans")
    m.layer(far, type="base", legend_label="Dehors")
    m.layer(far.iloc[:0], type="base", legend_label="Vide")            # a read that found nothing
    labels = [e[0] for b in legend_blocks(m, (0, 0, 1000, 1000)) for e in b.entries]
    assert "Dedans" in labels and "Dehors" not in labels and "Vide" not in labels
    assert "Dehors" in [e[0] for b in legend_blocks(m) for e in b.entries]     # no frame: every layer
