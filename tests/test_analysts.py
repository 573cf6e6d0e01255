"""Analysts in notebooks: integer fields as nullable integers on both backends, HTML views
of the catalogue and its layer listing, cat.plot and cat.explore with the official style
(explore offline: no request leaves the page, checked in headless Chromium), and the three
example notebooks executed against the test catalogue."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mbm_sig.catalogue.layerdef import load_layers

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_integer_fields_are_nullable_integers(built_catalogue):
    df = built_catalogue.read("concessions")
    for f in load_layers()["concessions"].fields:
        if f.type == "int":
            assert str(df[f.name].dtype) == "Int64", (f.name, df[f.name].dtype)
    years = df["annee_renonciation"]
    assert years.isna().any() and years.notna().any()          # nulls and years together
    assert all(isinstance(v, (int, np.integer)) and 1900 < v < 2100 for v in years.dropna())
    assert str(built_catalogue.read("communes", where={"insee": "62498"})["population"].dtype) == "Int64"
    # the empty frame of a layer never written has the same dtypes
    assert str(built_catalogue.read("ssm_dispensaires")["annee"].dtype) == "Int64"


def test_html_views(built_gpkg):
    page = built_gpkg._repr_html_()
    assert "Catalogue mbm-sig" in page and "GeoPackage" in page
    listing = built_gpkg.layers()
    h = listing._repr_html_()
    for theme in set(listing["theme"]):
        assert f">{theme}</th>" in h
    assert "<code>puits</code>" in h and ">636<" in h
    n = int(listing.loc[listing["name"] == "communes", "count"].iloc[0])
    assert f"{n:,}".replace(",", "\u202f") in h                # French thousands separator
    assert "vide" in h                                         # layers waiting for an import
    assert type(listing[["name"]]) is pd.DataFrame             # slices are plain DataFrames


def test_plot_uses_official_style(built_gpkg):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.colors import to_hex
    ax = built_gpkg.plot("cites_minieres")
    colors = load_layers()["cites_minieres"].style["categories"]["colors"]
    drawn = {to_hex(c) for coll in ax.collections for c in coll.get_facecolors()}
    assert {c.lower() for c in colors.values()} <= drawn
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:4] == list(colors)[:4]
    assert ax.get_title() == load_layers()["cites_minieres"].title
    ax2 = built_gpkg.plot("puits")
    assert ax2.collections and to_hex(ax2.collections[0].get_facecolors()[0]) == "#000000"
    with pytest.raises(ValueError, match="no geometry"):
        built_gpkg.plot("sante_communes_import")


def test_explore_offline_in_chromium(built_gpkg, tmp_path):
    from test_web import HAVE_CHROMIUM, CHROMIUM, Chromium
    ex = built_gpkg.explore("cites_minieres", fields=["nom", "type"], context="communes")
    assert "<iframe srcdoc=" in ex._repr_html_()
    assert "unpkg" not in ex.page and "cdn" not in ex.page.lower()
    path = ex.save(tmp_path / "cites.html")
    if not HAVE_CHROMIUM:
        pytest.skip(f"headless Chromium not found at {CHROMIUM}")
    from PIL import Image
    b = Chromium()
    try:
        b.open_page()
        b.navigate(path.as_uri())
        count = b.wait_js("window.MBM_EXPLORE && MBM_EXPLORE.count")
        assert count == len(built_gpkg.read("cites_minieres"))
        urls = [p["request"]["url"] for p in b.event_list("Network.requestWillBeSent")]
        assert urls and all(u == path.as_uri() or u.startswith("data:") for u in urls), urls
        assert not b.event_list("Runtime.exceptionThrown")
        fills = b.js("Array.from(document.querySelectorAll('path.leaflet-interactive'))"
                     ".map(p => p.getAttribute('fill'))")
        colors = load_layers()["cites_minieres"].style["categories"]["colors"]
        assert {c.lower() for c in colors.values()} <= {f.lower() for f in fills if f}
        png = b.screenshot()
        (tmp_path / "explore.png").write_bytes(png)
        img = Image.open(io.BytesIO(png)).convert("RGB")
        assert len(img.getcolors(maxcolors=1 << 20)) > 20          # not a blank page
    finally:
        b.close()


@pytest.mark.parametrize("notebook", sorted(p.name for p in EXAMPLES.glob("*.ipynb")))
def test_example_notebooks_run(notebook, built_gpkg, tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient
    monkeypatch.setenv("MBM_SIG_DB", built_gpkg.url)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = nbformat.read(EXAMPLES / notebook, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    if notebook.startswith("01"):
        assert (tmp_path / "cites.html").stat().st_size > 100_000
    if notebook.startswith("03"):
        assert (tmp_path / "douai-65-ans.pdf").stat().st_size > 10_000


def test_example_notebooks_count():
    assert len(list(EXAMPLES.glob("*.ipynb"))) == 3
