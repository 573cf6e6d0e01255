"""``mbm-sig atlas … --split-by FIELD``: one book per value of a coverage field, each with its own
cover, contents page, bookmarks and page numbers (real catalogue, real atlases)."""

from __future__ import annotations

import re
import subprocess

import pytest
from pypdf import PdfReader


def _outline(reader: PdfReader) -> list[tuple[int, str, int]]:
    """(depth, title, 1-based page) of every bookmark."""
    out = []

    def walk(items, depth):
        for it in items:
            if isinstance(it, list):
                walk(it, depth + 1)
            else:
                out.append((depth, it.title, reader.get_destination_page_number(it) + 1))
    walk(reader.outline, 0)
    return out


def _text(pdf, page: int) -> str:
    return subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), str(pdf), "-"],
                          capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL).stdout


@pytest.fixture(scope="module")
def sante_split(built_gpkg, tmp_path_factory):
    from mbm_sig.atlas import render_atlas
    out = tmp_path_factory.mktemp("split")
    return out, render_atlas("sante", out, catalogue=built_gpkg, split_by="code", progress=False)


def test_one_book_per_arrondissement(sante_split, built_gpkg):
    out, res = sante_split
    arr = built_gpkg.read("arrondissements", where={"bassin_minier": True})
    assert sorted(b.value for b in res.books) == sorted(arr["code"])
    assert sorted(p.name for p in out.glob("*.pdf")) == sorted(f"atlas-sante-{c}.pdf" for c in arr["code"])
    assert not list(out.glob(".*part*"))                                  # written atomically
    names = dict(zip(arr["code"], arr["nom"], strict=True))
    for b in res.books:
        r = PdfReader(b.pdf)
        assert len(r.pages) == b.pages
        section = f"Arrondissement de {names[b.value]}"
        assert b.label == section
        assert r.metadata.title == f"Atlas santé du bassin minier — {section}"
        # its own bookmarks: contents, its section and sheets, sources; no other arrondissement
        marks = _outline(r)
        assert (0, "Sommaire", 2) in marks and marks[-1][1] == "Sources et méthodes"
        assert (0, section, 3) in marks
        others = [f"Arrondissement de {n}" for c, n in names.items() if c != b.value]
        assert not [m for m in marks if any(m[1].startswith(o) for o in others)]
        sheets = [m for m in marks if m[0] == 1]
        assert len(sheets) == 2 and f"{section} : indicateurs communaux" in [m[1] for m in sheets]
        # the contents page lists the same pages as the bookmarks, and the pages carry «n / total»
        toc = _text(b.pdf, 2)
        assert "Sommaire" in toc
        for _depth, title, page in marks:
            if title == "Sommaire":
                continue
            line = next((ln for ln in toc.splitlines() if title[:40] in ln), None)
            assert line is not None, (title, toc)
            assert line.rstrip().endswith(str(page)), (line, page)
        assert re.search(rf"\b3\s*/\s*{b.pages}\b", _text(b.pdf, 3))
        # the table of the book is that arrondissement's communes only
        communes = built_gpkg.read("indicateurs_communes", where={"arrondissement": b.value})
        table = _text(b.pdf, next(m[2] for m in sheets if "indicateurs" in m[1]))
        assert sum(n in table for n in communes["nom"]) >= min(10, len(communes))


def test_split_patrimoine_by_epci_with_fiches(built_gpkg, tmp_path):
    """«siren,epci_siren»: the EPCI's section (coverage epci, field siren) and the identity sheets of
    its cités (coverage cites_minieres, field epci_siren) in one book per EPCI."""
    from mbm_sig.atlas import render_atlas
    res = render_atlas("patrimoine", tmp_path, catalogue=built_gpkg, split_by="siren,epci_siren", progress=False,
                       only=None)
    epci = built_gpkg.read("epci", where={"bassin_minier": True}).set_index("siren")["nom"]
    fiches = built_gpkg.read("cites_minieres", where={"inscrit_mh": True})
    assert {b.value for b in res.books} <= set(epci.index)
    for b in res.books:
        assert b.label == epci[b.value]
        marks = [m[1] for m in _outline(PdfReader(b.pdf))]
        assert f"{epci[b.value]} : carte du patrimoine minier" in marks
        own = fiches[fiches["epci_siren"] == b.value]
        assert sum(t.startswith("Carte d'identité") for t in marks) == len(own)
        for other in set(epci.index) - {b.value}:
            assert f"{epci[other]} : carte du patrimoine minier" not in marks


def test_split_by_unknown_field_is_refused(built_gpkg, tmp_path, capsys):
    import os

    from mbm_sig.atlas import cli_atlas
    os.environ["MBM_SIG_DB"] = str(built_gpkg.url)
    try:
        assert cli_atlas(["sante", "-o", str(tmp_path), "--split-by", "epci_siren", "-q"]) == 2
    finally:
        del os.environ["MBM_SIG_DB"]
    err = capsys.readouterr().err
    assert re.search(r"--split-by epci_siren: no coverage page has this field \(coverage fields: .*code", err)
    assert not list(tmp_path.glob("*.pdf"))


def test_split_sante_by_epci(built_gpkg, tmp_path):
    """`--split-by siren`: the EPCI sections (``in_book: false``) give one book per EPCI of the
    basin, each with its map and the table of its communes, no arrondissement page."""
    from mbm_sig.atlas import render_atlas
    res = render_atlas("sante", tmp_path, catalogue=built_gpkg, split_by="siren", progress=False)
    epci = built_gpkg.read("epci", where={"bassin_minier": True}).set_index("siren")["nom"]
    assert sorted(b.value for b in res.books) == sorted(epci.index)
    for b in res.books:
        marks = _outline(PdfReader(b.pdf))
        assert b.label == epci[b.value]
        assert [m[1] for m in marks][1:-1] == [b.label, f"{b.label} : part des 65 ans et plus",
                                               f"{b.label} : indicateurs communaux"]
        assert not [m for m in marks if "Arrondissement" in m[1]]


def test_sections_out_of_the_book_leave_it_unchanged(built_gpkg, tmp_path, monkeypatch):
    """The santé book with its EPCI sections (``in_book: false``) is, byte for byte, the book of the
    same definition without them (fixed SOURCE_DATE_EPOCH)."""
    import yaml

    from mbm_sig.atlas import render_atlas
    from mbm_sig.config import ATLASES_DIR
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1764547200")
    doc = yaml.safe_load((ATLASES_DIR / "sante.yaml").read_text(encoding="utf-8"))
    out_of_book = [s for s in doc["sections"] if s.get("in_book") is False]
    assert out_of_book and out_of_book[0]["coverage"]["layer"] == "epci"
    doc["sections"] = [s for s in doc["sections"] if s.get("in_book", True)]
    for sec in doc["sections"]:
        for sh in sec["sheets"]:
            if "recipe" in sh:
                sh["recipe"] = str(ATLASES_DIR / sh["recipe"])
    bare = tmp_path / "def" / "sante.yaml"
    bare.parent.mkdir()
    bare.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    a = render_atlas("sante", tmp_path / "a", catalogue=built_gpkg, progress=False)
    b = render_atlas(bare, tmp_path / "b", catalogue=built_gpkg, progress=False)
    assert a.pages == b.pages and a.pdf.read_bytes() == b.pdf.read_bytes()
