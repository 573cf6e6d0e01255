"""Commune contours of the communes nouvelles the contours package is older than: their
absorbed communes' ground, left as gaps among the neighbours, given back to them."""
import geopandas as gpd
import shapely
from shapely.geometry import box

from mbm_sig.catalogue import builders as b
from mbm_sig.config import settings


def test_the_communes_tile_the_two_departements_without_gaps(built_gpkg):
    """No hole among the 1534 communes (L’Orée de Mormal lacked Bermeries, 5 km², and
    Hesdin-la-Forêt its three absorbed communes, 21 km²), no overlap, areas as drawn."""
    c = built_gpkg.read("communes")
    union = shapely.union_all(c.geometry.values)
    holes = [shapely.Polygon(r).area for p in shapely.get_parts(union) for r in p.interiors]
    assert max(holes, default=0) < 0.05e6
    assert abs(c.geometry.area.sum() - union.area) < 1e-4 * union.area          # no overlap
    area = c.set_index("insee")["superficie_km2"]
    assert 6.0 < area["59006"] < 7.5 and 19.0 < area["62447"] < 23.0
    assert (c.geometry.area / 1e6 - c["superficie_km2"]).abs().max() < 1e-9
    assert c.geometry.is_valid.all() and set(c.geom_type) == {"MultiPolygon"}
    # the dissolved layers inherit it: the basin's arrondissements and EPCI have no hole either
    for name in ("arrondissements", "epci"):
        u = shapely.union_all(built_gpkg.read(name).geometry.values)
        assert max((shapely.Polygon(r).area for p in shapely.get_parts(u) for r in p.interiors), default=0) < 0.05e6


def _grid(missing=(1, 1)):
    cells = [(i, j) for i in range(3) for j in range(3) if (i, j) != missing]
    return gpd.GeoDataFrame({"insee": [f"0{i}{j}" for i, j in cells], "nom": [f"C{i}{j}" for i, j in cells]},
                            geometry=[shapely.MultiPolygon([box(i * 1000, j * 1000, i * 1000 + 1000, j * 1000 + 1000)])
                                      for i, j in cells], crs="EPSG:2154")


def test_a_gap_goes_to_the_one_commune_nouvelle_beside_it():
    ctx = b.BuildContext(settings=settings())
    ctx.current = "communes"
    cog = [{"code": "001", "type": "commune-actuelle"}, {"code": "099", "type": "commune-deleguee", "chefLieu": "001"}]
    out = b._fill_merged_gaps(ctx, _grid(), cog)
    g = out.set_index("insee").geometry
    assert shapely.equals(g["001"], box(0, 1000, 2000, 2000)) and g["001"].geom_type == "MultiPolygon"
    assert all(g[k].area == 1e6 for k in g.index if k != "001")          # the others untouched
    assert "1.0 km²" in " ".join(ctx.notes["communes"])


def test_a_gap_two_communes_nouvelles_border_is_left_and_said():
    ctx = b.BuildContext(settings=settings())
    ctx.current = "communes"
    cog = [{"code": "099", "type": "commune-deleguee", "chefLieu": "001"},
           {"code": "098", "type": "commune-associee", "chefLieu": "021"},
           {"code": "001", "type": "commune-actuelle", "anciensCodes": ["097"]}]
    grid = _grid()
    out = b._fill_merged_gaps(ctx, grid, cog)
    assert [g.area for g in out.geometry] == [g.area for g in grid.geometry]
    assert "left as it is" in " ".join(ctx.notes["communes"])
    # an old merger (former codes, no commune déléguée) takes no gap
    ctx2 = b.BuildContext(settings=settings())
    ctx2.current = "communes"
    out2 = b._fill_merged_gaps(ctx2, grid, [{"code": "001", "type": "commune-actuelle", "anciensCodes": ["097"]}])
    assert [g.area for g in out2.geometry] == [g.area for g in grid.geometry]
