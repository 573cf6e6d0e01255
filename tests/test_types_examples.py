"""The example sheets of docs/examples render on the real-data catalogue, each with the
legend of its map type, and each has its picture; each is named after a registered type."""

from pathlib import Path

import pytest

from mbm_sig.maps import types as map_types
from mbm_sig.maps.recipe import load_recipe, render_recipe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.yaml"))
# the types added after mapsf, Magrit and potential, and the legend blocks their sheet shows
KINDS = {"two_stocks": ["two_stocks"], "bivariate": ["bivariate"], "discontinuities": ["choro", "discontinuities"],
         "potential": ["choro"], "grad": ["grad"], "prop_typo": ["prop", "typo"],
         "symb_choro": ["symbols", "choro"]}


@pytest.fixture(autouse=True)
def _epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def test_every_new_type_has_an_example():
    assert set(KINDS) <= {p.stem for p in EXAMPLES} <= set(map_types.names())
    for p in EXAMPLES:
        assert p.with_suffix(".png").is_file(), f"{p.name}: no picture"
        assert p.with_suffix(".png").stat().st_size < 100_000


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_renders_with_its_legend(path, built_gpkg, tmp_path):
    r = load_recipe(path)
    info = render_recipe(r, built_gpkg, tmp_path / f"{path.stem}.pdf")
    kinds = [leg["kind"] for leg in info.legends]
    for k in KINDS.get(path.stem, ()):
        assert k in kinds, f"{path.name}: no {k} legend block in {kinds}"
    layer_of_type = [i for i, spec in enumerate(r.doc["layers"]) if spec.get("type") == path.stem]
    assert layer_of_type and all(info.features[i] > 0 for i in layer_of_type)


@pytest.mark.parametrize("layer, key, message", [
    ({"type": "discontinuities", "var": "densite", "kind": "ratio"}, "layers[0].kind", "must be one of rel, abs"),
    ({"type": "discontinuities", "var": "densite", "threshold": -1}, "layers[0].threshold", "must be >= 0"),
    ({"type": "potential", "var": "population"}, "layers[0].span", "needs span"),
    ({"type": "potential", "var": "population", "span": -5}, "layers[0].span", "must be > 0"),
    ({"type": "potential", "var": "population", "span": 5000, "fun": "gauss"}, "layers[0].fun", "must be one of"),
    ({"type": "bivariate", "var": "densite"}, "layers[0].var2", "needs var2"),
    ({"type": "bivariate", "var": "densite", "var2": "part_65p", "breaks": [1, 2, 3]}, "layers[0].breaks",
     "expected 2 numbers"),
    ({"type": "grad", "var": "population", "sizes": [4, -2]}, "layers[0].sizes", "sizes > 0"),
    ({"type": "two_stocks", "var": "a", "var2": "b", "colors": ["#000000"]}, "layers[0].colors",
     "expected two colours"),
    ({"type": "symb_choro", "var": "type", "var2": "x", "markers": {"Corons": "blob"}}, "layers[0].markers",
     "unknown marker 'blob'"),
    ({"type": "prop_typo", "var": "population"}, "layers[0].var2", "needs var2"),
])
def test_recipe_errors_name_the_key(tmp_path, layer, key, message):
    import yaml

    from mbm_sig.maps.recipe import RecipeError
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump({"title": "x", "layers": [{"layer": "indicateurs_communes", **layer}]},
                                allow_unicode=True), encoding="utf-8")
    with pytest.raises(RecipeError) as e:
        load_recipe(p)
    assert str(e.value).startswith(f"{p}: {key}: ") and message in str(e.value), str(e.value)
