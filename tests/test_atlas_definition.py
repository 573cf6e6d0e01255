"""Atlas definitions (atlases/*.yaml) are checked key by key: an unknown key, at any depth,
is an error naming the file and the key path, and the CLI maps it to exit status 2."""

from __future__ import annotations

import pytest
import yaml

from mbm_sig.atlas import cli_atlas, load_atlas
from mbm_sig.atlas.errors import AtlasError
from mbm_sig.errors import InvalidInput

BASE = {"title": "Atlas", "sections": [{"title": "S", "sheets": [
    {"recipe": "maps/densite_bassin.yaml",
     "coverage": {"layer": "epci", "sort": "nom", "skip_empty": [{"layer": "cites_minieres", "field": "epci_siren"}]}},
    {"title": "T", "table": {"layer": "communes", "columns": {"nom": "Commune"}, "sort": "nom"}}]}]}


def write(tmp_path, doc):
    (tmp_path / "maps").mkdir(exist_ok=True)
    (tmp_path / "maps" / "densite_bassin.yaml").write_text("title: x\nlayers: [{layer: communes}]\n")
    p = tmp_path / "a.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return p


def test_the_project_atlases_load():
    for name in ("sante", "patrimoine", "renouvellement"):
        assert load_atlas(name).sections


@pytest.mark.parametrize("path, value, key", [
    (("sections", 0, "sheets", 0, "coverage", "sorte"), "nom", "sections[0].sheets[0].coverage.sorte"),
    (("sections", 0, "sheets", 1, "table", "sortt"), "nom", "sections[0].sheets[1].table.sortt"),
    (("sections", 0, "sheets", 0, "requirs"), ["x"], "sections[0].sheets[0].requirs"),
    (("sections", 0, "titel"), "S", "sections[0].titel"),
    (("subtitel",), "x", "subtitel"),
    (("sections", 0, "sheets", 0, "coverage", "skip_empty", 0, "fields"), "x",
     "sections[0].sheets[0].coverage.skip_empty[0].fields"),
])
def test_unknown_atlas_keys_are_refused(tmp_path, path, value, key):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    target = doc
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    p = write(tmp_path, doc)
    with pytest.raises(AtlasError, match="unknown key") as err:
        load_atlas(p)
    assert str(err.value).startswith(f"{p}: {key}: ")
    assert isinstance(err.value, InvalidInput)


def test_wrong_value_type_and_missing_key(tmp_path):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["sections"][0]["sheets"][0]["coverage"]["sort"] = 3
    with pytest.raises(AtlasError, match=r"sections\[0\]\.sheets\[0\]\.coverage\.sort: expected text or list"):
        load_atlas(write(tmp_path, doc))
    del doc["title"]
    with pytest.raises(AtlasError, match=r"title: missing key"):
        load_atlas(write(tmp_path, doc))


def test_cli_exit_status_2_on_a_bad_definition(tmp_path, capsys):
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["sections"][0]["sheets"][0]["coverage"]["sorte"] = "nom"
    assert cli_atlas([str(write(tmp_path, doc)), "-q", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "coverage.sorte: unknown key" in err[0]
    assert not (tmp_path / "out").exists()


def test_a_file_that_is_not_yaml_text_is_refused_naming_it(tmp_path, capsys):
    """A book given where an atlas definition is expected (`mbm-sig check BOOK.pdf`), a file
    that is not UTF-8 or not YAML: one clear error naming the file, exit status 2."""
    book = tmp_path / "atlas-sante.pdf"
    book.write_bytes(b"%PDF-1.4\n%\xac\xdc\xab\xba\n")
    with pytest.raises(AtlasError, match=r"atlas-sante\.pdf: not an atlas definition: not UTF-8 text.*--pdf"):
        load_atlas(book)
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(AtlasError, match=r"bad\.yaml: invalid YAML"):
        load_atlas(bad)
    assert cli_atlas([str(book), "-q", "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "atlas-sante.pdf: not an atlas definition" in err[0]
