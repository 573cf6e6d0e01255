"""The SQL that ``mbm-sig sql`` and :meth:`Catalogue.sql` accept: one read-only query.

The text is tokenised (quoted strings and identifiers, dollar quotes, comments, casts and
``:name`` parameters told apart), never matched with regular expressions over the raw
text, so a ``:name`` or a ``;`` inside a quoted literal stays text. A statement is refused
(:class:`SQLRefused`, exit status 2) when it is not exactly one ``SELECT`` / ``WITH`` /
``VALUES`` / ``TABLE`` / ``EXPLAIN`` query, when it contains a writing or
transaction-control keyword outside quotes, or when it calls a function that reads or
writes files, large objects, other servers or session settings.

This is the first of two walls: the backends also run the query where the database itself
cannot write (a GeoPackage opened read-only; on PostGIS a read-only transaction under a
reader role, see :mod:`mbm_sig.catalogue.postgis`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mbm_sig.errors import InvalidInput


class SQLRefused(InvalidInput):
    """A statement ``sql`` does not run (it could write, or is not one query)."""


@dataclass(frozen=True)
class Token:
    kind: str      # word, qident, string, param, number, op, space, comment, semicolon
    text: str
    value: str = ""    # word: lower-case; qident: the unquoted name; param: its name


_WORD_START = re.compile(r"[A-Za-z_\u0080-\uffff]")
_WORD = re.compile(r"[A-Za-z0-9_$\u0080-\uffff]*")
_NUMBER = re.compile(r"(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")


def tokenize(sql: str, dialect: str) -> list[Token]:
    """Tokens of ``sql`` (``dialect``: ``"postgresql"`` or ``"sqlite"``); raises
    :class:`SQLRefused` on an unterminated quote or comment."""
    out: list[Token] = []
    i, n = 0, len(sql)
    pg = dialect == "postgresql"
    while i < n:
        c = sql[i]
        if c.isspace():
            j = i + 1
            while j < n and sql[j].isspace():
                j += 1
            out.append(Token("space", sql[i:j]))
            i = j
        elif sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(Token("comment", sql[i:j]))
            i = j
        elif sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if pg and sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                raise SQLRefused("refused: the SQL has an unterminated /* comment")
            out.append(Token("comment", sql[i:j]))
            i = j
        elif c == "'" or (pg and c in "eE" and sql.startswith("'", i + 1)):
            backslash = c != "'"
            j = i + (2 if backslash else 1)
            while True:
                if j >= n:
                    raise SQLRefused("refused: the SQL has an unterminated quoted string")
                if backslash and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == "'":
                    if sql.startswith("''", j):
                        j += 2
                        continue
                    break
                j += 1
            out.append(Token("string", sql[i:j + 1]))
            i = j + 1
        elif c == '"' or (not pg and c in "`["):
            close = {"`": "`", "[": "]"}.get(c, '"')
            j = i + 1
            while True:
                k = sql.find(close, j)
                if k < 0:
                    raise SQLRefused("refused: the SQL has an unterminated quoted identifier")
                if close != "]" and sql.startswith(close * 2, k):
                    j = k + 2
                    continue
                break
            raw = sql[i:k + 1]
            out.append(Token("qident", raw, raw[1:-1].replace(close * 2, close)))
            i = k + 1
        elif pg and c == "$" and _DOLLAR_TAG.match(sql, i):
            tag = _DOLLAR_TAG.match(sql, i).group(0)
            k = sql.find(tag, i + len(tag))
            if k < 0:
                raise SQLRefused("refused: the SQL has an unterminated dollar-quoted string")
            out.append(Token("string", sql[i:k + len(tag)]))
            i = k + len(tag)
        elif c == ":":
            if sql.startswith("::", i):
                out.append(Token("op", "::"))
                i += 2
            elif i + 1 < n and _WORD_START.match(sql[i + 1]):
                m = re.compile(r"[A-Za-z0-9_]*").match(sql, i + 2)
                name = sql[i + 1:m.end()]
                out.append(Token("param", sql[i:m.end()], name))
                i = m.end()
            else:
                out.append(Token("op", ":"))
                i += 1
        elif c == ";":
            out.append(Token("semicolon", ";"))
            i += 1
        elif _WORD_START.match(c):
            m = _WORD.match(sql, i + 1)
            word = sql[i:m.end()]
            out.append(Token("word", word, word.lower()))
            i = m.end()
        elif c.isdigit() or (c == "." and i + 1 < n and sql[i + 1].isdigit()):
            m = _NUMBER.match(sql, i)
            out.append(Token("number", m.group(0)))
            i = m.end()
        else:
            out.append(Token("op", c))
            i += 1
    return out


#: first words of the statements ``sql`` runs
QUERY_STARTS = {"select", "with", "values", "table", "explain"}
#: keywords that never appear in a read-only query (outside quotes)
WRITING_WORDS = {
    "insert", "update", "delete", "merge", "into", "copy", "truncate", "drop", "alter",
    "create", "grant", "revoke", "attach", "detach", "vacuum", "pragma", "reindex",
}
# functions that touch files, large objects, other servers, settings or other sessions
_FORBIDDEN_FUNCTIONS = re.compile(
    r"^(?:lo_\w*|lo(?:read|write)|pg_read_\w*|pg_ls_\w*|pg_stat_file|pg_write\w*|pg_file_\w*"
    r"|pg_logdir_ls|dblink\w*|set_config|pg_terminate_backend|pg_cancel_backend|pg_reload_conf"
    r"|pg_rotate_logfile|pg_notify|pg_advisory\w*|pg_try_advisory\w*|pg_logical_\w*"
    r"|pg_replication_\w*|pg_create_\w*|pg_drop_replication_slot|pg_switch_wal|pg_promote"
    r"|pg_backup_\w*|pg_start_backup|pg_stop_backup|pg_import_system_collations"
    r"|query_to_xml\w*|cursor_to_xml\w*|binary_upgrade_\w*|pg_execute_server_program"
    # functions that run SQL given as text (the guard never sees inside a string)
    r"|ts_stat|ts_rewrite|database_to_xml\w*|schema_to_xml\w*"
    r"|nextval|setval|txid_current|pg_current_xact_id"
    # SQLite and SpatiaLite
    r"|load_extension|readfile|writefile|edit|fsdir|lsdir|zipfile|sqlar_\w*"
    r"|import\w*|export\w*|blob(?:to|from)file|xb_(?:load|store)xml|sqlproc_\w*"
    r"|storedproc_\w*|storedvar_\w*|proj_setdatabasepath|fts3_tokenizer"
    # GDAL's SQLite functions that open other files
    r"|gdal_get_pixel_value|ogr_datasource_load_layers)$")


@dataclass(frozen=True)
class Checked:
    tokens: list[Token]
    params: list[str]


def _significant(tokens):
    return [t for t in tokens if t.kind not in ("space", "comment")]


def check_query(sql: str, dialect: str) -> Checked:
    """Tokens of ``sql`` if it is exactly one read-only query; else :class:`SQLRefused`
    with one line saying why."""
    if not isinstance(sql, str) or not sql.strip():
        raise SQLRefused("refused: the SQL text is empty")
    tokens = tokenize(sql, dialect)
    sig = _significant(tokens)
    # a trailing semicolon is allowed; anything after it is another statement
    while sig and sig[-1].kind == "semicolon":
        sig.pop()
        last = max(k for k, t in enumerate(tokens) if t.kind == "semicolon")
        tokens = tokens[:last] + tokens[last + 1:]
    if not sig:
        raise SQLRefused("refused: the SQL text is empty")
    if any(t.kind == "semicolon" for t in sig):
        raise SQLRefused("refused: several statements; `sql` runs exactly one read-only query")
    first = sig[0]
    if first.kind != "word" or first.value not in QUERY_STARTS:
        if first.kind == "op" and first.text == "(":
            first = next((t for t in sig if t.kind != "op" or t.text != "("), first)
        if first.kind != "word" or first.value not in QUERY_STARTS:
            raise SQLRefused(f"refused: {first.text.upper()!s} is not a query; `sql` runs one "
                             "read-only SELECT, WITH, VALUES or EXPLAIN statement")
    for k in range(len(tokens) - 2):
        # U&"\0073et_config" is set_config to the server: names are matched undecoded here
        if tokens[k].kind == "word" and tokens[k].value == "u" and tokens[k + 1].text == "&" \
                and tokens[k + 2].kind in ("qident", "string"):
            raise SQLRefused("refused: Unicode escapes (U&'…', U&\"…\") are not accepted in `sql`")
    for k, t in enumerate(sig):
        if t.kind == "word" and t.value in WRITING_WORDS:
            # keywords as column names after a dot (t.update) are names, not keywords
            if k and sig[k - 1].kind == "op" and sig[k - 1].text == ".":
                continue
            raise SQLRefused(f"refused: {t.text.upper()} is not allowed in a read-only query")
        if t.kind in ("word", "qident") and k + 1 < len(sig) and sig[k + 1].kind == "op" \
                and sig[k + 1].text == "(":
            name = t.value.lower()
            if _FORBIDDEN_FUNCTIONS.match(name):
                raise SQLRefused(f"refused: function {name}() is not allowed in `sql` "
                                 "(files, large objects, other servers or settings)")
    params = [t.value for t in tokens if t.kind == "param"]
    return Checked(tokens, params)


def missing_parameter(name: str) -> InvalidInput:
    return InvalidInput(f"SQL parameter :{name} has no value (give it with -p {name}=VALUE)")


def split_arguments(tokens: list[Token], open_index: int) -> tuple[list[list[Token]], int]:
    """Arguments of the call whose ``(`` is ``tokens[open_index]``, split at top-level
    commas, and the index of the closing ``)``."""
    depth, args, cur = 0, [], []
    for j in range(open_index, len(tokens)):
        t = tokens[j]
        if t.kind == "op" and t.text == "(":
            depth += 1
            if depth == 1:
                continue
        elif t.kind == "op" and t.text == ")":
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args, j
        elif t.kind == "op" and t.text == "," and depth == 1:
            args.append(cur)
            cur = []
            continue
        cur.append(t)
    raise SQLRefused("refused: unbalanced parentheses in the SQL")


def render(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)
