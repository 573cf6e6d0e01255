"""Reading a recipe: YAML, template parameters, and the structure checked against the
recipe schema (:mod:`mbm_sig.maps.recipe.schema`), with no catalogue."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mbm_sig.config import load_yaml
from mbm_sig.maps import expr
from mbm_sig.maps import types as map_types
from mbm_sig.maps.errors import RecipeError
from mbm_sig.maps.recipe.schema import LAYER_KEYS, TOP, layer_schema
from mbm_sig.maps.types._core import check_keys

PARAM = re.compile(r"\{([A-Za-z_]\w*)\}")


@dataclass
class Recipe:
    doc: dict
    path: Path
    params: dict = field(default_factory=dict)

    def fail(self, key, message):
        return RecipeError(self.path, key, message)

    @property
    def layer_names(self) -> list[str]:
        names = [spec["layer"] for spec in self.doc.get("layers", [])]
        for spec in self.doc.get("layers", []):
            j = spec.get("join")
            if j:
                names.append(j["layer"] if isinstance(j, dict) else j)
        ext = self.doc.get("extent")
        if isinstance(ext, dict) and ext.get("layer"):
            names.append(ext["layer"])
        ins = self.doc.get("inset")
        if isinstance(ins, dict):
            names += [n for n in (ins.get("layer"), ins.get("context")) if n]
        return list(dict.fromkeys(names))


# ------------------------------------------------------------------------------ loading

def _fill(obj, params, path, key=""):
    if isinstance(obj, str):
        missing = [m for m in PARAM.findall(obj) if m not in params]
        if missing:
            raise RecipeError(path, key, f"template parameter {{{missing[0]}}} is not given "
                              f"(known: {', '.join(sorted(params)) or 'none'})")
        whole = PARAM.fullmatch(obj)
        if whole:
            return params[whole.group(1)]
        return PARAM.sub(lambda m: str(params[m.group(1)]), obj)
    if isinstance(obj, dict):
        return {k: _fill(v, params, path, f"{key}.{k}" if key else str(k)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_fill(v, params, path, f"{key}[{i}]") for i, v in enumerate(obj)]
    return obj


def _parsed(path: Path):
    """The recipe file's YAML, parsed once while the file is unchanged (an atlas's coverage sheet
    loads the same recipe for each of its 1534 features). Callers get their own top-level copy;
    :func:`_fill` builds every nested mapping and list anew."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise RecipeError(path, "", "recipe file not found") from None
    doc = _parse(path, st.st_mtime_ns, st.st_size, st.st_ino)
    return dict(doc) if isinstance(doc, dict) else doc


def forget_parsed() -> None:
    """Drop the parsed recipes: for a caller that knows a file changed while its size, times
    and inode stayed the same (two saves within one tick of the clock, seen by inotify)."""
    _parse.cache_clear()


@functools.lru_cache(maxsize=64)
def _parse(path: Path, mtime_ns: int, size: int, inode: int):
    try:
        with open(path, encoding="utf-8") as fh:
            return load_yaml(fh)
    except FileNotFoundError:
        raise RecipeError(path, "", "recipe file not found") from None
    except yaml.YAMLError as exc:
        raise RecipeError(path, "", f"invalid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise RecipeError(path, "", "not UTF-8 text (a recipe is a YAML file)") from None


def load_recipe(path, params: dict | None = None) -> Recipe:
    """Read a recipe, fill its template parameters and check its structure (no catalogue)."""
    path = Path(path)
    doc = _parsed(path)
    if not isinstance(doc, dict):
        raise RecipeError(path, "", "expected a mapping at the top level")
    defaults = doc.pop("params", None) or {}
    if not isinstance(defaults, dict):
        raise RecipeError(path, "params", "expected a mapping of default template parameters")
    params = {**{k: str(v) for k, v in defaults.items()}, **dict(params or {})}
    doc = _fill(doc, params, path)
    _yaml11_on(doc)
    r = Recipe(doc=doc, path=path, params=params)
    check_structure(r)
    return r


def _yaml11_on(doc: dict) -> None:
    """YAML 1.1 reads a bare ``on:`` key as the boolean true: ``join: {layer: x, on: insee}``
    means the key ``on``."""
    for spec in doc.get("layers") or []:
        j = spec.get("join") if isinstance(spec, dict) else None
        if isinstance(j, dict) and True in j and "on" not in j:
            j["on"] = j.pop(True)


def check_structure(r: Recipe) -> None:
    """Every key known (top level, nested mappings, each layer by its map type), each value
    of its type and in range; the first problem raises :class:`RecipeError` with its path."""
    d = r.doc
    top = [o for o in TOP if o.name != "layers"]
    check_keys({k: v for k, v in d.items() if k != "layers"}, top, "", r.fail)
    layers = d.get("layers")
    if not isinstance(layers, list) or not layers:
        raise r.fail("layers", "a non-empty list of layers is required")
    for i, spec in enumerate(layers):
        check_layer(r, spec, f"layers[{i}]")
    ext = d.get("extent")
    if isinstance(ext, list):
        check_keys({"bbox": ext}, [o for o in TOP if o.name == "extent"][0].keys, "extent", r.fail)
    elif isinstance(ext, dict) and not ({"layer", "bbox"} & set(ext)):
        raise r.fail("extent", "expected {layer: NAME, where: {...}} or {bbox: [xmin, ymin, xmax, ymax]}")


def check_layer(r: Recipe, spec, key: str) -> None:
    """One recipe layer: its keys are the recipe's own and its map type's options."""
    if not isinstance(spec, dict):
        raise r.fail(key, "expected a mapping")
    if "layer" not in spec:
        raise r.fail(key, "missing key 'layer'")
    t = spec.get("type", "base")
    if t not in map_types.names():
        raise r.fail(f"{key}.type", f"unknown layer type {t!r}; known types: {', '.join(map_types.names())}")
    mt = map_types.get(t)
    known = layer_schema(mt)
    for k in spec:
        if k not in known:
            raise r.fail(f"{key}.{k}", f"unknown key of a {t!r} layer (known keys: {', '.join(sorted(known))})")
    for name, o in known.items():
        if name in spec:
            o.validate(spec[name], f"{key}.{name}", r.fail)
        elif o.required:
            raise r.fail(f"{key}.{name}", f"layer type {t!r} needs {name}" + (" (a field of the layer)" if o.field
                                                                             else ""))
    for name, text in (spec.get("computed") or {}).items():
        try:
            expr.parse(text)
        except expr.ExpressionError as exc:
            raise r.fail(f"{key}.computed.{name}", str(exc)) from None
    mt.check_recipe(spec, r.fail, key)


__all__ = ["LAYER_KEYS", "PARAM", "Recipe", "RecipeError", "check_layer", "check_structure", "load_recipe"]
