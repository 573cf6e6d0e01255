"""Option helpers of the map types that read one or two fields (``var``, ``var2``)."""

from __future__ import annotations

from mbm_sig.maps.types._core import Option, opt


def field_option(name: str, doc: str, required: bool = True) -> Option:
    """The option ``name`` naming a field of the layer (recipes check the field exists)."""
    return opt(name, str if required else (str, type(None)), None, doc, required=required, field=True)
