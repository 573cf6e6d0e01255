"""Chart pages of atlases, drawn with the typography of the map sheets.

A chart is a function ``(catalogue, atlas, title, spec) -> Figure`` registered in
``CHARTS`` under the name an atlas definition gives (``chart: {name: …}``); ``spec`` holds
the chart's options from the atlas definition (and the coverage parameters).
"""

from __future__ import annotations

from typing import Callable

CHARTS: dict[str, Callable] = {}


def chart(name: str):
    def deco(fn):
        CHARTS[name] = fn
        return fn
    return deco
