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


def test_stroked_path_bytes_are_matplotlibs_clipped_to_the_page():
    """A stroked path, which matplotlib clips to the page (and simplifies when the path says
    so): the same bytes as its clipping writer for the paths printed (lines inside the page,
    not to be simplified), refused otherwise (a vertex off the page, a CLOSEPOLY, a path
    matplotlib would simplify)."""
    rng = np.random.default_rng(29)
    W, H = 595.28, 841.89
    transform = Affine2D().scale(1 / 72) + Affine2D().scale(72)
    printed = refused = 0
    for k in range(300):
        n = int(rng.integers(16, 400))
        v = np.round(rng.uniform(0, [W, H], (n, 2)), 2)
        codes = np.full(n, Path.LINETO, dtype=Path.code_type)
        codes[0] = Path.MOVETO
        codes[rng.integers(1, n, n // 10)] = Path.MOVETO
        if k % 4 == 1:
            v[rng.integers(0, n)] = (W + 5, H / 2)              # off the page: clipped there
        if k % 4 == 2:
            codes[rng.integers(1, n)] = Path.CLOSEPOLY
        p = Path(v, codes)
        p.should_simplify = k % 4 == 3 and n >= 128
        fast = pdfpath.filled_path_bytes(p, transform, (W, H))
        mpl = _path.convert_to_string(p, transform, (0.0, 0.0, W, H), p.should_simplify, None, 6,
                                      [b"m", b"l", b"", b"c", b"h"], True)
        if fast is None:
            refused += 1
            assert k % 4 != 0
        else:
            assert fast == mpl, k
            printed += 1
    assert printed >= 75 and refused >= 150


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
    matplotlib's writer for every path (and the writer did print its polygons, filled and
    stroked)."""
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")      # this test is about the fast path (also in the pass with it off)
    df = holed_squares()

    def sheet():
        return (Map(extent=df).layer(df, "choro", "v", k=4, legend_title="Valeur")
                .layer(df, "base", fill="#cccccc", alpha=0.3).layer(df, "base", fill="none", edgecolor="#333333")
                .title("Carrés percés").scalebar().arrow())

    printed = []
    orig = pdfpath.filled_path_bytes

    def counting(path, transform=None, page=None):
        out = orig(path, transform, page)
        outline = path.codes is not None and not (path.codes == Path.CLOSEPOLY).any()     # (the open rings)
        printed.append((out is not None, outline))
        return out

    monkeypatch.setattr(pdftext, "filled_path_bytes", counting)
    sheet().save(tmp_path / "numpy.pdf")
    assert sum(p for p, outline in printed if not outline) >= 4 and sum(p for p, outline in printed if outline) >= 1
    monkeypatch.setattr(pdftext, "filled_path_bytes", lambda path, transform=None, page=None: None)
    sheet().save(tmp_path / "matplotlib.pdf")
    assert (tmp_path / "numpy.pdf").read_bytes() == (tmp_path / "matplotlib.pdf").read_bytes()


def test_map_outlines_off_the_page_are_written_whole_and_show_what_the_clipped_ones_show(tmp_path, monkeypatch):
    """A map layer's outline that runs off the page (a frame on part of the data) is written
    as it is by the numpy writer (a PrintPath: the frame's clip path clips it), where
    matplotlib's writer clips it to the page: the two files rasterize to the same pixels."""
    import subprocess

    from PIL import Image, ImageChops
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")
    df = holed_squares()
    x0, y0, x1, y1 = df.total_bounds
    part = (x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0), x0 + 0.55 * (x1 - x0), y0 + 0.55 * (y1 - y0))

    def sheet():
        return Map(extent=part, margin=0).layer(df, "base", fill="none", edgecolor="#333333", linewidth=2.0)

    whole = []
    orig = pdfpath.filled_path_bytes

    def counting(path, transform=None, page=None):
        out = orig(path, transform, page)
        v = path.vertices
        if out is not None and page is None and isinstance(path, pdfpath.PrintPath):
            whole.append(bool((v < 0).any() or (v[:, 0] > 595.3).any() or (v[:, 1] > 841.9).any()))
        return out

    monkeypatch.setattr(pdftext, "filled_path_bytes", counting)
    sheet().save(tmp_path / "numpy.pdf")
    assert any(whole)                    # an outline with vertices off the page, written whole
    monkeypatch.setattr(pdftext, "filled_path_bytes", lambda path, transform=None, page=None: None)
    sheet().save(tmp_path / "matplotlib.pdf")
    for name in ("numpy", "matplotlib"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-gray", str(tmp_path / f"{name}.pdf"), str(tmp_path / name)],
                       check=True)
    a, b = (Image.open(next(tmp_path.glob(f"{n}*.png"))).convert("L") for n in ("numpy", "matplotlib"))
    diff = ImageChops.difference(a, b).point(lambda x: 255 if x > 40 else 0)
    assert sum(diff.histogram()[255:]) <= 0.0005 * a.size[0] * a.size[1]


def shapely_rings(geoms):
    """The rings as the drawing code made them before: every geometry split into parts,
    polygons oriented by GEOS (exteriors counter-clockwise), rings, coordinates."""
    parts, pidx = shapely.get_parts(geoms, return_index=True)
    keep = shapely.get_type_id(parts) == 3
    parts, pidx = shapely.orient_polygons(parts[keep], exterior_cw=False), pidx[keep]
    rings, ridx = shapely.get_rings(parts, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    return coords, pidx[ridx[cidx]]


POLYGON_LAYERS = ("communes", "epci", "arrondissements", "cites_minieres", "concessions", "terrils",
                  "unesco_bien_inscrit", "unesco_zone_tampon", "renouvellement_urbain")


def test_rings_are_oriented_as_geos_orients_them_on_the_catalogue(built_gpkg):
    """The rings of every polygon layer of the catalogue as a sheet draws them, unsimplified
    and with the whole layer in the frame: GEOS's orient_polygons coordinates, ring for ring,
    feature for feature (exteriors counter-clockwise, holes clockwise)."""
    from mbm_sig.maps import geom
    seen = set()
    for name in POLYGON_LAYERS:
        multi = np.asarray(built_gpkg.read(name).geometry.array)
        half = len(multi) // 2                # (the catalogue's are multipolygons: half split into polygons)
        for g in (multi, np.concatenate([shapely.get_parts(multi[:half]), multi[half:]])):
            coords, codes, feature = geom.area_rings(g, np.ones(len(g), dtype=bool), shapely.total_bounds(g), 0.0, 1.0)
            want, want_feature = shapely_rings(g)
            assert np.array_equal(coords, want) and np.array_equal(feature, want_feature), name
            assert codes[0] == Path.MOVETO and codes[-1] == Path.CLOSEPOLY
            seen.update(shapely.get_type_id(g).tolist())
    assert {3, 6} <= seen               # polygons and multipolygons


def test_a_layer_drawn_on_every_page_keeps_its_print_index_among_new_sets(built_gpkg):
    """A coverage atlas draws its layer on every page and a new set each page (the page's
    feature): the layer's print index (rings, vertex thresholds) is made once, not again
    after every :data:`geom._SHAPES_KEPT` new sets; a set not drawn since goes first."""
    from mbm_sig.maps import geom
    layer = np.asarray(built_gpkg.read("communes").geometry.array)
    first = geom._shapes(layer, "area")
    outlines, made = [], []
    for k in range(3 * geom._SHAPES_KEPT):
        outlines.append(layer[k:k + 1].copy())
        made.append(geom._shapes(outlines[-1], "line"))     # the page's own feature
        assert geom._shapes(layer, "area") is first, k
    assert geom._shapes(outlines[-1], "line") is made[-1]  # the last page's: kept
    assert geom._shapes(outlines[0], "line") is not made[0]  # the first page's, not drawn since: dropped


def test_vertex_thresholds_keep_what_geos_douglas_peucker_keeps(built_gpkg):
    """Each vertex's Douglas-Peucker threshold, computed once per layer, keeps at any tolerance
    the very vertices GEOS's simplification of each ring keeps (shapely.simplify,
    preserve_topology=False), on every polygon layer of the catalogue and five tolerances."""
    from mbm_sig.maps import geom
    compared = 0
    for name in POLYGON_LAYERS:
        g = np.asarray(built_gpkg.read(name).geometry.array)
        rings, _, _ = geom._polygon_rings(g)
        coords, ring = shapely.get_coordinates(rings, return_index=True)
        starts = np.r_[0, np.flatnonzero(np.diff(ring)) + 1]
        ends = np.r_[starts[1:], len(coords)]
        thr = geom.dp_thresholds(coords, starts, ends)
        lines = shapely.linestrings(coords, indices=ring)
        for tol in (2.0, 12.0, 40.0, 150.0, 600.0):
            want = shapely.get_coordinates(shapely.simplify(lines, tol, preserve_topology=False))
            assert np.array_equal(coords[thr > tol], want), (name, tol)
            compared += len(coords)
    assert compared > 300_000


def test_vertex_thresholds_take_the_first_of_equal_distances_as_geos_does():
    """Lines of a half-unit grid (many vertices at exactly equal distances from a chord): the
    thresholds keep GEOS's very vertices, the first of equals (its arithmetic, not another
    formula whose roundings split ties the other way)."""
    from mbm_sig.maps import geom
    line = np.array([(2, 1), (0, 1), (1, 1.5), (2.5, 1), (0, 0), (1, 1.5), (1.5, 1)], dtype=float)
    rng = np.random.default_rng(3)
    lines = [line] + [rng.integers(0, 8, (int(rng.integers(3, 30)), 2)) / 2.0 for _ in range(1500)]
    for pts in lines:
        thr = geom.dp_thresholds(pts, np.array([0]), np.array([len(pts)]))
        for tol in (0.25, 0.5, 1.0):
            want = shapely.get_coordinates(shapely.simplify(shapely.linestrings(pts), tol, preserve_topology=False))
            assert np.array_equal(pts[thr > tol], want), (pts.tolist(), tol)


def test_a_ring_turned_by_simplification_is_oriented_as_drawn():
    """A counter-clockwise ring that simplifies to a clockwise one (a star whose tips go) is
    oriented after simplification: an exterior drawn counter-clockwise, a hole clockwise."""
    from mbm_sig.maps import geom
    star = [(.173, .017), (.847, .196), (.371, .107), (.133, .147), (-.389, .081), (-.938, -.293),
            (-.248, -.178), (-.137, -.403), (.107, -.193), (.173, .017)]
    assert shapely.LinearRing(star).is_ccw
    g = np.array([shapely.Polygon(star)], dtype=object)
    xy, codes, _ = geom.area_rings(g, np.ones(1, dtype=bool), (-2.0, -2.0, 2.0, 2.0), 0.4, 0.001)
    assert len(xy) < len(star) and shapely.LinearRing(xy).is_ccw


@pytest.mark.parametrize("kind", ["area", "line"])
def test_large_and_small_layers_draw_the_same_vertices(built_gpkg, monkeypatch, kind):
    """A layer large enough for vertex thresholds and the same layer simplified by GEOS on
    each sheet (as a small one is) give the same rings, so that one feature drawn by both (the
    communes and the page's commune) has one outline; frames of several sizes and tolerances."""
    from mbm_sig.maps import geom
    g = np.asarray(built_gpkg.read("communes").geometry.array)
    x0, y0, x1, y1 = shapely.total_bounds(g)
    w = x1 - x0
    draw = geom.area_rings if kind == "area" else (lambda *a: geom._print_shapes(a[0], a[1], "line", *a[2:]))
    h = y1 - y0
    for fx, fy, fw, tol in ((0.0, 0.0, 1.0, 150.0), (0.3, 0.2, 0.2, 30.0), (0.6, 0.5, 0.05, 6.0)):
        box = (x0 + fx * w, y0 + fy * h, x0 + (fx + fw) * w, y0 + (fy + fw) * h)
        mask = geom.in_extent(g, box)
        assert mask.sum() > 3
        monkeypatch.setattr(geom, "INDEXED_VERTICES", 0)
        monkeypatch.setattr(geom, "INDEXED_AFTER", 0)
        geom._SHAPES.clear()
        geom._DRAWN.clear()
        big = draw(g, mask, box, tol, 10.0)
        assert geom._shapes(g, kind).thr is not None
        monkeypatch.setattr(geom, "INDEXED_VERTICES", 10 ** 9)
        geom._SHAPES.clear()
        geom._DRAWN.clear()
        small = draw(g, mask, box, tol, 10.0)
        assert geom._shapes(g, kind).thr is None
        geom._SHAPES.clear()
        geom._DRAWN.clear()
        assert all(np.array_equal(a, b) for a, b in zip(big, small, strict=True)), (box, tol)


def winding(points: np.ndarray, xy: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The winding number of each point about the closed rings of a path (nonzero fill)."""
    nxt = np.r_[xy[1:], xy[:1]]
    seg = codes != Path.CLOSEPOLY                # a ring's last vertex closes it: no segment to the next ring
    a, b = xy[seg], nxt[seg]
    px, py = points[:, :1], points[:, 1:]
    left = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])
    up = (a[:, 1] <= py) & (b[:, 1] > py) & (left > 0)
    down = (b[:, 1] <= py) & (a[:, 1] > py) & (left < 0)
    return up.sum(axis=1) - down.sum(axis=1)


def test_what_lies_outside_the_frame_is_cut_without_changing_the_frame(built_gpkg):
    """The runs of vertices beyond a side of the frame (and its margin) are cut to their ends:
    every point of the frame is covered as the uncut rings cover it (the same winding number,
    on a grid of points over each frame), on the catalogue's polygon layers, frames of several
    sizes; and the cut rings hold fewer vertices."""
    from mbm_sig.maps import geom
    cut_some = 0
    for name in ("communes", "epci", "concessions", "unesco_zone_tampon"):
        g = np.asarray(built_gpkg.read(name).geometry.array)
        x0, y0, x1, y1 = shapely.total_bounds(g)
        w, h = x1 - x0, y1 - y0
        for fx, fy, fw in ((0.0, 0.0, 0.5), (0.3, 0.2, 0.25), (0.55, 0.5, 0.12)):
            box = (x0 + fx * w, y0 + fy * h, x0 + (fx + fw) * w, y0 + fy * h + fw * w * 0.6)
            mask = geom.in_extent(g, box)
            if not mask.any():
                continue
            S = geom._shapes(g, "area")
            xy, part = geom._simplified(S, np.flatnonzero(mask[S.feature]), 20.0)
            cxy, cpart = geom._cut_outside(xy, part, box)
            gx, gy = np.meshgrid(np.linspace(box[0], box[2], 41)[1:-1], np.linspace(box[1], box[3], 29)[1:-1])
            pts = np.c_[gx.ravel(), gy.ravel()] + 0.123          # (off the vertices' round numbers)

            def closing(p):
                codes = np.full(len(p), Path.LINETO)
                codes[np.r_[p[1:] != p[:-1], True]] = Path.CLOSEPOLY
                return codes
            assert np.array_equal(winding(pts, cxy, closing(cpart)), winding(pts, xy, closing(part))), (name, box)
            cut_some += len(xy) - len(cxy)
    assert cut_some > 1000


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
