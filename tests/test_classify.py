"""Classification methods against their published definitions.

Two fixed vectors:

- ``MTQ``: the median income (``MED``) of the 34 communes of Martinique, the ``mtq``
  dataset shipped with mapsf (Insee 2015); the expected bounds are those of mapsf's own test
  file ``inst/tinytest/test_breaks.R``.
- ``Z``: 60 values drawn in R (``set.seed(1); round(rlnorm(60, 3, 1), 2)``); the expected
  bounds were printed by ``classInt::classIntervals(Z, 5, style=...)$brks`` (R 4.2.2,
  classInt 0.4-9, Debian bookworm).
"""

from pathlib import Path

import numpy as np
import pytest
import yaml

from mbm_sig.maps.classify import (METHODS, ClassificationError, assign, classify, default_k,
                                   normalise_method, pretty)

MTQ = [13633, 14558, 14456, 18847, 21005, 19704, 19341, 15151, 16927, 15951, 13274, 14786, 18034,
       13487, 13474, 14205, 15158, 15134, 11929, 15274, 16504, 15989, 16417, 17817, 12973, 15420,
       18397, 13701, 21761, 16860, 19638, 14461, 18041, 16375]

Z = [10.74, 24.13, 8.71, 99.02, 27.92, 8.84, 32.7, 42.03, 35.72, 14.8, 91.08, 29.66, 10.79, 2.19,
     61.86, 19.2, 19.76, 51.62, 45.66, 36.38, 50.35, 43.91, 21.64, 2.75, 37.33, 18.99, 17.19, 4.61,
     12.45, 30.51, 78.15, 18.12, 29.6, 19.03, 5.07, 13.26, 13.54, 18.93, 60.34, 43.09, 17.04, 15.59,
     40.32, 35.05, 10.09, 9.9, 28.92, 43.32, 17.95, 48.48, 29.91, 10.89, 28.25, 6.49, 84.19, 145.53,
     13.91, 7.07, 35.51, 17.55]

# mapsf, inst/tinytest/test_breaks.R (nbreaks missing: mapsf's default, 6 for 34 values)
MAPSF = {
    ("geom", 6): [11929, 13186.1043108293, 14575.6850445193, 16111.7028584815, 17809.5896149738,
                  19686.40341991, 21761],
    ("arith", None): [11929, 12397.1904761905, 12865.380952381, 13333.5714285714, 13801.7619047619,
                      14269.9523809524, 21761],
    ("q6", None): [11929, 13168.65, 14468.275, 15685.5, 17750.25, 20159.35, 21761],
    ("Q6", None): [11929, 13168.65, 14457.25, 15685.5, 17979.75, 20159.35, 21761],
    ("em", 8): [11929, 13334.5, 14369.1578947368, 15121.6363636364, 16137.7058823529, 17121.875,
                18377.8666666667, 19813.2857142857, 21761],
    ("fisher", None): [11929, 13953, 15685.5, 17372, 18622, 20354.5, 21761],
    ("ckmeans", None): [11929, 13953, 15685.5, 17372, 18622, 20354.5, 21761],
}

# classInt 0.4-9 on MTQ with n = 6 and on Z with n = 5
CLASSINT_MTQ = {
    "sd": [11280.2431070771, 12494.6088008960, 13708.9744947150, 14923.3401885340, 16137.7058823529,
           17352.0715761719, 18566.4372699909, 19780.8029638098, 20995.1686576288, 22209.5343514478],
    "pretty": [10000, 12000, 14000, 16000, 18000, 20000, 22000],
    "jenks": [11929, 13701, 15420, 16927, 18397, 19704, 21761],
    "fisher": [11929.0, 13953.0, 15685.5, 17372.0, 18622.0, 20354.5, 21761.0],
    "headtails": [11929.0, 16137.7058823529, 21761.0],
    "quantile": [11929.0, 13667.0, 14786.0, 15685.5, 16860.0, 18622.0, 21761.0],
    "equal": [11929.0, 13567.6666666667, 15206.3333333333, 16845.0, 18483.6666666667, 20122.3333333333,
              21761.0],
}
CLASSINT_Z = {
    "sd": [-21.84254516449849, 4.55897741775075, 30.96050000000000, 57.36202258224925, 83.76354516449850,
           110.16506774674774, 136.56659032899699, 162.96811291124624],
    "pretty": [0, 50, 100, 150],
    "jenks": [2.19, 21.64, 37.33, 61.86, 99.02, 145.53],
    "fisher": [2.190, 22.885, 38.825, 70.005, 122.275, 145.530],
    "headtails": [2.19, 30.9605, 56.4381818181818, 88.5957142857143, 145.53],
}


@pytest.mark.parametrize("method,k", list(MAPSF))
def test_mapsf_published_breaks(method, k):
    assert classify(MTQ, method, k) == pytest.approx(MAPSF[method, k], rel=1e-12)


def test_mapsf_msd_plain_and_central():
    assert classify(MTQ, "msd") == pytest.approx(
        [11929, 13744.9576896894, 16137.7058823529, 18530.4540750165, 20923.2022676801, 21761], rel=1e-12)
    assert classify(MTQ, "msd", msd_k=1, central=True) == pytest.approx(
        [11929, 12548.5835933576, 14941.3317860212, 17334.0799786847, 19726.8281713483, 21761], rel=1e-12)
    # half a standard deviation: inner bounds every 0.5 s.d. (population) from the mean
    half = classify(MTQ, "msd", msd_k=0.5)
    steps = (half[1:-1] - np.mean(MTQ)) / (0.5 * np.std(MTQ))
    assert steps == pytest.approx(np.arange(-3, 5))


@pytest.mark.parametrize("method", list(CLASSINT_MTQ))
def test_classint_styles_on_mtq(method):
    assert classify(MTQ, method, 6) == pytest.approx(CLASSINT_MTQ[method], rel=1e-12)


@pytest.mark.parametrize("method", list(CLASSINT_Z))
def test_classint_styles_on_lognormal_sample(method):
    assert classify(Z, method, 5) == pytest.approx(CLASSINT_Z[method], rel=1e-12)


def test_q6_and_Q6_are_two_methods():
    v = np.arange(1, 201, dtype=float)
    assert classify(v, "Q6") == pytest.approx(np.quantile(v, [0, .05, .25, .5, .75, .95, 1]))
    assert classify(v, "q6") == pytest.approx(np.quantile(v, [0, .05, .275, .5, .725, .95, 1]))
    assert np.bincount(assign(v, classify(v, "Q6"))).tolist() == [10, 40, 50, 50, 40, 10]
    assert np.bincount(assign(v, classify(v, "q6"))).tolist() == [10, 45, 45, 45, 45, 10]
    # k does not change them
    assert classify(v, "q6", 3).tolist() == classify(v, "q6", 9).tolist()


def test_r_pretty():
    # R: pretty(c(1, 10)); pretty(c(0, 1)); pretty(c(1, 100)); pretty(c(-7.49, 7.49));
    # pretty(c(0.0123, 0.0987)); pretty(c(-3.2, 47)); pretty(c(5, 5.0000001)); pretty(c(0, 0))
    assert pretty(1, 10).tolist() == [0, 2, 4, 6, 8, 10]
    assert pretty(0, 1) == pytest.approx([0, .2, .4, .6, .8, 1])
    assert pretty(1, 100).tolist() == [0, 20, 40, 60, 80, 100]
    assert pretty(-7.49, 7.49).tolist() == [-10, -5, 0, 5, 10]
    assert pretty(0.0123, 0.0987) == pytest.approx([0, .02, .04, .06, .08, .1])
    assert pretty(-3.2, 47).tolist() == [-10, 0, 10, 20, 30, 40, 50]
    assert pretty(5, 5.0000001) == pytest.approx([5, 5.00000002, 5.00000004, 5.00000006, 5.00000008,
                                                  5.0000001], rel=1e-15)
    assert pretty(0, 0).tolist() == [-1, 0]


def test_headtails_heavy_tail():
    # classIntervals(c(1,1,1,1,1,1,1,2,5,20), style = "headtails")$brks
    assert classify([1, 1, 1, 1, 1, 1, 1, 2, 5, 20], "headtails").tolist() == [1, 3.4, 12.5, 20]


def test_default_number_of_classes_is_mapsf_s():
    assert default_k(34) == 6 and default_k(330) == 9 and default_k(1) == 1
    assert len(classify(MTQ, "quantile", None)) == 7


def test_equal_arith_geom_shapes():
    v = np.array([1.0, 3, 10, 40, 100])
    assert np.diff(classify(v, "equal", 4)) == pytest.approx([24.75] * 4)
    g = classify(v, "geom", 4)
    assert g[1:] / g[:-1] == pytest.approx([100 ** 0.25] * 4)
    a = classify(v, "arith", 4)            # r = 99 / 10: three steps of r, then the rest
    assert a == pytest.approx([1, 10.9, 20.8, 30.7, 100])


def test_explicit_breaks_extended_to_the_data():
    assert classify(MTQ, "breaks", breaks=[14000, 18000]).tolist() == [11929, 14000, 18000, 21761]


def test_method_names():
    assert set(METHODS) >= {"q6", "Q6", "quantile", "equal", "msd", "arith", "em", "geom", "jenks",
                            "fisher", "ckmeans", "headtails", "pretty", "sd"}
    assert normalise_method("Q6") == "Q6" and normalise_method("q6") == "q6"
    assert normalise_method("Jenks") == "jenks" and normalise_method("EM") == "em"
    assert normalise_method("nested_means") == "em"
    with pytest.raises(ClassificationError) as e:
        classify([1, 2, 3], "kmeans")
    msg = str(e.value)
    assert "unknown classification method 'kmeans'" in msg
    for name in ("q6", "Q6", "msd", "ckmeans", "pretty", "sd", "em", "arith"):
        assert name in msg.split("known methods: ")[1].split(", ")


def test_errors():
    with pytest.raises(ClassificationError, match="strictly positive"):
        classify([0, 1, 2], "geom", 3)
    with pytest.raises(ClassificationError, match="power of 2"):
        classify(MTQ, "em", 6)
    with pytest.raises(ClassificationError, match="no finite value"):
        classify([np.nan, np.inf], "quantile")
    with pytest.raises(ClassificationError, match="msd_k > 0"):
        classify(MTQ, "msd", msd_k=0)


def test_recipes_name_methods_exactly():
    """Every recipe of the atlases names a method by its exact name; the ones whose notes say
    «Q6 (quantiles 5, 25, 50, 75 et 95 %)» use Q6, not mapsf's q6."""
    root = Path(__file__).resolve().parents[1]
    seen = 0
    for path in sorted(root.glob("atlases/**/*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for i, spec in enumerate(doc.get("layers") or []):
            if isinstance(spec, dict) and "method" in spec:
                seen += 1
                name = str(spec["method"])
                assert normalise_method(name) == name, f"{path.name}: layers[{i}].method"
                notes = " ".join(map(str, (doc.get("credits") or {}).get("notes") or []))
                if "Q6" in notes:
                    assert name == "Q6", f"{path.name}: notes say Q6, method is {name}"
    assert seen >= 10


def test_describe_in_french():
    from mbm_sig.maps.classify import describe
    assert describe("Q6", classify(MTQ, "Q6")) == "Méthode Q6 (quantiles 5, 25, 50, 75 et 95 %)."
    assert describe("q6", classify(MTQ, "q6")).startswith("Méthode Q6 à classes centrales égales (quantiles 5, 27,5")
    assert describe("jenks", classify(MTQ, "jenks", 4)) == "4 classes par seuils naturels (Jenks)."
    assert describe("equal", [0, 1, 2]) == "2 classes d'égale amplitude."
    for m in METHODS:
        assert describe(m, [0, 1, 2]).endswith(".")


def test_every_method_has_its_function():
    from mbm_sig.maps.classify import _BOUNDS
    assert list(_BOUNDS) and set(_BOUNDS) == set(METHODS)
