"""The print font's fast measures give what measuring glyph by glyph gives: a string's
metrics from its characters' table rows, and word wrap from the sum of the words' advances
instead of measuring every candidate line again (same lines, so the same sheets)."""
from __future__ import annotations

import random

from mbm_sig.maps import layout
from mbm_sig.maps.output import fonts


def _by_glyph(path, s, size):
    """text_metrics as its definition says: each character's advance, the ink's lowest and
    highest points over the characters that have ink."""
    upm, table = fonts._metrics_table(path)
    adv, lo, hi = 0, None, None
    for ch in s:
        if ch not in table:
            return None
        a, y0, y1 = table[ch]
        adv += a
        if y1 is not None:
            lo = y0 if lo is None else min(lo, y0)
            hi = y1 if hi is None else max(hi, y1)
    k = size / upm
    return (adv * k, 0.0, 0.0) if hi is None else (adv * k, (hi - lo) * k, -lo * k)


def _greedy(text, width_mm, size, weight):
    """wrap as it was written first: every candidate line measured whole."""
    out = []
    for para in str(text).split("\n"):
        line = ""
        for word in para.split(" "):
            cand = word if not line else line + " " + word
            if line and layout.measure(cand, size, weight)[0] > width_mm:
                out.append(line)
                line = word
            else:
                line = cand
        out.append(line)
    return out


def test_text_metrics_is_the_glyph_by_glyph_measure():
    fonts.ensure()
    rng = random.Random(11)
    for weight in ("normal", "bold"):
        path = layout._font_file(fonts.FAMILY, weight)
        assert fonts.is_print_font(path)
        chars = list(fonts._metrics_table(path)[1])
        for s in ["", " ", "   ", "Lens", "« Liévin »", "漢", "a漢"]:
            assert fonts.text_metrics(path, s, 7.5) == _by_glyph(path, s, 7.5), s
        for _ in range(3000):
            s = "".join(rng.choice(chars) for _ in range(rng.randint(0, 50)))
            size = rng.choice([5.2, 6.5, 7.5, 9, 12.5, 17])
            assert fonts.text_metrics(path, s, size) == _by_glyph(path, s, size), (s, size)


def test_wrap_gives_the_lines_of_measuring_every_candidate():
    fonts.ensure()
    rng = random.Random(5)
    words = ("Sources : INSEE, recensement 2021 ; Mission Bassin Minier ; ARS Hauts-de-France, "
             "FINESS 2024. Réalisation : décembre 2026 « Données fictives » l’agglomération "
             "Lens–Liévin 12 345 hab. — Hénin-Beaumont œuvre").split() + ["", "\n"]
    for _ in range(3000):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 45)))
        width, size = rng.choice([15, 35.5, 60, 90, 120.25, 180]), rng.choice([5.5, 6, 7, 8.5, 12])
        weight = rng.choice(["normal", "bold"])
        assert layout.wrap(text, width, size, weight) == _greedy(text, width, size, weight), (text, width, size)
    # a character the print font lacks: measured by matplotlib, as before
    assert layout.wrap("漢字 et la suite du texte", 12, 7) == _greedy("漢字 et la suite du texte", 12, 7, "normal")
