"""Map recipes on the real-data catalogue: the example recipes render real maps whose legend
is the classification of the catalogue data; broken recipes fail with clear errors that name
the file and the key before anything is drawn."""

from __future__ import annotations

import itertools
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from pypdf import PdfReader

from mbm_sig.maps import fmt
from mbm_sig.maps.classify import classify
from mbm_sig.maps.recipe import RecipeError, load_recipe, render_recipe
from conftest import same_bytes  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "atlases" / "maps"
LENS_LIEVIN = {"siren": "246200364", "nom": "CA de Lens - Liévin"}


def text_of(path) -> str:
    out = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return out.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture(autouse=True)
def _epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


@pytest.fixture(scope="module")
def cat(built_gpkg):
    return built_gpkg


def test_density_recipe_q6_legend_equals_data(cat, tmp_path):
    out = tmp_path / "densite.pdf"
    info = render_recipe(load_recipe(RECIPES / "densite_bassin.yaml"), cat, out)
    box = PdfReader(out).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((841.89, 595.28), abs=0.01)
    com = cat.read("communes", where={"arrondissement": ["622", "627", "593", "596"]})
    expect = classify(com["population"] / com["superficie_km2"], "Q6")
    assert info.legends[0]["breaks"] == pytest.approx(list(expect))
    text = text_of(out)
    for b in expect:
        assert fmt.num(b, 0).replace("\u202f", " ") in text
    assert "Densité de population des communes du bassin minier" in text
    assert "Sources : " in text and "Réalisation : Mission Bassin Minier" in text
    assert "Etalab" in text                                    # sources derived from the layers used (COG, diffusion Etalab)
    assert {"communes", "arrondissements", "bassin_minier", "departements"} <= set(info.layers)
    md = PdfReader(out).metadata
    assert md.title.startswith("Densité de population") and "Q6" in md.get("/Keywords")
    fonts = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts)


def test_prop_choro_recipe(cat, tmp_path):
    out = tmp_path / "seniors.pdf"
    info = render_recipe(load_recipe(RECIPES / "seniors_bassin.yaml"), cat, out)
    kinds = [leg["kind"] for leg in info.legends]
    assert kinds[:2] == ["prop", "choro"]
    ind = cat.read("indicateurs_communes", where={"arrondissement": ["622", "627", "593", "596"]})
    assert info.legends[0]["entries"][0] == fmt.num(ind["population"].max(), 0)
    assert info.legends[1]["breaks"] == pytest.approx(list(classify(ind["part_65p"], "quantile", 5)))
    assert 0 < len(info.labels) <= 40
    text = text_of(out)
    assert "Part des 65 ans et plus (%)" in text and "Population légale (hab.)" in text


def test_typo_recipe_with_params_and_labels(cat, tmp_path):
    out = tmp_path / "cites.pdf"
    info = render_recipe(load_recipe(RECIPES / "cites_lens_lievin.yaml", LENS_LIEVIN), cat, out)
    typo = next(leg for leg in info.legends if leg["kind"] == "typo")
    assert typo["entries"] == ["Corons", "Cité pavillonnaire", "Cité jardin", "Cité moderne"]  # domain order
    assert len(info.labels) >= 10
    for a, b in itertools.combinations([lab["bbox"] for lab in info.labels], 2):
        assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
    text = text_of(out)
    assert "CA de Lens - Liévin" in text and "Ancien puits de mine" in text and "Terril" in text
    assert "Lens" in {lab["text"] for lab in info.labels}


def test_rerender_identical_bytes(cat, tmp_path):
    a, b = tmp_path / "a.pdf", tmp_path / "b.pdf"
    render_recipe(RECIPES / "densite_bassin.yaml", cat, a)
    render_recipe(RECIPES / "densite_bassin.yaml", cat, b)
    assert same_bytes(a, b)


def test_join_computed_and_fictive(cat, tmp_path):
    import shutil

    import pandas as pd

    from mbm_sig.catalogue import Catalogue
    shutil.copyfile(cat.url, tmp_path / "own.gpkg")        # the shared catalogue stays untouched
    cat = Catalogue.open(str(tmp_path / "own.gpkg"))
    ind = cat.read("indicateurs_communes", columns=["insee"])
    rows = pd.DataFrame({"insee": ind["insee"], "annee": 2005,
                         "generalistes_liberaux": np.arange(len(ind)) % 7, "fictif": True})
    cat.write("sante_communes_import", rows)
    recipe = {
        "title": "Généralistes libéraux pour 10 000 habitants",
        "extent": {"layer": "arrondissements", "where": {"code": "627"}},
        "layers": [{"layer": "communes", "where": {"arrondissement": "627"},
                    "join": {"layer": "sante_communes_import", "on": "insee"},
                    "computed": {"dens": "1e4 * generalistes_liberaux / population"},
                    "type": "choro", "var": "dens", "method": "quantile", "k": 4, "palette": "Greens",
                    "legend_title": "Pour 10 000 hab."}],
    }
    p = tmp_path / "fictif.yaml"
    p.write_text(yaml.safe_dump(recipe, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "fictif.pdf"
    info = render_recipe(load_recipe(p), cat, out)
    com = cat.read("communes", where={"arrondissement": "627"}).merge(rows, on="insee", how="left")
    dens = (1e4 * com["generalistes_liberaux"] / com["population"]).replace([np.inf], np.nan)
    assert info.legends[0]["breaks"] == pytest.approx(list(classify(dens, "quantile", 4)))
    assert "Données fictives" in text_of(out)                    # the imported rows say fictif


BASE = {"title": "T", "layers": [{"layer": "communes", "type": "choro", "var": "population"}]}


def _with(**changes):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    for path, value in changes.items():
        keys = path.split("__")
        target = doc
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        target[keys[-1]] = value
    return doc


@pytest.mark.parametrize("doc, key, message", [
    (_with(page="B4"), "page", "must be one of A5, A4, A3, A2, not 'B4'"),
    (_with(orientation="oblique"), "orientation", "must be one of portrait, landscape, auto"),
    (_with(colour="red"), "colour", "unknown key"),
    (_with(layers__0__layer="communez"), "layers[0].layer", "unknown layer 'communez'"),
    (_with(layers__0__var="densité"), "layers[0].var", "layer 'communes' has no field 'densité'"),
    (_with(layers__0__where={"dept": "59"}), "layers[0].where", "has no field 'dept'"),
    (_with(layers__0__method="kmeans"), "layers[0].method", "unknown classification method 'kmeans'"),
    (_with(layers__0__palette="viridis"), "layers[0].palette", "unknown palette 'viridis'"),
    (_with(layers__0__k=12, layers__0__palette="Reds"), "layers[0].k", "at most 9 classes"),
    (_with(layers__0__type="heatmap"), "layers[0].type", "unknown layer type 'heatmap'"),
    (_with(layers__0__computed={"x": "__import__('os')"}), "layers[0].computed.x", "only numbers, field names"),
    (_with(layers__0__computed={"x": "population / surface"}), "layers[0].computed.x", "unknown field 'surface'"),
    (_with(layers__0__join={"layer": "nope", "on": "insee"}), "layers[0].join", "unknown layer 'nope'"),
    (_with(extent={"layer": "arrondissements", "where": {"code": "999"}}), "extent.where", "no feature"),
    (_with(extent={"bbox": [1, 2, 0, 4]}), "extent.bbox", "[xmin, ymin, xmax, ymax]"),
    (_with(title="Carte de {nom}"), "title", "template parameter {nom} is not given"),
    # nested keys and the keys of each map type are checked too
    (_with(layers__0__labels={"var": "nom", "sort": "population"}), "layers[0].labels.sort", "unknown key"),
    (_with(layers__0__join={"layer": "indicateurs_communes", "onn": "insee"}), "layers[0].join.onn", "unknown key"),
    (_with(credits={"note": ["x"]}), "credits.note", "unknown key"),
    (_with(inset={"layr": "departements"}), "inset.layr", "unknown key"),
    (_with(extent={"layer": "arrondissements", "wher": {}}), "extent.wher", "unknown key"),
    (_with(metadata={"subjet": "x"}), "metadata.subjet", "unknown key"),
    (_with(layers__0__fill="red"), "layers[0].fill", "unknown key of a 'choro' layer"),
    (_with(layers__0__type="typo", layers__0__inches=0.3), "layers[0].inches", "unknown key of a 'typo' layer"),
    # numbers out of range, with their key path
    (_with(layers__0__linewidth=-0.5), "layers[0].linewidth", "must be >= 0"),
    (_with(layers__0__alpha=1.5), "layers[0].alpha", "must be <= 1"),
    (_with(layers__0__type="prop", layers__0__inches=0), "layers[0].inches", "must be > 0"),
    (_with(layers__0__type="symbols", layers__0__size=-2), "layers[0].size", "must be > 0"),
    (_with(layers__0__k=1), "layers[0].k", "must be >= 2"),
    (_with(layers__0__k=2.5), "layers[0].k", "expected integer"),
    (_with(layers__0__legend_decimals=-1), "layers[0].legend_decimals", "must be >= 0"),
    (_with(layers__0__labels={"var": "nom", "size": -6}), "layers[0].labels.size", "must be > 0"),
    (_with(layers__0__labels={"var": "nom", "max_labels": 0}), "layers[0].labels.max_labels", "must be >= 1"),
    (_with(simplify_mm=-0.1), "simplify_mm", "must be >= 0"),
    (_with(margin=-0.1), "margin", "must be >= 0"),
    (_with(margin=1.2), "margin", "between 0 and 1"),
    (_with(basemap={"source": "x.tif", "alpha": -1}), "basemap.alpha", "must be >= 0"),
    (_with(scalebar="yes"), "scalebar", "expected boolean"),
])
def test_broken_recipes_fail_clearly(cat, tmp_path, doc, key, message):
    p = tmp_path / "broken.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    out = tmp_path / "never.pdf"
    with pytest.raises(RecipeError) as err:
        render_recipe(p, cat, out)
    msg = str(err.value)
    assert msg.startswith(f"{p}: {key}: "), msg
    assert message in msg, msg
    assert not out.exists()                                     # nothing drawn


def test_yaml_syntax_error_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"bad\.yaml: invalid YAML"):
        load_recipe(p)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("title: Béthune\n".encode("latin-1"))
    with pytest.raises(RecipeError, match=r"latin1\.yaml: not UTF-8 text"):
        load_recipe(latin)


def test_cli_map(cat, tmp_path, monkeypatch, capsys):
    from mbm_sig.maps import cli_map
    monkeypatch.setenv("MBM_SIG_DB", str(cat.url))
    out = tmp_path / "cli.pdf"
    assert cli_map([str(RECIPES / "densite_bassin.yaml"), "-o", str(out), "--png"]) == 0
    assert out.exists() and out.with_suffix(".png").exists()
    # a template parameter with no value and no default is a clear error
    doc = yaml.safe_load((RECIPES / "cites_lens_lievin.yaml").read_text(encoding="utf-8"))
    doc.pop("params")
    bare = tmp_path / "sans_params.yaml"
    bare.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    assert cli_map([str(bare), "-o", str(out)]) == 2        # invalid input: exit status 2
    assert "is not given (known: none)" in capsys.readouterr().err
    # the recipe's defaults make it render alone; -p overrides them
    assert cli_map([str(RECIPES / "cites_lens_lievin.yaml"), "-o", str(out)]) == 0
    assert "CA de Lens - Liévin" in subprocess.run(["pdftotext", str(out), "-"], capture_output=True,
                                                    text=True).stdout


def test_recipe_frame_and_label_placement_options(cat, tmp_path):
    doc = yaml.safe_load((RECIPES / "densite_bassin.yaml").read_text(encoding="utf-8"))
    doc["frame"] = "stretch"
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError, match="frame: must be one of fit, fixed"):
        load_recipe(p)
    doc["frame"] = "fixed"
    doc["layers"][2]["labels"]["placement"] = "nowhere"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError, match="placement: must be one of around, center"):
        load_recipe(p)
    doc["layers"][2]["labels"]["placement"] = "center"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    fixed = render_recipe(load_recipe(p), cat, tmp_path / "fixed.pdf")
    fit = render_recipe(load_recipe(RECIPES / "densite_bassin.yaml"), cat, tmp_path / "fit.pdf")
    e = fit.extent
    fx, fy, fw, fh = fit.frame_mm
    assert fw / fh == pytest.approx((e[2] - e[0]) / (e[3] - e[1]), rel=1e-6)
    assert fixed.frame_mm[2] * fixed.frame_mm[3] > fw * fh     # the fixed frame pads the basin
    doc["layout"] = "diagonal"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError, match="layout: must be one of auto, side, bottom"):
        load_recipe(p)


def test_unique_labels(cat, tmp_path):
    """`labels: {unique: true}` labels each text once (two SSM buildings in one commune)."""
    src = yaml.safe_load((RECIPES / "sante_65_ssm.yaml").read_text(encoding="utf-8"))
    bati = cat.read("patrimoine_bati", where={"typologie": "Équipement SSM"})
    assert bati["nom_commune"].duplicated().any()          # the case exists in the data
    src["toponyms"] = False                                 # only the layer's labels are counted
    for unique in (False, True):
        src["layers"][2]["labels"] = {"var": "nom_commune", "size": 6, "unique": unique}
        p = tmp_path / f"u{unique}.yaml"
        p.write_text(yaml.safe_dump(src, allow_unicode=True), encoding="utf-8")
        info = render_recipe(load_recipe(p), cat, tmp_path / f"u{unique}.pdf")
        texts = [lab["text"] for lab in info.labels]
        if unique:
            assert len(texts) == len(set(texts)) and texts
        else:
            assert len(texts) > len(set(texts))


def test_orientation_auto_follows_the_extent(tmp_path):
    from mbm_sig.maps import Map
    wide = Map(orientation="auto", extent=(650_000, 7_020_000, 750_000, 7_060_000))
    tall = Map(orientation="auto", extent=(680_000, 7_000_000, 700_000, 7_060_000))
    assert wide.orientation == "landscape" and (wide.W, wide.H) == (297.0, 210.0)
    assert tall.orientation == "portrait" and (tall.W, tall.H) == (210.0, 297.0)


def test_computed_fields_are_pandas_arithmetic_on_numbers():
    """A computed field (maps.expr) gives what the same arithmetic on the columns made numbers
    with pandas gives (nullable integers, texts that are no number, missing values, booleans,
    a frame's own index), a division by zero NaN, constants alone included."""
    import ast

    import numpy as np
    import pandas as pd

    from mbm_sig.maps import expr

    def with_pandas(text, df):
        def ev(node):
            if isinstance(node, ast.Expression):
                return ev(node.body)
            if isinstance(node, ast.Constant):
                return float(node.value)
            if isinstance(node, ast.Name):
                return pd.to_numeric(df[node.id], errors="coerce").astype(float)
            if isinstance(node, ast.BinOp):
                return expr._BIN[type(node.op)](ev(node.left), ev(node.right))
            return expr._UN[type(node.op)](ev(node.operand))
        with np.errstate(all="ignore"):
            out = ev(expr.parse(text))
        out = out if isinstance(out, pd.Series) else pd.Series(out, index=df.index, dtype=float)
        return out.replace([np.inf, -np.inf], np.nan)

    t = pd.DataFrame({"a": pd.array([1, None, 3, 0, -2], dtype="Int64"), "b": [0.0, 2.0, np.nan, 0.0, 4.0],
                      "c": ["1", "x", None, "2.5", "-0"], "d": [True, False, True, False, True]}, index=[5, 3, 9, 1, 0])
    for text in ["a / b", "a // b", "a % b", "b ** a", "-a + c * 2", "c / a", "3", "d + a", "1e4 * a / b", "b - b"]:
        got, want = expr.evaluate(text, t), with_pandas(text, t)
        assert got.index.equals(want.index) and got.dtype == want.dtype, text
        assert np.array_equal(got.to_numpy(), want.to_numpy(), equal_nan=True), text
    assert expr.evaluate("1 / 0", t).isna().all() and expr.evaluate("a / 0", t).isna().all()
