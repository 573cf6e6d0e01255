"""Thematic-map engine: classification, palettes, French format, and the PDFs themselves
(page size, embedded fonts, legend bounds, text layer, labels, reproducibility, exports)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import mapclassify
import numpy as np
import pandas as pd
import pytest
import shapely
from pypdf import PdfReader

from mbm_sig.maps import Map, MapError, classify, colors
from mbm_sig.maps import fmt
from mbm_sig.maps.classify import ClassificationError, assign
from mbm_sig.maps.palettes import PaletteError
from mbm_sig.maps.output import GhostscriptMissing, save_figure

ROOT = Path(__file__).resolve().parent.parent
from conftest import DATA_DIR, same_bytes  # noqa: E402  (MBM_SIG_DATA_DIR or ../shared/data)

GEOJSON = DATA_DIR / "france-geojson"
A4 = (595.28, 841.89)
needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils missing")


def pdf_text(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.replace("\u00a0", " ").replace("\u202f", " ")


def norm(s: str) -> str:
    return s.replace("\u00a0", " ").replace("\u202f", " ")


def pdf_fonts(path) -> list[list[str]]:
    out = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[2:] if line.strip()]


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def grid():
    """A 20 x 15 grid of square 'communes' (1 km) with a skewed variable and a few NaN."""
    rng = np.random.default_rng(42)
    cells, rows = [], []
    for i, j in itertools.product(range(20), range(15)):
        x, y = 650_000 + i * 1000, 7_000_000 + j * 1000
        cells.append(shapely.box(x, y, x + 1000, y + 1000))
        rows.append(dict(code=f"{i:02d}{j:02d}", nom=f"Commune {i}-{j}", pop=float(rng.lognormal(7, 1.2))))
    df = gpd.GeoDataFrame(rows, geometry=cells, crs=2154)
    df["dens"] = df["pop"] / 1.0
    df.loc[[3, 50, 120], "dens"] = np.nan
    df["kind"] = np.array(["A", "B", "C"])[np.arange(len(df)) % 3]
    return df


@pytest.fixture(scope="module")
def communes():
    """The 1 539 communes of Nord and Pas-de-Calais (IGN Admin Express 2018, detailed)."""
    files = [GEOJSON / "communes-59-nord.geojson", GEOJSON / "communes-62-pas-de-calais.geojson"]
    if not all(f.exists() for f in files):
        pytest.skip("france-geojson mirror not found")
    df = pd.concat([gpd.read_file(f, engine="pyogrio") for f in files], ignore_index=True).to_crs(2154)
    df["surface"] = df.geometry.area / 1e6
    return df


@pytest.fixture(autouse=True)
def _epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")     # 2026-01-01


def sheet(df, **kw):
    m = Map(page=kw.pop("page", "A4"), orientation=kw.pop("orientation", "portrait"), extent=df)
    m.layer(df, type="choro", var="dens", method=kw.pop("method", "quantile"), k=kw.pop("k", 5),
            palette="YlOrRd", legend_title="Densité (hab./km²)")
    m.title("Densité de population : essai").subtitle("Grille de test")
    m.scalebar().arrow().credits(sources=["INSEE, recensement 2021"], notes=["Note de méthode."],
                                 producer="Mission Bassin Minier", date="janvier 2026")
    return m


# ----------------------------------------------------------------------------- classification

def test_q6_bounds_are_the_french_quantiles():
    v = np.arange(1, 201, dtype=float)
    b = classify(v, "Q6")
    assert np.allclose(b, np.quantile(v, [0, .05, .25, .5, .75, .95, 1]))
    assert np.bincount(assign(v, b)).tolist() == [10, 40, 50, 50, 40, 10]


def test_methods_match_mapclassify_and_definitions():
    v = np.random.default_rng(1).lognormal(3, 1, 400)
    assert np.allclose(classify(v, "quantile", 6)[1:], mapclassify.Quantiles(v, k=6).bins)
    assert np.allclose(classify(v, "jenks", 5)[1:], mapclassify.FisherJenks(v, k=5).bins)
    assert np.allclose(classify(v, "ckmeans", 5), classify(v, "fisher", 5))
    assert np.allclose(classify(v, "equal", 4), np.linspace(v.min(), v.max(), 5))
    g = classify(v, "geom", 5)
    assert np.allclose(g[1:] / g[:-1], g[1] / g[0])
    nm = classify(v, "nested_means", 4)
    assert len(nm) == 5 and np.isclose(nm[2], v.mean())
    ht = classify(v, "headtails")
    assert np.isclose(ht[1], v.mean())
    assert classify(v, "breaks", breaks=[10, 50]).tolist() == [v.min(), 10, 50, v.max()]


def test_classification_errors():
    with pytest.raises(ClassificationError, match="unknown classification method 'kmeans'"):
        classify([1, 2, 3], "kmeans")
    with pytest.raises(ClassificationError, match="strictly positive"):
        classify([0, 1, 2], "geom", 3)
    with pytest.raises(ClassificationError, match="power of 2"):
        classify([1, 2, 3, 4], "nested_means", 3)


def test_assign_right_closed_and_nodata():
    b = [0, 10, 20, 30]
    assert assign([0, 10, 10.5, 30, np.nan, 31], b).tolist() == [0, 0, 1, 2, -1, -1]


# ----------------------------------------------------------------------------- palettes, format

def test_colorbrewer_exact_colours():
    assert colors("YlOrRd", 6) == ["#ffffb2", "#fed976", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
    assert colors("Blues", 3) == ["#deebf7", "#9ecae1", "#3182bd"]
    assert colors("RdYlBu", 11)[5] == "#ffffbf"
    assert colors("Set1", 3) == ["#e41a1c", "#377eb8", "#4daf4a"]
    assert colors("OrRd_r", 5) == colors("OrRd", 5)[::-1]
    with pytest.raises(PaletteError, match="unknown palette 'viridis'"):
        colors("viridis", 5)
    with pytest.raises(PaletteError, match="3 to 9 classes, not 12"):
        colors("Reds", 12)


def test_french_number_format():
    assert fmt.num(1234.5, 1) == "1\u202f234,5"
    assert fmt.num(11487.146, 0) == "11\u202f487"
    assert fmt.num(-0.25, 2) == "\u22120,25"
    assert fmt.num(1234567) == "1\u202f234\u202f567"
    assert fmt.typo("Sources : INSEE ; IGN") == "Sources\u00a0: INSEE\u202f; IGN"
    assert fmt.month_year(pd.Timestamp("2026-03-01").date()) == "mars 2026"


# ----------------------------------------------------------------------------- the PDF

@needs_poppler
def test_pdf_page_fonts_text_and_legend(grid, tmp_path):
    path = tmp_path / "m.pdf"
    info = sheet(grid).save(path)
    page = PdfReader(path).pages[0]
    assert (float(page.mediabox.width), float(page.mediabox.height)) == pytest.approx(A4, abs=0.01)
    fonts = pdf_fonts(path)
    assert fonts and all(f[-5] == "yes" for f in fonts), fonts          # emb column
    assert not any("Type" in f and "3" in f for f in fonts)
    text = pdf_text(path)
    # legend class bounds are the classification of the data, French formatted
    expect = classify(grid["dens"], "quantile", 5)
    dec = fmt.auto_decimals(expect)
    labels = [norm(fmt.num(b, dec)) for b in expect]
    assert info.legends[0]["breaks"] == pytest.approx(list(expect))
    for lab in labels:
        assert lab in text, (lab, text)
    assert "Pas de données" in text                          # NaN features get the no-data class
    assert "Densité de population : essai" in text
    assert "Sources : INSEE, recensement 2021." in text
    assert "Réalisation : Mission Bassin Minier, janvier 2026." in text
    assert "Densité (hab./km²)" in text


def test_legend_entries_in_french_typography(grid, tmp_path):
    m = sheet(grid)
    m.layer(grid.dissolve(), type="base", fill="none", legend_label="Limite d'arrondissement : 2026")
    m.save(tmp_path / "t.pdf")
    text = pdf_text(tmp_path / "t.pdf")
    assert "Limite d\u2019arrondissement : 2026" in text and "d'arr" not in text


def test_page_sizes_and_orientation(grid, tmp_path):
    for page, orient, size in (("A4", "landscape", A4[::-1]), ("A3", "portrait", (841.89, 1190.55))):
        p = tmp_path / f"{page}{orient}.pdf"
        sheet(grid, page=page, orientation=orient).save(p)
        box = PdfReader(p).pages[0].mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(size, abs=0.02)


def test_metadata_and_identical_bytes(grid, tmp_path, monkeypatch):
    m = sheet(grid)
    m.metadata = {"Subject": "Essai", "Keywords": ["densité", "test"]}
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    m.save(a)
    sheet(grid).save(b, metadata={"Subject": "Essai", "Keywords": ["densité", "test"]})
    assert same_bytes(a, b)
    md = PdfReader(a).metadata
    assert md.title == "Densité de population : essai"
    assert md.author.startswith("Mission Bassin Minier")
    assert md.subject == "Essai" and md.get("/Keywords") == "densité, test"
    assert md.creation_date.year == 2026
    monkeypatch.delenv("SOURCE_DATE_EPOCH")                       # no date at all: still identical
    c, d = tmp_path / "c.pdf", tmp_path / "d.pdf"
    sheet(grid).save(c)
    sheet(grid).save(d)
    assert same_bytes(c, d)


def test_labels_never_overlap_and_some_are_dropped(grid, tmp_path):
    m = sheet(grid)
    m.labels(grid, var="nom", size=7, priority="pop")
    info = m.save(tmp_path / "l.pdf")
    boxes = [lab["bbox"] for lab in info.labels]
    assert 10 < len(boxes) < len(grid)                          # dense grid: lower priorities dropped
    for (a0, a1, a2, a3), (b0, b1, b2, b3) in itertools.combinations(boxes, 2):
        assert a2 <= b0 or b2 <= a0 or a3 <= b1 or b3 <= a1
    fx, fy, fw, fh = info.frame_mm
    assert all(fx <= b[0] and b[2] <= fx + fw and fy <= b[1] and b[3] <= fy + fh for b in boxes)
    pr = [lab["priority"] for lab in info.labels]
    assert pr[0] == grid["pop"].max()                           # the most important is kept first


def test_all_layer_types_and_exports(grid, tmp_path):
    pts = grid.copy()
    pts["geometry"] = grid.geometry.centroid
    m = Map(extent=grid, orientation="landscape", fictive=True)
    m.layer(grid, type="typo", var="kind", colors={"A": "#1b9e77", "B": "#d95f02", "C": "#7570b3"},
            legend_title="Type")
    m.layer(grid, type="prop_choro", var="pop", var2="dens", method="jenks", k=4, palette="Blues",
            legend_title="Population", legend_title2="Densité")
    m.layer(pts.iloc[::7], type="symbols", var="kind", size=3, legend_title="Points")
    m.layer(grid.dissolve(), type="base", fill="none", edgecolor="#222", linewidth=1, legend_label="Contour")
    m.title("Tous les types").credits(sources=["Test"]).inset(grid.dissolve())
    info = m.save(tmp_path / "t.pdf")
    kinds = [leg["kind"] for leg in info.legends]
    assert kinds == ["typo", "prop", "choro", "symbols", "base"]
    prop = info.legends[1]["entries"]
    assert prop[0] == fmt.num(grid["pop"].max(), 0)             # largest reference circle = maximum
    text = pdf_text(tmp_path / "t.pdf")
    raw = subprocess.run(["pdftotext", "-raw", str(tmp_path / "t.pdf"), "-"], capture_output=True,
                         text=True, check=True).stdout
    assert "DONNÉESFICTIVES" in raw.replace("\n", "")             # the rotated stamp
    assert "Données fictives" in text
    save_figure(m.draw().figure, tmp_path / "t.svg")
    assert (tmp_path / "t.svg").read_text().lstrip().startswith("<?xml")
    info = m.draw()
    save_figure(info.figure, tmp_path / "t.png", dpi=100)
    import matplotlib.image as mpimg
    h, w = mpimg.imread(tmp_path / "t.png").shape[:2]
    assert (w, h) == (int(297 / 25.4 * 100), int(210 / 25.4 * 100))


def test_map_errors(grid):
    with pytest.raises(MapError, match="unknown page size 'B5'"):
        Map(page="B5")
    with pytest.raises(MapError, match="unknown layer type 'heat'"):
        Map().layer(grid, type="heat", var="dens")
    with pytest.raises(MapError, match="field 'nope' not in the layer data"):
        Map().layer(grid, type="choro", var="nope")


def test_cmyk(grid, tmp_path, monkeypatch):
    m = sheet(grid)
    if shutil.which("gs"):
        p = tmp_path / "cmyk.pdf"
        m.save(p, cmyk=True)
        reader = PdfReader(p)
        content = reader.pages[0].get_contents().get_data()
        assert b" k" in content or b" K" in content                  # CMYK colour operators
        assert b" rg" not in content
        # the CMYK profile is embedded as the output intent; still vector, fonts embedded
        (intent,) = [o.get_object() for o in reader.trailer["/Root"]["/OutputIntents"]]
        assert intent["/S"] == "/GTS_PDFX" and intent["/DestOutputProfile"].get_object()["/N"] == 4
        assert intent["/Info"] == "default_cmyk.icc"
        assert "image" not in subprocess.run(["pdfimages", "-list", str(p)], capture_output=True,
                                             text=True).stdout.split("---\n")[-1]
        assert all(f[-5] == "yes" for f in pdf_fonts(p))
        # the print shop's profile instead of Ghostscript's
        shop = tmp_path / "Imprimerie Lévêque (FOGRA39).icc"
        shop.write_bytes(intent["/DestOutputProfile"].get_object().get_data())   # a real ICC profile
        monkeypatch.setenv("MBM_SIG_CMYK_ICC", str(shop))
        sheet(grid).save(tmp_path / "shop.pdf", cmyk=True)
        (intent,) = [o.get_object() for o in PdfReader(tmp_path / "shop.pdf").trailer["/Root"]["/OutputIntents"]]
        assert intent["/Info"] == shop.name
        monkeypatch.setenv("MBM_SIG_CMYK_ICC", str(tmp_path / "absent.icc"))
        with pytest.raises(MapError, match="no such ICC profile"):
            sheet(grid).save(tmp_path / "x.pdf", cmyk=True)
        monkeypatch.delenv("MBM_SIG_CMYK_ICC")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GhostscriptMissing, match="Ghostscript"):
        m.save(tmp_path / "x.pdf", cmyk=True)


@needs_poppler
def test_all_communes_sheet_is_small(communes, tmp_path):
    """A sheet of all 1 539 detailed communes: simplified to print resolution, ≤ 200 KB."""
    raw = int(shapely.get_num_coordinates(communes.geometry.values).sum())
    m = Map(extent=communes)
    communes = communes.assign(dens=np.arange(len(communes), dtype=float))
    m.layer(communes, type="choro", var="dens", method="Q6", palette="YlOrRd", legend_title="Rang")
    m.title("Toutes les communes").scalebar().arrow().credits(sources=["IGN"])
    info = m.save(tmp_path / "all.pdf")
    assert info.features[0] == len(communes)
    assert (tmp_path / "all.pdf").stat().st_size <= 200_000, raw
    assert all(f[-5] == "yes" for f in pdf_fonts(tmp_path / "all.pdf"))


def test_basemap_offline_or_missing_never_fails(grid, tmp_path, capsys):
    m = sheet(grid).basemap(str(tmp_path / "absent.tif"))
    m.save(tmp_path / "b.pdf")
    assert "fond de carte indisponible" in capsys.readouterr().err
    # a local GeoTIFF in EPSG:2154 is drawn under the layers, at the raster's own resolution
    rasterio = pytest.importorskip("rasterio")
    from rasterio.transform import from_origin
    tif = tmp_path / "fond.tif"
    data = (np.indices((3, 120, 160)).sum(axis=0) % 255).astype("uint8")
    with rasterio.open(tif, "w", driver="GTiff", width=160, height=120, count=3, dtype="uint8",
                       crs="EPSG:2154", transform=from_origin(645_000, 7_020_000, 200, 200)) as dst:
        dst.write(data)
    sheet(grid).basemap(str(tif), alpha=0.5).save(tmp_path / "c.pdf")
    out = subprocess.run(["pdfimages", "-list", str(tmp_path / "c.pdf")], capture_output=True, text=True).stdout
    assert "image" in out


def test_logo(grid, tmp_path):
    import matplotlib.image as mpimg
    logo = tmp_path / "logo.png"
    mpimg.imsave(logo, np.tile(np.linspace(0, 1, 64), (32, 1)), cmap="Greys")
    sheet(grid).logo(str(logo), width_mm=20).save(tmp_path / "l.pdf")
    out = subprocess.run(["pdfimages", "-list", str(tmp_path / "l.pdf")], capture_output=True, text=True).stdout
    assert len(out.splitlines()) >= 3                         # header + one image


# ----------------------------------------------------------------------------- layout polish
# (frame fitted to the extent, legends of what is drawn, labels beside point symbols,
# legend symbols at the map's size, crowded legend columns that never overflow)

def _strip(nx=40, ny=5, x0=650_000, y0=7_000_000):
    """An elongated east–west band of 1 km cells (aspect nx / ny)."""
    cells, rows = [], []
    for i, j in itertools.product(range(nx), range(ny)):
        cells.append(shapely.box(x0 + i * 1000, y0 + j * 1000, x0 + (i + 1) * 1000, y0 + (j + 1) * 1000))
        rows.append(dict(nom=f"C{i}-{j}", v=float(i * ny + j), kind="ABCD"[min(i // 10, 3)]))
    return gpd.GeoDataFrame(rows, geometry=cells, crs=2154)


def _boxes_overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("orientation, nx, ny", [("landscape", 24, 10), ("landscape", 10, 16),
                                                   ("portrait", 20, 10), ("portrait", 10, 16)])
def test_frame_fits_the_extent(orientation, nx, ny):
    df = _strip(nx, ny)
    m = Map(orientation=orientation, extent=df, margin=0.04)
    m.layer(df, type="choro", var="v", k=4, legend_title="Valeur")
    m.title("Cadre ajusté").scalebar().arrow().inset(df.dissolve()).credits(sources=["Test"])
    info = m.draw()
    fx, fy, fw, fh = info.frame_mm
    aspect = nx / ny
    W, H = info.size_mm
    assert fw / fh == pytest.approx(aspect, rel=0.01)
    e = info.extent
    assert (e[2] - e[0]) / (e[3] - e[1]) == pytest.approx(aspect, rel=0.01)   # no padding band
    assert 0 <= fx and fx + fw <= W and 0 <= fy and fy + fh <= H
    ins = info.boxes["inset"]
    cred = info.boxes["credits"]
    frame_box = (fx, fy, fx + fw, fy + fh)
    for box in (ins, cred):
        b = (box[0], box[1], box[0] + box[2], box[1] + box[3])
        assert not _boxes_overlap(b, frame_box), (box, info.frame_mm)
        assert b[2] <= W + 1e-6 and b[3] <= H + 1e-6
    if orientation == "landscape" and aspect > 2:
        # a wide extent: the frame across the page, the legend in the band under it
        assert info.layout == "bottom"
        assert info.legends[0]["bbox"][1] >= fy + fh
        assert cred[1] >= fy + fh
        side = Map(orientation=orientation, extent=df, margin=0.04, layout="side")
        side.layer(df, type="choro", var="v", k=4, legend_title="Valeur")
        side.title("Cadre ajusté").scalebar().arrow().inset(df.dissolve()).credits(sources=["Test"])
        s = side.draw()
        # the legend column starts at the frame's top, next to the actual frame
        sx, sy, sw, sh = s.frame_mm
        assert s.layout == "side" and s.legends[0]["bbox"][0] == pytest.approx(sx + sw + 6)
        assert s.boxes["credits"][1] >= sy + sh                      # credits under the short frame
    if orientation == "landscape" and aspect < 1:
        assert info.layout == "side"


def test_fitted_frame_keeps_a_minimum_size():
    df = _strip(80, 5)                                  # aspect 16: the frame would be a ribbon
    info = Map(orientation="landscape", extent=df).layer(df, type="choro", var="v").draw()
    fixed = Map(orientation="landscape", extent=df, frame="fixed").layer(df, type="choro", var="v").draw()
    from mbm_sig.maps.solver import FRAME_MIN
    assert info.frame_mm[3] == pytest.approx(FRAME_MIN * fixed.frame_mm[3])
    assert info.frame_mm[2] == pytest.approx(fixed.frame_mm[2])


def test_fixed_frame_opt_out():
    df = _strip(40, 5)
    fit = Map(orientation="landscape", extent=df).layer(df, type="choro", var="v").draw()
    fixed = Map(orientation="landscape", extent=df, frame="fixed").layer(df, type="choro", var="v").draw()
    assert fixed.frame_mm[3] > fit.frame_mm[3] + 20                 # fixed: the whole available height
    e = fixed.extent
    assert (e[2] - e[0]) / (e[3] - e[1]) < 4                        # the extent padded to the frame
    with pytest.raises(MapError, match="frame must be fit or fixed"):
        Map(frame="stretch")


def test_legend_lists_only_categories_in_extent():
    df = _strip(40, 5)
    pts = df.copy()
    pts["geometry"] = df.geometry.centroid
    colors_ = {"D": "#7570b3", "B": "#d95f02", "A": "#1b9e77", "C": "#e7298a"}     # the layer's order
    # extent over the columns 12..27: categories B (10..19) and C (20..29) only
    m = Map(orientation="landscape", extent=(662_000, 7_000_000, 678_000, 7_005_000), margin=0.0)
    m.layer(df, type="typo", var="kind", colors=colors_, legend_title="Type")
    m.layer(pts, type="symbols", var="kind", colors=colors_, size=4, legend_title="Points")
    info = m.draw()
    x0, y0, x1, y1 = info.extent
    cells = df.cx[x0:x1, y0:y1]
    shown = set(cells["kind"])
    assert shown == {"B", "C"}
    for leg in info.legends[:2]:
        assert set(leg["entries"]) <= shown and set(leg["entries"]) == shown
        assert leg["entries"] == [c for c in colors_ if c in shown]    # order of the definition
    # the whole layer in the extent: every category, in the layer's order
    full = Map(orientation="landscape", extent=df).layer(df, type="typo", var="kind", colors=colors_).draw()
    assert full.legends[0]["entries"] == list(colors_)


def test_point_labels_beside_their_symbols(grid):
    pts = grid.iloc[::9].copy()
    pts["geometry"] = pts.geometry.centroid
    m = Map(extent=grid)
    m.layer(pts, type="symbols", size=6, fill="#000000", legend_label="Point")
    m.labels(pts, var="nom", size=6)                      # points: beside the symbol by default
    m.layer(grid.iloc[::40], type="base", fill="none", legend=False)
    poly = grid.iloc[::40]
    m.labels(poly, var="code", size=6)                    # polygons: centred
    info = m.draw()
    r = 6 * 25.4 / 72 / 2
    point_labels = [lab for lab in info.labels if lab["around"]]
    poly_labels = [lab for lab in info.labels if not lab["around"]]
    assert len(point_labels) >= len(pts) // 2 and poly_labels
    for lab in point_labels:
        x0, y0, x1, y1 = lab["bbox"]
        ax, ay = lab["anchor"]
        assert not (x0 <= ax <= x1 and y0 <= ay <= y1), lab
        # the label clears the symbol itself (box at least the radius away)
        dx = max(x0 - ax, 0, ax - x1)
        dy = max(y0 - ay, 0, ay - y1)
        assert max(dx, dy) >= r * 0.7071 - 1e-6, lab
    for lab in poly_labels:
        x0, y0, x1, y1 = lab["bbox"]
        ax, ay = lab["anchor"]
        assert x0 <= ax <= x1 and y0 <= ay <= y1
    with pytest.raises(MapError, match="placement"):
        Map(extent=grid).labels(pts, var="nom", placement="auto")



def test_labels_find_their_symbols_by_identity_not_address(grid):
    """Labels take the symbol radius of the layer drawn from the *same* data object; a
    temporary frame freed after ``layer()`` must not lend its symbols to another temporary
    that CPython happens to allocate at the same address (that made re-renders differ)."""
    pts = grid.copy()
    pts["geometry"] = grid.geometry.centroid
    big = 12 * 25.4 / 72 / 2                 # radius (mm) of the size-12 symbols
    for _ in range(20):
        m = Map(extent=grid)
        m.layer(pts.iloc[::7], type="symbols", size=12, fill="#000", legend=False)   # freed after the call
        m.labels(pts.iloc[::9], var="nom", size=6)                                   # another temporary
        info = m.draw()
        for lab in info.labels:
            x0, y0, x1, y1 = lab["bbox"]
            ax, ay = lab["anchor"]
            gap = max(x0 - ax, 0, ax - x1, y0 - ay, 0, ay - y1)
            assert gap < big * 0.7071, (gap, lab)        # default 0.8 mm offset, not the big symbols'


@pytest.mark.parametrize("marker, size", [("o", 3.4), ("s", 6.5), ("D", 5), ("^", 6), ("P", 6)])
def test_legend_symbol_size_is_the_map_symbol_size(grid, marker, size):
    pts = grid.iloc[::5].copy()
    pts["geometry"] = pts.geometry.centroid
    m = Map(extent=grid)
    m.layer(pts, type="symbols", var="kind", marker=marker, size=size, legend_title="Catégorie")
    m.layer(pts.iloc[:3], type="symbols", marker=marker, size=size, fill="#000", legend_label="Seul")
    info = m.draw()
    on_map = info.symbols[0]
    assert on_map["marker"] == marker
    assert max(on_map["width_mm"], on_map["height_mm"]) == pytest.approx(
        size * 25.4 / 72 * (1.414 if marker == "D" else 1.0), rel=0.01)
    drawn = [s for leg in info.legends for s in leg.get("symbols", [])]
    assert len(drawn) == 3 + 1                               # A, B, C and the single entry
    for s in drawn:
        assert s["marker"] == marker
        assert s["width_mm"] == pytest.approx(on_map["width_mm"], rel=1e-6)
        assert s["height_mm"] == pytest.approx(on_map["height_mm"], rel=1e-6)


def test_square_prop_legend_is_square(grid):
    m = Map(extent=grid).layer(grid, type="prop", var="pop", symbol="square", legend_title="Population")
    info = m.draw()
    assert {s["marker"] for s in info.legends[0]["symbols"]} == {"square"}
    assert info.symbols[0]["marker"] == "s"
    assert info.legends[0]["symbols"][0]["width_mm"] == pytest.approx(info.symbols[0]["max_mm"], rel=1e-6)


def test_crowded_legend_column_never_overflows(grid):
    df = _strip(40, 5)
    long_title = ("Un titre de légende particulièrement long qui décrit la variable, son unité, "
                  "sa source et son millésime")
    m = Map(orientation="landscape", extent=df, layout="side")
    for i in range(5):
        cats = {f"Catégorie n° {i}-{j} au libellé assez long pour passer à la ligne": c
                for j, c in enumerate(colors("Set3", 10))}
        d = df.assign(cat=[list(cats)[k % 10] for k in range(len(df))])
        m.layer(d, type="typo", var="cat", colors=cats, legend_title=f"{long_title} ({i})")
    m.layer(df, type="choro", var="v", k=6, legend_title=long_title)
    m.title("Légendes nombreuses").inset(df.dissolve()).credits(sources=["Source A", "Source B"],
                                                                 notes=["Une note. " * 30])
    info = m.draw()
    W, H = info.size_mm
    boxes = [leg["bbox"] for leg in info.legends]
    assert len(boxes) == 6
    for b in boxes:
        assert 0 <= b[0] and b[2] <= W - 10 + 1e-6 and 0 <= b[1] and b[3] <= H - 10 + 1e-6, b
    for a, b in itertools.combinations(boxes, 2):
        assert not _boxes_overlap(a, b)
    fx, fy, fw, fh = info.frame_mm
    others = [(fx, fy, fx + fw, fy + fh)]
    for k in ("inset", "credits"):
        if k in info.boxes:
            x, y, w, h = info.boxes[k]
            others.append((x, y, x + w, y + h))
    for b in boxes:
        for o in others:
            assert not _boxes_overlap(b, o), (b, o)
    # shrunk gracefully: smaller text, not below the minimum, then two columns
    from mbm_sig.maps.layout import LEGEND_MIN_SCALE
    assert all(LEGEND_MIN_SCALE - 1e-9 <= leg["scale"] < 1 for leg in info.legends)
    assert any(leg["ncols"] == 2 for leg in info.legends) or len({round(b[0], 3) for b in boxes}) == 2
    # long titles wrap inside the column
    from mbm_sig.maps.layout import LEGEND_TITLE_SIZE, measure
    for b, (blk, _, _) in zip(boxes, m._plan(m._blocks()).blocks):
        assert all(measure(s, LEGEND_TITLE_SIZE * blk.scale, "bold")[0] <= blk.max_w + 1e-6 for s in blk.title_lines())


# ----------------------------------------------------------------------------- side column or bottom band

def _layout_sheet(df, orientation="landscape", layout="auto", crowded=False, page="A4"):
    """A sheet with the pieces of an atlas page: choropleth, categories, point symbols and
    single entries, inset, scale bar, arrow, long credits."""
    pts = df.copy()
    pts["geometry"] = df.geometry.centroid
    m = Map(page=page, orientation=orientation, extent=df, margin=0.04, layout=layout)
    m.layer(df, type="choro", var="v", k=6, legend_title="Valeur de l'indicateur (unités)")
    m.layer(df, type="typo", var="kind", legend_title="Type de commune")
    m.layer(pts.iloc[::7], type="symbols", var="kind", size=5, marker="^", legend_title="Équipements")
    m.layer(pts.iloc[::11], type="symbols", size=4, fill="#000", legend_label="Puits de mine")
    m.layer(df.dissolve(), type="base", fill="none", edgecolor="#7b3294", legend_label="Limite du territoire")
    if crowded:
        for i in range(3):
            cats = {f"Catégorie {i}-{j} au libellé assez long pour passer à la ligne": c
                    for j, c in enumerate(colors("Set3", 9))}
            d = df.assign(cat=[list(cats)[k % 9] for k in range(len(df))])
            m.layer(d, type="typo", var="cat", colors=cats, legend_title=f"Catégories détaillées ({i})")
    m.labels(pts.iloc[::9], var="nom", size=6)
    m.title("Un territoire en bande est–ouest").subtitle("Disposition de la feuille")
    m.scalebar().arrow().inset(df.dissolve().buffer(20_000), title="Situation")
    m.credits(sources=["Source A, millésime 2024", "Source B, extraction 2025"],
              notes=["Une note de méthode assez longue pour occuper plusieurs lignes. " * 4],
              producer="Mission Bassin Minier", date="janvier 2026")
    return m


def _sheet_boxes(info):
    """Legend blocks, inset and credits boxes (x0, y0, x1, y1) of a drawn sheet."""
    boxes = [("legend", tuple(leg["bbox"])) for leg in info.legends]
    for k in ("inset", "credits"):
        if k in info.boxes:
            x, y, w, h = info.boxes[k]
            boxes.append((k, (x, y, x + w, y + h)))
    return boxes


def _check_sheet(info):
    W, H = info.size_mm
    fx, fy, fw, fh = info.frame_mm
    frame = (fx, fy, fx + fw, fy + fh)
    assert 10 - 1e-6 <= fx and fx + fw <= W - 10 + 1e-6 and fy >= 10 and fy + fh <= H - 10 + 1e-6
    boxes = _sheet_boxes(info)
    assert {k for k, _ in boxes} >= {"legend", "inset", "credits"}
    for k, b in boxes:
        assert 10 - 1e-6 <= b[0] and b[2] <= W - 10 + 1e-6 and 10 - 1e-6 <= b[1] and b[3] <= H - 10 + 1e-6, (k, b)
        assert not _boxes_overlap(b, frame), (k, b, frame)
    for (ka, a), (kb, b) in itertools.combinations(boxes, 2):
        assert not _boxes_overlap(a, b), (ka, a, kb, b)
    for lab in info.labels:                       # labels stay in the frame
        x0, y0, x1, y1 = lab["bbox"]
        assert frame[0] - 1e-6 <= x0 and x1 <= frame[2] + 1e-6 and frame[1] - 1e-6 <= y0 and y1 <= frame[3] + 1e-6


@pytest.mark.parametrize("crowded", [False, True])
def test_wide_extent_on_landscape_gets_the_bottom_band(crowded):
    df = _strip(48, 20)                                   # aspect 2.4, like the basin
    auto = _layout_sheet(df, crowded=crowded).draw()
    side = _layout_sheet(df, layout="side", crowded=crowded).draw()
    bottom = _layout_sheet(df, layout="bottom", crowded=crowded).draw()
    assert (auto.layout, side.layout, bottom.layout) == ("bottom", "side", "bottom")
    assert auto.frame_mm == bottom.frame_mm
    area = {k: i.frame_mm[2] * i.frame_mm[3] for k, i in (("auto", auto), ("side", side))}
    assert area["auto"] > 1.15 * area["side"], area
    for info in (auto, side, bottom):
        _check_sheet(info)
        fx, fy, fw, fh = info.frame_mm
        if info is not side or not crowded:      # (a crowded side column: FRAME_MIN pads the frame)
            assert fw / fh == pytest.approx(2.4, rel=0.01)
        assert info.size_mm == (297.0, 210.0)
    # the band: legend blocks side by side under the frame, the inset at its right end,
    # the credits under both
    fx, fy, fw, fh = auto.frame_mm
    legs = [leg["bbox"] for leg in auto.legends]
    assert all(b[1] >= fy + fh for b in legs)
    assert len({round(b[0], 3) for b in legs}) >= 2                       # side by side
    ix, iy, iw, ih = auto.boxes["inset"]
    left = min(b[0] for b in legs)
    assert left == pytest.approx(fx) or left == pytest.approx(10)       # under the frame, or the page
    assert iy >= fy + fh and ix + iw == pytest.approx(fx + fw if left == pytest.approx(fx) else 287)
    assert all(b[2] <= ix for b in legs)
    cx, cy, cw, ch = auto.boxes["credits"]
    assert cy >= max(b[3] for b in legs) and cy >= iy + ih and cx == pytest.approx(left)
    # the side layout keeps its right-hand column
    sx, sy, sw, sh = side.frame_mm
    assert all(leg["bbox"][0] >= sx + sw for leg in side.legends)


def test_tall_extent_keeps_the_side_column():
    df = _strip(12, 20)
    auto = _layout_sheet(df).draw()
    bottom = _layout_sheet(df, layout="bottom").draw()
    assert auto.layout == "side" and bottom.layout == "bottom"
    assert auto.frame_mm[2] * auto.frame_mm[3] > bottom.frame_mm[2] * bottom.frame_mm[3]
    fx, fy, fw, fh = auto.frame_mm
    assert all(leg["bbox"][0] >= fx + fw for leg in auto.legends)
    for info in (auto, bottom):
        _check_sheet(info)


@pytest.mark.parametrize("nx, ny, expected", [(48, 20, "bottom"), (10, 20, "side")])
def test_portrait_layout_follows_the_extent(nx, ny, expected):
    df = _strip(nx, ny)
    info = _layout_sheet(df, orientation="portrait").draw()
    assert info.layout == expected
    _check_sheet(info)
    other = _layout_sheet(df, orientation="portrait", layout="side" if expected == "bottom" else "bottom").draw()
    _check_sheet(other)
    assert info.frame_mm[2] * info.frame_mm[3] > other.frame_mm[2] * other.frame_mm[3]


def test_layout_option_and_reproducible_bytes(tmp_path):
    with pytest.raises(MapError, match="layout must be auto, side or bottom"):
        Map(layout="below")
    df = _strip(48, 20)
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    _layout_sheet(df).save(a)
    _layout_sheet(df).save(b)
    assert same_bytes(a, b)
    assert PdfReader(a).pages[0].mediabox.upper_right == pytest.approx((841.89, 595.28), abs=0.01)


def _words(pdf):
    """(text, xMin, yMin, xMax, yMax) of every word pdftotext finds, in reading order."""
    import re
    out = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return [(m[4], *map(float, m[:4])) for m in
            re.findall(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', out)]


def test_fast_pdf_text_writes_the_same_words_at_the_same_places(tmp_path, monkeypatch):
    """The print-font fast path (mbm_sig.maps.output.pdftext) against matplotlib's own text path:
    same words, same boxes: to 0.05 pt, plus 0.05 % of the distance from the start of the
    line (matplotlib places each glyph on a 1/64 pt grid, the fast path at the font's exact
    advances: along a long line the difference adds up, 0.2 pt over 40 cm), on a sheet with every kind of text (title,
    legends, labels with halo, scale bar, arrow, inset title, credits)."""
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")      # this test is about the fast path (also in the pass with it off)
    from mbm_sig.maps.output import pdftext
    df = _strip(48, 20)
    calls = []
    orig = pdftext._ORIG_DRAW_TEXT
    monkeypatch.setattr(pdftext, "_ORIG_DRAW_TEXT", lambda *a, **k: calls.append(a[3]) or orig(*a, **k))
    monkeypatch.setitem(pdftext._state, "enabled", False)
    _layout_sheet(df).save(tmp_path / "slow.pdf")
    n_slow = len(calls)
    calls.clear()
    monkeypatch.setitem(pdftext._state, "enabled", True)
    _layout_sheet(df).save(tmp_path / "fast.pdf")
    assert n_slow > 40 and len(calls) == 0           # every string took the fast path
    slow, fast = _words(tmp_path / "slow.pdf"), _words(tmp_path / "fast.pdf")
    assert [w[0] for w in fast] == [w[0] for w in slow] and len(fast) > 40
    line_start = {}
    for w in slow:
        line_start[round(w[2], 1)] = min(line_start.get(round(w[2], 1), w[1]), w[1])
    for a, b in zip(slow, fast):
        tol = 0.05 + 0.0005 * (a[3] - line_start[round(a[2], 1)])
        assert max(abs(p - q) for p, q in zip(a[1:], b[1:])) < tol, (a, b, tol)
    assert "MBMSans" in subprocess.run(["pdffonts", str(tmp_path / "fast.pdf")], capture_output=True,
                                       text=True).stdout


def test_fast_pdf_text_leaves_other_fonts_to_matplotlib(tmp_path):
    """A string in another font is matplotlib's, byte for byte; a print-font string with a
    glyph the print font lacks is drawn by matplotlib too (same page content)."""
    import matplotlib
    from matplotlib.figure import Figure
    from pypdf import PdfReader
    from mbm_sig.maps.output import pdftext
    from mbm_sig.maps.output import save_figure

    def fig(family, text):
        f = Figure(figsize=(3, 2))
        f.text(0.1, 0.5, text, family=family, fontsize=9)
        return f

    def both(family, text, name):
        with matplotlib.rc_context({"pdf.fonttype": 42}):
            pdftext._state["enabled"] = False
            try:
                save_figure(fig(family, text), tmp_path / f"{name}-slow.pdf")
            finally:
                pdftext._state["enabled"] = True
            save_figure(fig(family, text), tmp_path / f"{name}-fast.pdf")
        return tmp_path / f"{name}-slow.pdf", tmp_path / f"{name}-fast.pdf"

    assert same_bytes(*both("Liberation Sans", "Liberation : Lens → Béthune", "other"))
    slow, fast = both("MBM Sans", "Pas-de-Calais ≈ 漢", "missing")       # 漢: not in the print font
    content = [PdfReader(p).pages[0].get_contents().get_data() for p in (slow, fast)]
    assert content[0] == content[1] and b"TJ" in content[0]
    # a soft hyphen is hidden by matplotlib's shaping: such strings stay on its path
    slow, fast = both("MBM Sans", "Hénin-Beaumont, Béthune\u00adville", "shy")
    content = [PdfReader(p).pages[0].get_contents().get_data() for p in (slow, fast)]
    assert content[0] == content[1]
    from mbm_sig.maps.layout import measure
    assert measure("Béthune\u00adville", 12)[0] == pytest.approx(measure("Béthuneville", 12)[0], abs=0.05)


def test_fast_pdf_text_follows_font_settings_and_restores_matplotlib(tmp_path, monkeypatch):
    """The fast path resolves generic families with the settings of each save (no stale
    font), and is scoped to our saves: matplotlib's classes are never patched."""
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")      # this test is about the fast path (also in the pass with it off)
    import matplotlib
    from matplotlib.backends.backend_pdf import RendererPdf
    from matplotlib.figure import Figure
    from mbm_sig.maps.output.pdftext import fast_pdf_text
    from mbm_sig.maps.output import save_figure
    before = RendererPdf.draw_text, RendererPdf.get_text_width_height_descent
    for name, family in (("a", "MBM Sans"), ("b", "Liberation Sans"), ("c", "MBM Sans")):
        f = Figure(figsize=(3, 2))
        f.text(0.9, 0.5, "Lens et Liévin", family="sans-serif", fontsize=9, ha="right")
        with matplotlib.rc_context({"font.sans-serif": [family]}):
            save_figure(f, tmp_path / f"{name}.pdf")
        assert family.replace(" ", "") in " ".join(pdf_fonts(tmp_path / f"{name}.pdf")[0]), (name, family)
    # scoped: during our saves matplotlib's classes are untouched (our canvas draws with its
    # own renderer class), and a plain matplotlib save in the same process keeps its text path
    from matplotlib.artist import Artist
    from matplotlib.backends import _backend_pdf_ps
    from mbm_sig.maps.output import pdftext
    seen = []

    class Probe(Artist):
        def draw(self, renderer):
            seen.append((type(getattr(renderer, "_renderer", renderer)).__name__, RendererPdf.draw_text,
                         _backend_pdf_ps.get_glyphs_subset))

    f = Figure(figsize=(3, 2))
    f.text(0.1, 0.5, "Lens", fontsize=9)
    f.add_artist(Probe())
    save_figure(f, tmp_path / "ours.pdf")
    f.savefig(tmp_path / "plain.pdf", format="pdf")
    assert [s[0] for s in seen] == ["FastRendererPdf", "RendererPdf"]
    assert all(s[1] is before[0] and s[2] is pdftext._ORIG_SUBSET for s in seen)
    assert (RendererPdf.draw_text, RendererPdf.get_text_width_height_descent) == before
    with fast_pdf_text():                  # the former process-wide switch now patches nothing
        assert RendererPdf.draw_text is before[0]
    with pytest.raises(RuntimeError):      # a save failing while fonts are written restores the subsetter
        with pdftext._stable_subsets():
            raise RuntimeError("a failing save")
    assert _backend_pdf_ps.get_glyphs_subset is pdftext._ORIG_SUBSET and pdftext._ACTIVE["count"] == 0


def test_fast_path_off_by_environment(tmp_path, monkeypatch, grid):
    """MBM_SIG_PDF_FASTPATH=0 leaves matplotlib's text path (the second test pass runs the map
    tests so); the sheet is still a valid PDF with its text, and the bytes differ."""
    from mbm_sig.maps.output import pdftext
    from matplotlib.backends.backend_pdf import RendererPdf
    m = Map(extent=grid).layer(grid, "choro", "dens", k=4, legend_title="Densité").title("Texte")
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "0")
    assert not pdftext.active()
    with pdftext.fast_pdf_text():
        assert RendererPdf.draw_text is pdftext._ORIG_DRAW_TEXT
    m.save(tmp_path / "off.pdf")
    monkeypatch.setenv("MBM_SIG_PDF_FASTPATH", "1")
    assert pdftext.active()
    m.save(tmp_path / "on.pdf")
    assert (tmp_path / "off.pdf").read_bytes() != (tmp_path / "on.pdf").read_bytes()
    assert "Densité" in pdf_text(tmp_path / "off.pdf") and "Texte" in pdf_text(tmp_path / "off.pdf")


def test_print_font_metrics_match_freetype():
    """Text measured from the print font's tables (no shaping) equals FreeType's unhinted
    measure of matplotlib to its 1/64 pt rounding (per glyph for the width)."""
    import random
    from matplotlib.ft2font import FT2Font, LoadFlags
    from mbm_sig.maps.output import fonts
    from mbm_sig.maps.layout import _font_file
    fonts.ensure()
    rng = random.Random(7)
    for weight in ("normal", "bold"):
        path = _font_file(fonts.FAMILY, weight)
        assert fonts.is_print_font(path), path
        ft = FT2Font(path)
        chars = list(fonts._metrics_table(path)[1])
        for _ in range(300):
            s = "".join(rng.choice(chars) for _ in range(rng.randint(1, 30)))
            size = rng.choice([5.2, 6.5, 7.5, 9, 12.5, 17, 27])
            ft.set_size(size, 72)
            ft.set_text(s, 0.0, flags=LoadFlags.NO_HINTING)
            w, h = (v / 64 for v in ft.get_width_height())
            d = ft.get_descent() / 64
            mw, mh, md = fonts.text_metrics(path, s, size)
            assert abs(mw - w) <= len(s) / 64 and abs(mh - h) <= 3 / 64 and abs(md - d) <= 2 / 64, (s, size)
    assert fonts.text_metrics(path, "漢", 9) is None          # not in the print font: matplotlib measures
