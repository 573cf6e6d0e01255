"""docs/recipes.md is generated from the option schemas: the committed file must be what the
generator makes now (run `make docs` after changing a type's options or the recipe schema)."""

from __future__ import annotations

from pathlib import Path

from mbm_sig.maps import types as map_types
from mbm_sig.maps.recipe import docs

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "recipes.md"


def test_recipe_reference_is_up_to_date():
    assert REFERENCE.read_text(encoding="utf-8") == docs.render(), \
        "docs/recipes.md has drifted from the option schemas: run `make docs`"
    assert docs.main(["--check", str(REFERENCE)]) == 0


def test_reference_lists_every_type_and_option():
    text = docs.render()
    for name, mt in map_types.registry().items():
        assert f"## `type: {name}`" in text
        for o in mt.options:
            assert f"| `{o.name}` |" in text, (name, o.name)
    assert "| `labels.sort` |" not in text and "| `labels.priority` |" in text
    assert "| `coverage.sort` |" in text and "| `coverage.sorte` |" not in text


def test_check_fails_when_a_schema_changes(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(map_types.get("choro"), "doc", "Choropleth, described differently.")
    assert docs.main(["--check", str(REFERENCE)]) == 1
    assert "out of date" in capsys.readouterr().err
    out = tmp_path / "recipes.md"
    assert docs.main(["-o", str(out)]) == 0 and "described differently" in out.read_text(encoding="utf-8")
