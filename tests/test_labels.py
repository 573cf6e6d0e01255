"""The label engine (maps/labels.py) on small synthetic sheets: one placement across
layers, priorities, collisions, frame, minimum size, the town rule."""

import numpy as np
import pytest

from mbm_sig.maps import labels as lb

FRAME = (10.0, 20.0, 100.0, 80.0)        # x, y, w, h (mm)


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def test_towns_win_over_thematic_labels_whatever_the_layer_order():
    cite = lb.LabelLayer(["Cité Saint-Pierre"], [(50, 50)], size=6.0, name="cites")
    town = lb.town_layer(["Lens"], [(50, 50)], [31000])
    for order in ([cite, town], [town, cite]):
        res = lb.place_all(order, FRAME)
        assert [lab.text for lab in res.labels] == ["Lens"]
        assert [u["text"] for u in res.unplaced] == ["Cité Saint-Pierre"]


def test_towns_by_population_then_seats_first():
    town = lb.town_layer(["Petite", "Grande", "Sous-préfecture"], [(50, 50)] * 3, [12000, 40000, 11000],
                         seat=[False, False, True])
    res = lb.place_all([town], FRAME)
    kept = [lab.text for lab in res.labels]
    assert kept[0] == "Sous-préfecture" and kept[1] == "Grande"      # seat, then by population
    # the three are required (≥ 10 000): those that do not fit at the centre move around it
    assert not any(_overlap(a.bbox, b.bbox) for i, a in enumerate(res.labels) for b in res.labels[i + 1:])


def test_a_required_town_moves_rather_than_disappears():
    blocker = lb.town_layer(["Valenciennes"], [(50, 50)], [43000])
    other = lb.town_layer(["Anzin"], [(50, 51)], [13000])
    res = lb.place_all([blocker, other], FRAME)
    texts = {lab.text: lab for lab in res.labels}
    assert set(texts) == {"Valenciennes", "Anzin"}
    assert not _overlap(texts["Valenciennes"].bbox, texts["Anzin"].bbox)
    assert (texts["Anzin"].x, texts["Anzin"].y) != (50, 51)


def test_an_optional_label_is_dropped_and_listed():
    a = lb.LabelLayer(["Premier"], [(50, 50)], size=7.0, priority=np.array([2.0]))
    b = lb.LabelLayer(["Second"], [(50, 50)], size=7.0, priority=np.array([1.0]))
    res = lb.place_all([b, a], FRAME)
    assert [lab.text for lab in res.labels] == ["Premier"]
    assert res.unplaced == [dict(text="Second", layer="", required=False,
                                 reason="no room inside the frame clear of other labels and furniture")]


def test_a_required_town_that_cannot_fit_is_listed_not_dropped_in_silence():
    tiny = (0.0, 0.0, 8.0, 5.0)
    res = lb.place_all([lb.town_layer(["Hénin-Beaumont"], [(4, 2.5)], [26000])], tiny)
    assert res.labels == []
    assert res.unplaced[0]["text"] == "Hénin-Beaumont" and res.unplaced[0]["required"]


def test_nothing_crosses_the_frame_and_nothing_is_below_6_pt():
    rng = np.random.default_rng(3)
    xy = np.c_[rng.uniform(10, 110, 200), rng.uniform(20, 100, 200)]
    thematic = lb.LabelLayer([f"T{i:03d}" for i in range(200)], xy, size=4.6, around=True, offset=1.0)
    towns = lb.town_layer([f"Commune {i}" for i in range(40)], xy[:40], rng.uniform(0, 60000, 40))
    res = lb.place_all([thematic, towns], FRAME, obstacles=[(12, 90, 30, 8)])
    assert res.labels
    x0, y0, w, h = FRAME
    for lab in res.labels:
        b = lab.bbox
        assert x0 <= b[0] and b[2] <= x0 + w and y0 <= b[1] and b[3] <= y0 + h, lab
        assert lab.size >= lb.MIN_SIZE
        assert not _overlap(b, (12, 90, 42, 98)), lab               # the furniture box
    boxes = [lab.bbox for lab in res.labels]
    assert not any(_overlap(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    # every label is either placed or listed
    n_in = sum(1 for t, (x, y) in zip(thematic.texts + towns.texts, np.r_[xy, xy[:40]])
               if t and x0 <= x <= x0 + w and y0 <= y <= y0 + h)
    assert len(res.labels) + len(res.unplaced) == n_in


def test_labels_keep_off_other_layers_symbols():
    puits = lb.LabelLayer(["", ""], [(60, 50), (40, 50)], around=True, offset=1.5, symbols=True)
    cite = lb.LabelLayer(["Cité 12"], [(50, 50)], size=6.0)
    res = lb.place_all([puits, cite], FRAME)
    lab = res.labels[0]
    sym = (58.5, 48.5, 61.5, 51.5)
    if _overlap(lab.bbox, sym) or _overlap(lab.bbox, (38.5, 48.5, 41.5, 51.5)):
        pytest.fail(f"label over a symbol: {lab.bbox}")


def test_point_labels_sit_beside_their_symbol():
    res = lb.place_all([lb.LabelLayer(["T042"], [(50, 50)], around=True, offset=2.0, size=6.0)], FRAME)
    b = res.labels[0].bbox
    assert b[0] >= 52.0          # right of the 2 mm radius symbol


def test_town_rule_wide_and_local():
    rule = lb.TownRule()
    pop = np.array([9000, 12000, 25000, 4000])
    seat = np.array([False, False, False, True])
    assert rule.required(pop, seat, frame_width_km=30).tolist() == [False, True, True, True]
    assert rule.required(pop, seat, frame_width_km=120).tolist() == [False, False, True, True]
    assert lb.town_style(120000) == (9.0, "bold") and lb.town_style(500) == (6.5, "normal")


def test_single_layer_place_keeps_its_contract():
    kept_boxes = []
    a = lb.place(["A", "B"], np.array([[50, 50], [50, 50]]), 7, FRAME, kept_boxes=kept_boxes)
    assert [lab.text for lab in a] == ["A"] and len(kept_boxes) == 1
    b = lb.place(["C"], np.array([[50, 50]]), 7, FRAME, kept_boxes=kept_boxes)
    assert b == []


def test_toponyms_from_the_catalogue(built_gpkg):
    """Basin-wide frame: the seats and the communes of 20 000 inhabitants are required and
    placed; an arrondissement frame requires every commune of 10 000."""
    t = lb.towns(built_gpkg)
    lens = t[t["nom"] == "Lens"].iloc[0]
    assert lens["seat"] and lens["population"] > 30000
    basin = (640000.0, 6995000.0, 760000.0, 7075000.0)                # 120 km wide
    frame = (10.0, 20.0, 260.0, 173.0)
    layer = lb.town_layer_for(t, basin, frame)
    req = {n for n, r in zip(layer.texts, layer.required) if r}
    assert {"Lens", "Douai", "Valenciennes", "Béthune", "Liévin", "Hénin-Beaumont"} <= req
    assert "Avion" not in req                                          # 17 000: optional on basin maps
    res = lb.place_all([layer], frame)
    placed = {lab.text for lab in res.labels}
    assert req <= placed | {u["text"] for u in res.unplaced}
    assert {"Lens", "Douai", "Valenciennes", "Béthune"} <= placed
    local = lb.town_layer_for(t, (675000.0, 7025000.0, 700000.0, 7045000.0), frame)   # 25 km
    req_local = {n for n, r in zip(local.texts, local.required) if r}
    assert {"Lens", "Liévin", "Avion"} <= req_local
    focus = lb.town_layer_for(t, (675000.0, 7025000.0, 700000.0, 7045000.0), frame, keep={"62498"})
    assert [n for n in focus.texts if n] == ["Lens"]


def test_towns_in_an_extent_are_the_rows_a_mask_keeps(built_gpkg):
    """The towns of an extent (taken from arrays made once per table) are the rows a pandas
    mask over the table keeps, in order, with a focus too; a new table is read anew."""
    t = lb.towns(built_gpkg)
    ext = (675000.0, 7025000.0, 700000.0, 7045000.0)
    m = (t["x"] >= ext[0]) & (t["x"] <= ext[2]) & (t["y"] >= ext[1]) & (t["y"] <= ext[3])
    assert lb.towns_in(t, ext).equals(t[m]) and len(t[m]) > 5
    keep = set(t[m]["insee"].iloc[:3])
    assert lb.towns_in(t, ext, keep).equals(t[m & t["insee"].isin(keep)])
    fewer = t[t["population"] > 20000].reset_index(drop=True)
    got = lb.towns_in(fewer, ext)
    assert (got["population"] > 20000).all() and 0 < len(got) < len(t[m])


def test_draw_puts_text_over_a_halo_and_reports_what_was_placed(tmp_path):
    """One label artist: in the PDF each name is real text once (the halo, stroked text, is an
    artifact text extraction skips), and the records say what was placed and what not."""
    import subprocess
    from matplotlib.figure import Figure
    from mbm_sig.maps.layout import Page
    try:
        from mbm_sig.maps.output import print_settings
    except ImportError:                 # before the maps/output room
        from mbm_sig.maps.render import print_settings
    fig = Figure(figsize=(297 / 25.4, 210 / 25.4))
    page = Page(fig, 297, 210)
    towns = lb.town_layer(["Lens", "Loison-sous-Lens"], [(50, 50), (50, 50.5)], [31000, 5000])
    res = lb.place_all([towns], (42.0, 45.0, 16.0, 10.0))        # no room for the second name
    records, unplaced = lb.draw(page, res, [towns])
    (art,) = [a for a in fig.artists if isinstance(a, lb.LabelArtist)]
    assert [(i[2], i[3], i[4], i[6]) for i in art.items] == [("Lens", 7.5, "bold", True)]
    assert records[0]["text"] == "Lens" and records[0]["layer"] == "toponymes"
    assert [u["text"] for u in unplaced] == ["Loison-sous-Lens"]
    try:
        from mbm_sig.maps.output import save_figure         # the toolkit's own save
        save_figure(fig, tmp_path / "l.pdf")
    except ImportError:
        with print_settings():
            fig.savefig(tmp_path / "l.pdf", format="pdf")
    text = subprocess.run(["pdftotext", str(tmp_path / "l.pdf"), "-"], capture_output=True, text=True).stdout
    assert text.split() == ["Lens"]
    import zlib, re
    raw = (tmp_path / "l.pdf").read_bytes()
    streams = [zlib.decompress(m) for m in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", raw, re.S)
               if m[:1] == b"x"]
    assert any(b"2 Tr" in st and b"/Artifact BMC" in st for st in streams)


def test_the_ink_of_a_label_slid_against_the_frame_stays_inside_it(tmp_path):
    """«Lille» (bold, no descender) anchored on the top edge of the frame: drawn, its ink and
    halo stay inside the frame (the box is measured on the glyphs' ink and the baseline
    set from it), also for a name with a descender on the bottom edge."""
    import subprocess

    from matplotlib.figure import Figure
    from PIL import Image

    from mbm_sig.maps.layout import Page
    from mbm_sig.maps.output import save_figure
    W, H = 80.0, 40.0
    frame = (10.0, 10.0, 60.0, 20.0)
    fig = Figure(figsize=(W / 25.4, H / 25.4))
    page = Page(fig, W, H)
    towns = lb.town_layer(["Lille", "Douchy-les-Mines"], [(25.0, 10.0), (50.0, 30.0)], [236000, 10000])
    res = lb.place_all([towns], frame)
    assert {lab.text for lab in res.labels} == {"Lille", "Douchy-les-Mines"}
    lb.draw(page, res, [towns])
    save_figure(fig, tmp_path / "l.pdf")
    dpi = 1200
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-gray", str(tmp_path / "l.pdf"), str(tmp_path / "p")],
                   check=True)
    (png,) = tmp_path.glob("p*.png")
    img = np.asarray(Image.open(png).convert("L"))
    px = dpi / 25.4
    dark = np.argwhere(img < 128)                  # the text's ink (the halo is white)
    rows = dark[:, 0] / px
    halo = lb.HALO_PT / 2 * 25.4 / 72
    assert rows.min() >= frame[1] + halo - 0.02, rows.min()
    assert rows.max() <= frame[1] + frame[3] - halo + 0.02, rows.max()


def _ink_gap(lab, x, y):
    """Distance (mm) from (x, y) to the label's ink as the engine measures it."""
    ink = lb.ink_extent(lab.text, lab.size, lab.weight)
    return float(lb.ink_distance(lab.x, lab.y, ink, x, y))


def test_a_town_stays_next_to_its_place_when_symbols_take_its_anchor():
    """Puits all over Bruay's anchor and around it: the name goes to the nearest clear
    position within TOWN_MAX_MM, never to the frame's edge; when nothing near is clear it
    overlays the markers with its halo, still at its place and at its size."""
    town = lb.town_layer(["Bruay-la-Buissière"], [(50, 50)], [21000])
    ring = [(50 + dx, 50 + dy) for dx in np.arange(-14, 15, 2.0) for dy in (-1.0, 0.0, 1.0)]
    puits = lb.LabelLayer([""] * len(ring), ring, offset=0.8, symbols=True, name="puits")
    res = lb.place_all([town, puits], FRAME)
    (lab,) = res.labels
    assert _ink_gap(lab, 50, 50) <= lb.TOWN_MAX_MM and not lab.over_symbols
    assert lab.size == 7.5                                     # not shrunk: room above or below
    dense = [(50 + dx, 50 + dy) for dx in np.arange(-20, 21, 1.5) for dy in np.arange(-8, 8.1, 1.5)]
    crowd = lb.LabelLayer([""] * len(dense), dense, offset=0.6, symbols=True, name="puits")
    res = lb.place_all([town, crowd], FRAME)
    (lab,) = res.labels
    assert lab.over_symbols and _ink_gap(lab, 50, 50) <= lb.TOWN_MAX_MM      # before issue 11: 4 lines away


def test_a_town_prefers_a_place_off_a_big_circle_and_may_overlay_one():
    """A proportional circle over Douai's anchor: the name sits beside it if that is
    within reach, else over the circle (halo) rather than elsewhere or smaller."""
    town = lb.town_layer(["Douai"], [(50, 50)], [40000])
    small = lb.LabelLayer([""], [(50, 50)], offset=2.0, symbols=True, soft=True, name="circles")
    (lab,) = lb.place_all([town, small], FRAME).labels
    assert not lab.over_symbols and _ink_gap(lab, 50, 50) <= lb.TOWN_MAX_MM
    box = lab.bbox
    assert box[0] >= 52 or box[2] <= 48 or box[1] >= 52 or box[3] <= 48        # clear of the circle
    big = lb.LabelLayer([""], [(50, 50)], offset=9.0, symbols=True, soft=True, name="circles")
    (lab,) = lb.place_all([town, big], FRAME).labels
    assert lab.over_symbols and lab.size == 7.5 and _ink_gap(lab, 50, 50) <= lb.TOWN_MAX_MM
    # a marker (a puits) is no circle to overlay: the soft pass keeps off markers
    marker = lb.LabelLayer([""], [(50, 50)], offset=9.0, symbols=True, name="puits")
    both = lb.place_all([town, big, marker], FRAME).labels[0]
    assert both.over_symbols and _ink_gap(both, 50, 50) <= lb.TOWN_MAX_MM


def test_towns_keep_their_frame_positions_from_sheet_to_sheet():
    """Two sheets of one frame: the towns no symbol of the second sheet touches stay where
    they are on the first; the one its circle covers moves, next to its place."""
    lb._FRAME_TOWNS.clear()
    names, xy, pop = ["Lens", "Liévin", "Avion"], [(40, 50), (30, 53), (36, 58)], [32000, 30000, 17000]

    def sheet(symbols):
        towns = lb.town_layer(names, xy, pop)
        extra = [lb.LabelLayer([""] * len(symbols), symbols, offset=1.2, symbols=True)] if symbols else []
        return {lab.text: lab for lab in lb.place_sheet([towns] + extra, FRAME).labels}

    a, b = sheet([]), sheet([(40, 50)])
    assert (a["Liévin"].x, a["Liévin"].y) == (b["Liévin"].x, b["Liévin"].y)
    assert (a["Avion"].x, a["Avion"].y) == (b["Avion"].x, b["Avion"].y)
    assert (a["Lens"].x, a["Lens"].y) != (b["Lens"].x, b["Lens"].y)
    assert _ink_gap(b["Lens"], 40, 50) <= lb.TOWN_MAX_MM
    assert len(lb._FRAME_TOWNS) == 1                         # solved once for the frame


def test_towns_outside_the_subject_are_context():
    """Lille on a map of the basin: regular, grey, smaller, not required, after the
    basin's towns; Lens (inside) keeps its bold."""
    layer = lb.town_layer(["Lens", "Lille", "Arras", "Loos"], [(40, 50), (60, 30), (50, 80), (58, 32)],
                          [32000, 236000, 41000, 22000], seat=[True, True, True, False], frame_width_km=120,
                          inside=[True, False, False, False])
    assert layer.weight == ["bold", "normal", "normal", "normal"]
    assert list(layer.required) == [True, False, False, False]
    assert layer.colors[0] == "#1a1a1a" and layer.colors[1] == lb.CONTEXT_COLOR
    assert list(layer.size) == [7.5, 8.0, 6.5, 6.5]
    assert layer.texts == ["Lens", "Lille", "Arras", "Loos"]
    res = lb.place_all([layer], FRAME)
    assert [lab.text for lab in res.labels][0] == "Lens"
    placed, _ = lb.draw(__import__("mbm_sig.maps.layout", fromlist=["Page"]).Page(
        __import__("matplotlib.figure", fromlist=["Figure"]).Figure(), 297, 210), res, [layer])
    assert {p["text"]: p["weight"] for p in placed}["Lille"] == "normal"


def test_a_point_label_never_sits_nearer_another_symbol():
    """Crowded terrils: a number goes where its own symbol is the nearest to it, or is
    dropped and listed (never left beside another terril)."""
    xy = [(50, 50), (54.5, 50), (45.5, 50), (50, 46.5), (50, 53.5)]
    terrils = lb.LabelLayer(["T001", "", "", "", ""], xy, size=6, around=True, offset=1.0, symbols=True)
    res = lb.place_all([terrils], FRAME)
    for lab in res.labels:
        ink = lb.ink_extent(lab.text, lab.size)
        box = (lab.x - ink[0], lab.y + ink[1], lab.x + ink[0], lab.y + ink[2])
        d = [max(np.hypot(max(box[0] - x, 0, x - box[2]), max(box[1] - y, 0, y - box[3])) - 1.0, 0) for x, y in xy]
        assert d[0] <= min(d[1:]), (lab, d)
    assert len(res.labels) + len(res.unplaced) == 1
    boxed = [(50, 50), (53.2, 50), (46.8, 50), (50, 48.2), (50, 51.8), (53.2, 47), (46.8, 47), (53.2, 53), (46.8, 53)]
    terrils = lb.LabelLayer(["T001"] + [""] * 8, boxed, size=6, around=True, offset=1.0, symbols=True)
    res = lb.place_all([terrils], FRAME)
    assert res.labels == [] and res.unplaced == [dict(text="T001", layer="", required=False, reason=(
        "no room beside its symbol that is not nearer another symbol"))]


def test_a_sheet_of_towns_alone_places_them_once_as_the_frame_would():
    """Towns with nothing else to keep off (no other label, no symbol: a per-commune atlas page)
    get the placement the frame's towns-alone pass gives, without that second pass; with a
    symbol on the sheet the frame's pass is made (and kept per frame) as before."""
    rng = np.random.default_rng(3)
    xy = rng.uniform([12, 12], [190, 140], size=(40, 2))
    pop = rng.uniform(100, 50_000, 40)
    names = [f"Commune numéro {i}" for i in range(40)]
    frame = (10, 10, 185, 135)
    lb._FRAME_TOWNS.clear()
    towns = lb.town_layer(names, xy, pop, frame_width_km=20)
    got = lb.place_sheet([towns], frame)
    assert not lb._FRAME_TOWNS and towns.preferred is None         # one placement, no frame pass
    assert len(got.labels) > 10
    alone = lb.town_layer(names, xy, pop, frame_width_km=20)
    alone.preferred = lb.frame_positions(alone, frame)
    want = lb.place_all([alone], frame, town_gap=lb.TOWN_GAP)
    assert [(x.text, x.x, x.y, x.size) for x in got.labels] == [(x.text, x.x, x.y, x.size) for x in want.labels]
    # a symbol on the sheet: the frame's pass again
    lb._FRAME_TOWNS.clear()
    sym = lb.LabelLayer([""], np.array([[100.0, 70.0]]), offset=2.0, symbols=True, name="symboles")
    towns2 = lb.town_layer(names, xy, pop, frame_width_km=20)
    lb.place_sheet([towns2, sym], frame)
    assert lb._FRAME_TOWNS and towns2.preferred is not None
