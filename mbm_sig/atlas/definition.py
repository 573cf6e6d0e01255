"""The schema of an atlas definition (``atlases/NAME.yaml``): every key of the atlas, its
sections, sheets, coverages, tables and charts. :func:`check_definition` refuses an unknown
key (a misspelt ``sort``) or a value of the wrong type with the file and the key path
(top-level keys starting with ``x-`` are free: they hold YAML anchors);
``docs/recipes.md`` lists these keys too."""

from __future__ import annotations

from mbm_sig.atlas.errors import AtlasError
from mbm_sig.maps.types._core import check_keys, opt

NONE = type(None)

SKIP_EMPTY = (
    opt("layer", str, None, "layer whose rows are looked for", required=True),
    opt("field", str, None, "its field holding the coverage key; without it, the rows located in the feature "
        "(their representative point inside it)"),
)
WITHIN = (
    opt("layer", str, None, "layer of the features", required=True),
    opt("where", dict, None, "only the features matching {field: value or [values]} (patterns allowed)"),
)
COVERAGE = (
    opt("layer", str, None, "catalogue layer iterated: one page (or section) per feature", required=True),
    opt("where", dict, None, "only the features matching {field: value or [values]}"),
    opt("sort", (str, list), None, "field(s) the features are sorted by (accent-insensitive), or @x / @y "
        "(west to east, south to north)"),
    opt("key", str, None, "key field of the coverage layer (default: the layer definition's)"),
    opt("skip_empty", list, None, "leave out the features with no row in any of these [{layer, field}]"),
    opt("page_name", str, None, "title pattern of each page ({field} of the feature)"),
    opt("file_name", str, None, "file name pattern of each sheet with --sheets"),
    opt("section_title", str, None, "title pattern of each section (section coverage)"),
)
TABLE = (
    opt("layer", str, None, "catalogue layer listed", required=True),
    opt("columns", dict, None, "{field: column title}, in order", required=True),
    opt("where", dict, None, "only the rows matching {field: value or [values]} (patterns allowed)"),
    opt("sort", (str, list), None, "field(s) the rows are sorted by"),
    opt("total", dict, None, "a total line: {label: text of the first column, sum: [columns summed], ratio: "
        "{column: expression of the summed columns} (a share or a density of the whole, e.g. "
        "\"100 * pop_65p / pop_rp2021\")}"),
    opt("within", dict, None, "only the rows located in these features (representative point inside), e.g. "
        "the coverage feature: {layer: epci, where: {siren: \"{siren}\"}} (QGIS: a table filtered to the atlas "
        "feature)", keys=WITHIN),
)
WAITING = (
    opt("missing", str, None, "the data the sheet lacks, in a reader's words"),
    opt("holder", str, None, "who holds them"),
)
SHEET = (
    opt("recipe", str, None, "map recipe (path relative to the atlas file)"),
    opt("table", dict, None, "a table of a layer's rows", keys=TABLE),
    opt("chart", dict, None, "a chart or special page: {name, …its parameters} (see mbm_sig.atlas.charts)"),
    opt("title", str, None, "title (default: the recipe's)"),
    opt("coverage", dict, None, "one page per feature of a layer", keys=COVERAGE),
    opt("requires", list, [], "layers or layer.field that must hold data, else the sheet waits on the "
        "«Cartes en attente de données» page"),
    opt("params", dict, {}, "template parameters of the recipe"),
    opt("file_name", str, None, "file name of the sheet with --sheets"),
    opt("waiting", dict, None, "while the sheet waits for data: what the «Cartes en attente de données» page "
        "says of it, {missing: the data it lacks, holder: who holds them} (default: the required layer's)",
        keys=WAITING),
)
SECTION = (
    opt("title", str, None, "section title (a pattern with a section coverage)", required=True),
    opt("sheets", list, [], "the section's sheets"),
    opt("coverage", dict, None, "one section per feature of a layer", keys=COVERAGE),
    opt("in_book", bool, True, "false: the section is left out of the atlas's book and made only for the books "
        "of one territory (`--split-by`, `mbm-sig pack`): e.g. a section per EPCI beside the arrondissement "
        "sections"),
)
ATLAS = (
    opt("name", str, None, "atlas name (default: the file name)"),
    opt("title", str, None, "atlas title (cover)", required=True),
    opt("subtitle", str, "", "subtitle (cover)"),
    opt("edition", (str, int), "", "edition (cover)"),
    opt("producer", str, "Mission Bassin Minier", "producer (cover, credits)"),
    opt("output", str, None, "PDF file name (default atlas-NAME.pdf)"),
    opt("cover_notes", list, [], "paragraphs of the cover"),
    opt("method_notes", list, [], "paragraphs of the method page"),
    opt("sections", list, None, "the sections, in order", required=True),
    opt("series", dict, {}, "comparable series: classes or symbol scale fixed once for the atlas "
        "({field: {method|breaks, over: {layer, where}, palette, fields, val_max}}, see mbm_sig.atlas.series)"),
)


def check_definition(doc, path) -> None:
    """Check an atlas definition's keys and values; :class:`AtlasError` names the file and
    the key path of the first problem."""

    def fail(key, message):
        return AtlasError(f"{path}: {key}: {message}" if key else f"{path}: {message}")

    if not isinstance(doc, dict):
        raise fail("", "expected a mapping at the top level")
    # top-level keys starting with x- hold YAML anchors (&name) the sections reuse
    check_keys({k: v for k, v in doc.items() if not str(k).startswith("x-")}, ATLAS, "", fail)
    for i, sec in enumerate(doc["sections"]):
        where = f"sections[{i}]"
        if not isinstance(sec, dict):
            raise fail(where, "expected a mapping")
        check_keys(sec, SECTION, where, fail)
        for j, sh in enumerate(sec.get("sheets") or []):
            if not isinstance(sh, dict):
                raise fail(f"{where}.sheets[{j}]", "expected a mapping")
            check_keys(sh, SHEET, f"{where}.sheets[{j}]", fail)
            _check_skip_empty(sh.get("coverage"), f"{where}.sheets[{j}].coverage", fail)
        _check_skip_empty(sec.get("coverage"), f"{where}.coverage", fail)


def _check_skip_empty(cov, key, fail) -> None:
    for k, item in enumerate((cov or {}).get("skip_empty") or []):
        if not isinstance(item, dict):
            raise fail(f"{key}.skip_empty[{k}]", "expected a mapping {layer, field}")
        check_keys(item, SKIP_EMPTY, f"{key}.skip_empty[{k}]", fail)
