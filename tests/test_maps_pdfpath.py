"""Filled paths printed by numpy (mbm_sig.maps.output.pdfpath): the bytes of matplotlib's own
``convert_to_string``, path by path and for whole sheets."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from matplotlib import _path
from matplotlib.path import Path
from matplotlib.transforms import Affine2D, IdentityTransform

from mbm_sig.maps import Map
from mbm_sig.maps.output import pdfpath, pdftext


def matplotlib_bytes(path, transform) -> bytes:
    """What matplotlib's PDF backend prints for a filled path (no clip, no simplification)."""
    return _path.convert_to_string(path, transform, None, False, None, 6, [b"m", b"l", b"", b"c", b"h"], True)


def random_path(rng, n: int, decimals: int, scale: float) -> Path:
    v = np.round(rng.normal(0, 1, (n, 2)) * scale, decimals)
    v[rng.integers(0, n, 3)] = -0.0                      # «-0» as %.6f prints it
    v[rng.integers(0, n, 3)] = np.round(rng.integers(-2000, 2000, (3, 2)), 0)   # whole numbers: «12»
    codes = np.full(n, Path.LINETO, dtype=Path.code_type)
    codes[0] = Path.MOVETO
    codes[rng.integers(1, n, n // 8)] = Path.CLOSEPOLY
    codes[rng.integers(1, n, n // 8)] = Path.MOVETO
    return Path(v, codes)


@pytest.mark.parametrize("transform", [IdentityTransform(), Affine2D().scale(1 / 72) + Affine2D().scale(72),
                                       Affine2D().translate(0.5, -0.25)],
                         ids=["identity", "points", "translated"])
def test_filled_path_bytes_are_matplotlibs(transform):
    rng = np.random.default_rng(13)
    printed = 0
    for k in range(400):
        p = random_path(rng, int(rng.integers(16, 400)), int(rng.integers(0, 3)), 10.0 ** rng.integers(-2, 4))
        fast = pdfpath.filled_path_bytes(p, transform)
        if fast is not None:
            assert fast == matplotlib_bytes(p, transform), k
            printed += 1
    # most are hundredths below 10⁴ points after the transform (a translation's sums are not
    # always the nearest doubles to hundredths: those go to matplotlib)
    assert printed > 150


def test_paths_it_cannot_print_exactly_are_left_to_matplotlib():
    rng = np.random.default_rng(5)
    v = np.round(rng.uniform(0, 500, (40, 2)), 2)
    assert pdfpath.filled_path_bytes(Path(v)) == matplotlib_bytes(Path(v), IdentityTransform())
    assert pdfpath.filled_path_bytes(Path(v + 1e-3)) is None              # thousandths
    assert pdfpath.filled_path_bytes(Path(v * 100)) is None               # beyond 10⁴ points
    nan = v.copy()
    nan[7] = np.nan
    assert pdfpath.filled_path_bytes(Path(nan)) is None                   # matplotlib drops the gap
    curve = Path(v[:4], [Path.MOVETO, Path.CURVE3, Path.CURVE3, Path.LINETO])
    assert pdfpath.filled_path_bytes(curve) is None
    assert pdfpath.filled_path_bytes(Path(v), Affine2D().rotate_deg(30)) is None   # not hundredths any more


def holed_squares():
    """Polygons with many vertices and holes, as a choropleth draws them."""
    import geopandas as gpd
    pts = [shapely.Point(650_000 + 3000 * i, 7_000_000 + 2500 * j) for i in range(6) for j in range(5)]
    geoms = [shapely.difference(p.buffer(1400, 24), p.buffer(400, 8)) for p in pts]
    return gpd.GeoDataFrame({"v": np.arange(len(geoms), dtype=float)}, geometry=geoms, crs=2154)


def test_sheet_bytes_are_those_of_matplotlibs_path_writer(tmp_path, monkeypatch):
    """A sheet drawn with the numpy path writer has the bytes of the same sheet drawn with
    matplotlib's writer for every path (and the writer did print its polygons)."""
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")      # this test is about the fast path (also in the pass with it off)
    df = holed_squares()

    def sheet():
        return (Map(extent=df).layer(df, "choro", "v", k=4, legend_title="Valeur")
                .layer(df, "base", fill="#cccccc", alpha=0.3).title("Carrés percés").scalebar().arrow())

    printed = []
    orig = pdfpath.filled_path_bytes

    def counting(path, transform=None):
        out = orig(path, transform)
        printed.append(out is not None)
        return out

    monkeypatch.setattr(pdftext, "filled_path_bytes", counting)
    sheet().save(tmp_path / "numpy.pdf")
    assert sum(printed) >= 4
    monkeypatch.setattr(pdftext, "filled_path_bytes", lambda path, transform=None: None)
    sheet().save(tmp_path / "matplotlib.pdf")
    assert (tmp_path / "numpy.pdf").read_bytes() == (tmp_path / "matplotlib.pdf").read_bytes()


def shapely_rings(geoms):
    """The rings as the drawing code made them before: every geometry split into parts,
    polygons oriented by GEOS (exteriors counter-clockwise), rings, coordinates."""
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, pidx = shapely.orient_polygons(parts[keep], exterior_cw=False), pidx[keep]
    rings, ridx = shapely.get_rings(parts, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    return coords, pidx[ridx[cidx]]


def test_rings_are_oriented_as_geos_orients_them_on_the_catalogue(built_gpkg):
    """The rings of every polygon layer of the catalogue, clipped and simplified for print
    as sheets prepare them (whole extent and a quarter), oriented by the sign of their area:
    the coordinates GEOS's orient_polygons gives, ring for ring, feature for feature."""
    from mbm_sig.maps import geom
    seen = set()
    for name in ("communes", "epci", "arrondissements", "cites_minieres", "concessions", "terrils",
                 "unesco_bien_inscrit", "unesco_zone_tampon", "renouvellement_urbain"):
        g = np.asarray(built_gpkg.read(name).geometry.array)
        x0, y0, x1, y1 = shapely.total_bounds(g)
        for bbox in ((x0, y0, x1, y1), (x0, y0, (x0 + x1) / 2, (y0 + y1) / 2)):
            sub = g[geom.in_extent(g, bbox)]
            for tol in (0.0, 25.0, 150.0):
                prepared = geom._prepare(sub, bbox, tol)
                coords, codes, feature = geom._rings(prepared)
                want, want_feature = shapely_rings(prepared)
                assert np.array_equal(coords, want) and np.array_equal(feature, want_feature), (name, bbox, tol)
                assert codes[0] == Path.MOVETO and codes[-1] == Path.CLOSEPOLY
                seen.update(shapely.get_type_id(prepared).tolist())
    assert {3, 6} <= seen               # polygons and multipolygons


def test_prepared_features_at_the_frame_edge_cover_their_own_area(built_gpkg):
    """A feature crossing the frame, clipped and simplified for print, covers about what the
    feature covers inside the frame: never the frame minus the feature (a self-crossing ring
    clipped by the frame can come back inverted). Area within the tolerance along the clipped
    outline, on every polygon layer of the catalogue, frames of several sizes, three tolerances."""
    from mbm_sig.maps import geom
    checked = 0
    for name in ("communes", "epci", "cites_minieres", "concessions", "terrils", "unesco_bien_inscrit",
                 "unesco_zone_tampon", "renouvellement_urbain"):
        g = np.asarray(built_gpkg.read(name).geometry.array)
        x0, y0, x1, y1 = shapely.total_bounds(g)
        w, h = x1 - x0, y1 - y0
        for fx, fy, fw in ((0.0, 0.0, 0.5), (0.3, 0.2, 0.25), (0.55, 0.5, 0.12), (0.1, 0.6, 0.06)):
            bbox = (x0 + fx * w, y0 + fy * h, x0 + (fx + fw) * w, y0 + fy * h + fw * w * 0.6)
            sub = g[geom.in_extent(g, bbox)]
            if not len(sub):
                continue
            b = shapely.bounds(sub)
            crossing = (b[:, 0] < bbox[0]) | (b[:, 2] > bbox[2]) | (b[:, 1] < bbox[1]) | (b[:, 3] > bbox[3])
            inside = shapely.clip_by_rect(sub[crossing], *bbox)
            for tol in (25.0, 80.0, 150.0):
                prepared = geom._prepare(sub, bbox, tol)[crossing]
                bound = 2 * tol * shapely.length(inside) + 4 * tol * tol + 1.0
                excess = shapely.area(prepared) - shapely.area(inside)
                assert (np.abs(excess) <= bound).all(), (name, bbox, tol, float(np.max(np.abs(excess) - bound)))
                checked += int(crossing.sum())
    assert checked > 500


def test_pdf_repr_writes_what_matplotlibs_pdfrepr_writes():
    """The operands our PDF files write (pdf_repr) are pdfRepr's bytes: numbers of every sign
    and magnitude the pages hold, negative zero, numpy numbers, lists, tuples, nested lists,
    the backend's names, operators and references, and what falls back (booleans, strings,
    dictionaries, None); a number that is not finite is refused as pdfRepr refuses it."""
    import random

    from matplotlib.backends.backend_pdf import Name, Op, Reference, pdfRepr

    from mbm_sig.maps.output.pdfpath import pdf_repr
    rng = random.Random(7)
    values = [0.0, -0.0, 1.0, -1.0, 1e-11, -1e-11, 5e-11, 0.123456789012, 123456.789, 1 / 3, np.float64(2.5),
              np.float32(1.1), np.int64(7), True, False, 5, -3, None, "abc", "é", b"x(y)\\", Name("F1"), Op.fill,
              Op.use_xobject, Reference(3), [1.0, 2, [3.5, -0.0]], (0.1, 0.2), [], {"A": 1, "B": [1.5]}]
    values += [rng.uniform(-1e4, 1e4) for _ in range(3000)] + [rng.uniform(-1e-6, 1e-6) for _ in range(300)]
    values += [[rng.uniform(-600, 600) for _ in range(rng.randrange(1, 30))] for _ in range(200)]
    for v in values:
        assert pdf_repr(v) == pdfRepr(v), v
    for bad in (float("inf"), float("nan"), np.float64("-inf")):
        with pytest.raises(ValueError):
            pdf_repr(bad)
        with pytest.raises(ValueError):
            pdfRepr(bad)
