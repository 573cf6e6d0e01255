"""The example sheets of docs/examples render on the real-data catalogue, each with the
legend of its map type, and each has its picture."""

from pathlib import Path

import pytest

from mbm_sig.maps.recipe import load_recipe, render_recipe

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.yaml"))
KINDS = {"two_stocks": ["two_stocks"], "bivariate": ["bivariate"], "discontinuities": ["choro", "discontinuities"],
         "potential": ["choro"], "grad": ["grad"], "prop_typo": ["prop", "typo"],
         "symb_choro": ["symbols", "choro"]}


@pytest.fixture(autouse=True)
def _epoch(monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1767225600")


def test_every_new_type_has_an_example():
    assert sorted(p.stem for p in EXAMPLES) == sorted(KINDS)
    for p in EXAMPLES:
        assert p.with_suffix(".png").is_file(), f"{p.name}: no picture"
        assert p.with_suffix(".png").stat().st_size < 100_000


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_renders_with_its_legend(path, built_gpkg, tmp_path):
    r = load_recipe(path)
    info = render_recipe(r, built_gpkg, tmp_path / f"{path.stem}.pdf")
    kinds = [leg["kind"] for leg in info.legends]
    for k in KINDS[path.stem]:
        assert k in kinds, f"{path.name}: no {k} legend block in {kinds}"
    layer_of_type = [i for i, spec in enumerate(r.doc["layers"]) if spec.get("type") == path.stem]
    assert layer_of_type and all(info.features[i] > 0 for i in layer_of_type)
