"""Computed fields: a tiny arithmetic language evaluated on DataFrame columns.

``"1e4 * etab_generalistes / population"`` — numbers, column names, + - * / // % **,
parentheses and unary minus; nothing else (no calls, no attributes: never Python eval).
Division by zero gives NaN.
"""

from __future__ import annotations

import ast
import operator

import numpy as np
import pandas as pd

from mbm_sig.maps.errors import MapError

_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UN = {ast.USub: operator.neg, ast.UAdd: operator.pos}


class ExpressionError(MapError):
    pass


def parse(text: str) -> ast.AST:
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse expression {text!r}: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.Load, ast.Name)) or type(node) in _BIN or type(node) in _UN:
            continue
        if isinstance(node, (ast.BinOp, ast.UnaryOp)):
            op = type(node.op)
            if op in _BIN or op in _UN:
                continue
            raise ExpressionError(f"operator {op.__name__} not allowed in {text!r}")
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            continue
        raise ExpressionError(f"only numbers, field names and + - * / // % ** are allowed in {text!r} "
                              f"(found {type(node).__name__})")
    return tree


def names(text: str) -> set[str]:
    return {n.id for n in ast.walk(parse(text)) if isinstance(n, ast.Name)}


def _numbers(col: pd.Series) -> np.ndarray:
    """A column as float64 values, what ``pd.to_numeric(col, errors="coerce").astype(float)``
    gives (a missing value or a text that is no number: NaN), read straight from a numeric
    column (a sheet computes a field of the 1534 communes on every page of an atlas)."""
    if pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
        return col.to_numpy(dtype=float, na_value=np.nan)
    return pd.to_numeric(col, errors="coerce").astype(float).to_numpy()


def evaluate(text: str, df: pd.DataFrame) -> pd.Series:
    tree = parse(text)

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return np.float64(node.value)         # (numpy's: 1 / 0 is inf, then NaN, as for columns)
        if isinstance(node, ast.Name):
            if node.id not in df.columns:
                raise ExpressionError(f"unknown field {node.id!r} in {text!r}")
            return _numbers(df[node.id])
        if isinstance(node, ast.BinOp):
            return _BIN[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp):
            return _UN[type(node.op)](ev(node.operand))
        raise ExpressionError(f"unsupported expression {text!r}")   # pragma: no cover

    # float64 arrays of the rows in order (the columns of one frame share its index): numpy's
    # arithmetic, which pandas applies to float Series
    with np.errstate(all="ignore"):
        out = np.broadcast_to(np.asarray(ev(tree), dtype=float), (len(df),))
    out = np.where(np.isinf(out), np.nan, out)
    return pd.Series(out, index=df.index, dtype=float)
