"""A streaming PDF book writer: single-page PDFs (the atlas's pages, as matplotlib writes
them) appended one by one to one book, each page's objects copied once as bytes (content
streams and fonts are never decoded), identical objects (the print font's stable subset,
its widths, graphics states) stored once, an overlay page (the page number) placed over a
page as a form XObject, bookmarks, page mode and metadata.

This replaces a pypdf merge (parse every page into Python objects, merge the overlay into
each content stream, recompress, then look for identical objects across the whole book):
that cost grew faster than the page count and held the whole book in memory. Here memory
holds one source page and a digest per distinct object; the time is linear in the pages.

Only classic PDF files are read (an ``xref`` table, no object or cross-reference streams):
what matplotlib's PDF backend writes. Anything else is refused with the file's name.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from mbm_sig.errors import Failure


class BookError(Failure):
    """A page file the book writer cannot read (exit status 1)."""


@dataclass(frozen=True)
class Ref:
    num: int


class Raw(bytes):
    """A PDF atom kept as written: number, name, string, boolean, null."""


_WS = b" \t\r\n\x0c\x00"
_DELIM = b"()<>[]{}/%"
_ATOM_END = re.compile(rb"[\s()<>\[\]{}/%]")
_REF = re.compile(rb"(\d+)\s+(\d+)\s+R(?![^\s()<>\[\]{}/%])")
# the page's own content saved and restored around it, then the overlay drawn over it
_OPEN, _OVER = b"q\n", b"\nQ q /MbmOverlay Do Q\n"
_REF_NUM = re.compile(rb"(\d+)\s+\d+\s+R(?![^\s()<>\[\]{}/%])")
_OBJ = re.compile(rb"\s*(\d+)\s+(\d+)\s+obj")


class _Parser:
    """The few PDF syntax elements matplotlib writes, from bytes at a position."""

    def __init__(self, data: bytes, where: str):
        self.data, self.where = data, where

    def skip(self, i: int) -> int:
        d = self.data
        n = len(d)
        while i < n:
            c = d[i]
            if c in _WS:
                i += 1
            elif c == 0x25:             # % comment
                j = d.find(b"\n", i)
                i = n if j < 0 else j + 1
            else:
                break
        return i

    def value(self, i: int):
        d = self.data
        i = self.skip(i)
        c = d[i:i + 1]
        if c == b"<":
            if d[i + 1:i + 2] == b"<":
                return self._dict(i + 2)
            j = d.index(b">", i)
            return Raw(d[i:j + 1]), j + 1
        if c == b"[":
            out: list = []
            i += 1
            while True:
                i = self.skip(i)
                if d[i:i + 1] == b"]":
                    return out, i + 1
                v, i = self.value(i)
                out.append(v)
        if c == b"(":
            return self._string(i)
        if c == b"/":
            m = _ATOM_END.search(d, i + 1)
            j = m.start() if m else len(d)
            return Raw(d[i:j]), j
        if c.isdigit():
            m = _REF.match(d, i)
            if m:
                return Ref(int(m.group(1))), m.end()
        m = _ATOM_END.search(d, i)
        j = m.start() if m else len(d)
        if j == i:
            raise BookError(f"{self.where}: unexpected PDF syntax at byte {i}")
        return Raw(d[i:j]), j

    def _dict(self, i: int):
        d = self.data
        out: dict = {}
        while True:
            i = self.skip(i)
            if d[i:i + 2] == b">>":
                return out, i + 2
            key, i = self.value(i)
            if not (isinstance(key, Raw) and key.startswith(b"/")):
                raise BookError(f"{self.where}: a dictionary key is not a name at byte {i}")
            out[bytes(key)], i = self.value(i)

    def _string(self, i: int):
        d = self.data
        depth, j = 0, i
        while True:
            c = d[j]
            if c == 0x5C:             # backslash: skip the escaped byte
                j += 2
                continue
            if c == 0x28:
                depth += 1
            elif c == 0x29:
                depth -= 1
                if depth == 0:
                    return Raw(d[i:j + 1]), j + 1
            j += 1


def serialize(v) -> bytes:
    if isinstance(v, Ref):
        return b"%d 0 R" % v.num
    if isinstance(v, dict):
        return b"<< " + b" ".join(k + b" " + serialize(x) for k, x in v.items()) + b" >>"
    if isinstance(v, list):
        return b"[ " + b" ".join(serialize(x) for x in v) + b" ]"
    if isinstance(v, (bytes, Raw)):
        return bytes(v)
    if isinstance(v, bool):
        return b"true" if v else b"false"
    if isinstance(v, int):
        return b"%d" % v
    if isinstance(v, float):
        return (b"%.4f" % v).rstrip(b"0").rstrip(b".")
    raise TypeError(f"cannot write {v!r} in a PDF")


def text_string(s: str) -> bytes:
    """A PDF text string: printable ASCII as a literal string, anything else as UTF-16BE."""
    if all(32 <= ord(c) < 127 for c in s):
        return b"(" + s.encode("ascii").replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"
    return b"<FEFF" + s.encode("utf-16-be").hex().upper().encode() + b">"


class Source:
    """One PDF file as matplotlib writes it: its objects by number, parsed on demand."""

    def __init__(self, data: bytes, name: str):
        self.data, self.name = data, name
        self._p = _Parser(data, name)
        self.offsets = self._xref()
        ordered = sorted(self.offsets.values()) + [len(data)]
        self._ends = dict(zip(ordered, ordered[1:], strict=False))
        self._cache: dict = {}
        self._digest: bytes | None = None
        trailer_at = data.rfind(b"trailer")
        if trailer_at < 0:
            raise BookError(f"{name}: no trailer (not a classic PDF file)")
        trailer, _ = self._p.value(trailer_at + len(b"trailer"))
        self.root = trailer[b"/Root"]

    @classmethod
    def open(cls, path) -> Source:
        return cls(Path(path).read_bytes(), str(path))

    @property
    def digest(self) -> bytes:
        """A digest of the file's bytes (what a page's plan is kept by)."""
        if self._digest is None:
            self._digest = hashlib.sha1(self.data).digest()
        return self._digest

    def _xref(self) -> dict[int, int]:
        d = self.data
        m = re.search(rb"startxref\s+(\d+)\s+%%EOF\s*$", d[-64:])
        if not m:
            raise BookError(f"{self.name}: no startxref at the end (not a complete PDF file)")
        at = int(m.group(1))
        if d[at:at + 4] != b"xref":
            raise BookError(f"{self.name}: cross-reference stream or object streams: not a file this book "
                            "writer reads (matplotlib's PDF output)")
        offsets: dict[int, int] = {}
        i = at + 4
        sect = re.compile(rb"\s*(\d+) (\d+)\s*?\r?\n")
        while True:
            m = sect.match(d, i)
            if not m:
                break
            first, count = int(m.group(1)), int(m.group(2))
            i = m.end()
            for k in range(count):
                line = d[i:i + 20]
                if line[17:18] == b"n":
                    offsets[first + k] = int(line[:10])
                i += 20
        return offsets

    def _locate(self, num: int):
        """(offset, match of «num gen obj») of object ``num``, checked against the file."""
        at = self.offsets.get(num)
        if at is None:
            raise BookError(f"{self.name}: object {num} is referenced but not in the file")
        m = _OBJ.match(self.data, at)
        if not m or int(m.group(1)) != num:
            raise BookError(f"{self.name}: object {num} is not at its cross-reference offset")
        return at, m

    def obj(self, num: int):
        """(value, stream bytes or None) of object ``num``."""
        hit = self._cache.get(num)
        if hit is not None:
            return hit
        at, m = self._locate(num)
        i = self._p.skip(m.end())
        if self.data[i:i + 1] == b"[":
            # an array without references (a font's widths): kept as written, not parsed
            end = self._ends[at]
            body = self.data[i:end]
            k = body.rfind(b"endobj")
            if k > 0 and b"stream" not in body and not _REF.search(body, 0, k):
                self._cache[num] = hit = (Raw(body[:k].rstrip()), None)
                return hit
        value, i = self._p.value(i)
        stream = None
        j = self._p.skip(i)
        if self.data.startswith(b"stream", j):
            j += 6
            j += 2 if self.data[j:j + 2] == b"\r\n" else 1
            length = value.get(b"/Length")
            if isinstance(length, Ref):
                length = self.obj(length.num)[0]
            n = int(length)
            stream = self.data[j:j + n]
        self._cache[num] = hit = (value, stream)
        return hit

    def raw(self, num: int) -> bytes | None:
        """The bytes of object ``num`` between ``obj`` and ``endobj``; None for a stream."""
        at, m = self._locate(num)
        end = self._ends[at]
        k = self.data.rfind(b"endobj", m.end(), end)
        if k < 0:
            raise BookError(f"{self.name}: object {num} has no endobj")
        return None if self.data.find(b"stream", m.end(), k) >= 0 else self.data[m.end():k]

    def resolve(self, v):
        return self.obj(v.num)[0] if isinstance(v, Ref) else v

    def pages(self) -> list[int]:
        """The page objects' numbers in order."""
        out: list[int] = []

        def walk(ref):
            node = self.resolve(ref)
            if node.get(b"/Type") == b"/Pages":
                for kid in self.resolve(node[b"/Kids"]):
                    walk(kid)
            else:
                out.append(ref.num)
        walk(self.resolve(self.root)[b"/Pages"])
        return out


def _one_content(src: Source, page: dict) -> Ref:
    cont = page[b"/Contents"]
    if isinstance(cont, list) and len(cont) == 1:
        cont = cont[0]
    if not isinstance(cont, Ref):
        raise BookError(f"{src.name}: an overlay page has several content streams")
    return cont


def _decoded(src: Source, value: dict, data: bytes) -> bytes:
    f = value.get(b"/Filter")
    if f is None:
        return data
    if f in (b"/FlateDecode", [b"/FlateDecode"]):
        return zlib.decompress(data)
    raise BookError(f"{src.name}: an overlay page's content has the filter {serialize(f).decode()}")


def _literal(text: str) -> bytes:
    """How matplotlib's PDF backend writes a print-font string (two-byte codes): the
    characters of page numbers need no escape."""
    return b"(" + text.encode("utf-16-be") + b")"


def swappable(src: Source, page_num: int, text: str) -> bool:
    """Whether page ``page_num`` of ``src`` draws ``text`` exactly once as one literal string
    that ``add_page``'s swap can replace (else the caller draws each page's overlay itself)."""
    page = src.obj(page_num)[0]
    value, data = src.obj(_one_content(src, page).num)
    return _decoded(src, value, data).count(_literal(text)) == 1 and all(
        c.isdigit() or c in " /" for c in text)


class _Slot:
    """A reference in a page's object filled when the page is placed: its overlay form and the
    two streams saving and restoring its content around it."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


_MARK = b"\x00\x01mbm-ref\x01\x00"      # where a reference goes in a template (checked: never in the bytes)


def _content_id(pieces: tuple, kid_ids, stream: bytes | None) -> bytes:
    """What makes two objects one in a book: their bytes with each reference standing for the
    content of the object it points to (so two copies of a font in two page files, with
    different object numbers there, are one object in the book)."""
    h = hashlib.sha1(pieces[0])
    for k, oid in enumerate(kid_ids, start=1):
        h.update(b"\x00r")
        h.update(oid)
        h.update(b"%d:" % len(pieces[k]))
        h.update(pieces[k])
    if stream is not None:
        h.update(b"\x00stream\x00")
        h.update(stream)
    return h.digest()


@dataclass(frozen=True)
class _Obj:
    oid: bytes                      # content id (see _content_id)
    pieces: tuple                   # its bytes around its references (one more than kids)
    kids: tuple                     # what each reference points to: a plan index, or a slot's name
    stream: bytes | None


class PagePlan:
    """A page of a source file made ready for any book: the objects it reaches, each after
    the objects it refers to (the order a book writes them in), each with its content id and
    its bytes around its references; then the page object's template. Placing a plan in a
    book (:meth:`BookWriter.add_plan`) only looks up ids and fills in numbers: a warm process
    keeps the plans of unchanged pages (``BookWriter(plans=…)``) and a new book parses only
    the pages that changed. ``split``: the objects written before the overlay's (the page's
    resources and contents), the others after (its media box, annotations)."""

    def __init__(self, src: Source, page_num: int, overlay: bool, shared: dict | None = None) -> None:
        self._start(src, shared)
        page = src.obj(page_num)[0]
        res = dict(src.resolve(page.get(b"/Resources", {})))
        if overlay:
            res[b"/XObject"] = dict(src.resolve(res.get(b"/XObject", {})))
        contents = page.get(b"/Contents")
        contents = [c for c in (contents if isinstance(contents, list) else [contents]) if c is not None]
        box = src.resolve(page[b"/MediaBox"])
        self._walk(res)
        self._walk(contents)
        self.split = len(self.objs)
        if overlay:
            res[b"/XObject"][b"/MbmOverlay"] = _Slot("form")
            contents = [_Slot("open"), *contents, _Slot("over")]
        out: dict = {b"/Type": Raw(b"/Page"), b"/Parent": Raw(b"%d 0 R" % BookWriter.PAGES), b"/Resources": res,
                     b"/MediaBox": box, b"/Contents": contents[0] if len(contents) == 1 else contents}
        for k in (b"/Annots", b"/Group", b"/Rotate", b"/CropBox"):
            if k in page:
                out[k] = page[k]
        self._walk([box] + [out[k] for k in out if k in (b"/Annots", b"/Group", b"/Rotate", b"/CropBox")])
        self.page = self._template(out, page=True)
        self.size_mm = _size_mm(box)
        self._end()

    def _start(self, src: Source, shared: dict | None) -> None:
        self.where = src.name
        self.objs: list[_Obj] = []
        self._index: dict[int, int] = {}
        self._src = src
        self._shared = {} if shared is None else shared

    def _end(self) -> None:
        del self._src, self._index, self._shared

    def _ser(self, v, kids: list) -> bytes:
        """``v`` as :func:`serialize` writes it, each reference a mark (what it points to
        appended to ``kids``: its object planned on first meeting, the objects it refers to
        first)."""
        if isinstance(v, Ref):
            i = self._index.get(v.num)
            if i is None:
                i = self._index[v.num] = self._plan(v.num)
            kids.append(i)
            return _MARK
        if isinstance(v, dict):
            if v.get(b"/Type") in (b"/Page", b"/Pages", b"/Catalog"):
                raise BookError(f"{self._src.name}: a page-tree object referenced from page content")
            return b"<< " + b" ".join(k + b" " + self._ser(x, kids) for k, x in v.items()) + b" >>"
        if isinstance(v, list):
            return b"[ " + b" ".join(self._ser(x, kids) for x in v) + b" ]"
        if isinstance(v, _Slot):
            kids.append(v.name)
            return _MARK
        return serialize(v)

    def _walk(self, v) -> None:
        """Plan the objects ``v`` refers to (in the order a book meets them)."""
        self._ser(v, [])

    def _template(self, v, page: bool = False) -> tuple[tuple, tuple]:
        """(the bytes around each reference, what each points to) of ``v``; ``page``: the page
        object itself (a page dictionary)."""
        kids: list = []
        if page:
            body = b"<< " + b" ".join(k + b" " + self._ser(x, kids) for k, x in v.items()) + b" >>"
        else:
            body = self._ser(v, kids)
        pieces = tuple(body.split(_MARK))
        if len(pieces) != len(kids) + 1:
            raise BookError(f"{self.where}: unexpected bytes in an object (the book writer's reference mark)")
        return pieces, tuple(kids)

    def _plan(self, num: int) -> int:
        """Plan object ``num``. An object without a stream whose bytes, but for the numbers of
        the objects it refers to, were met before (the font dictionaries of every page, each
        page's resources dictionary) takes the template made then, without being parsed: only
        the objects it refers to are planned. (A template is kept only when the references the
        parser found are all the reference-like bytes: the bytes between them are then the
        same in the other object, and so are its references.)"""
        src = self._src
        raw = src.raw(num)
        if raw is not None:
            refs = _REF_NUM.findall(raw) if b"R" in raw else ()      # (a font's widths: none)
            shape = ("refs", _REF_NUM.sub(b"R", raw)) if refs else ("raw", raw)
            hit = self._shared.get(shape)
            if hit is not None:
                kids: list = []
                for n in refs:
                    self._ser(Ref(int(n)), kids)
                return self._add(hit, tuple(kids), None)
        value, stream = src.obj(num)
        if stream is not None:
            value = {k: (len(stream) if k == b"/Length" else x) for k, x in value.items()}
        pieces, kids_ = self._template(value)
        if raw is not None and len(kids_) == len(refs):   # (no reference-like text)
            self._shared[shape] = pieces
        return self._add(pieces, kids_, stream)

    def _add(self, pieces: tuple, kids: tuple, stream: bytes | None) -> int:
        objs = self.objs
        objs.append(_Obj(_content_id(pieces, [objs[i].oid for i in kids], stream), pieces, kids, stream))
        return len(objs) - 1


class _FormPlan(PagePlan):
    """An overlay page as a form XObject (see :meth:`BookWriter._form`): its objects, the
    form last."""

    def __init__(self, osrc: Source, onum: int, swap: tuple[str, str] | None, shared: dict | None = None) -> None:
        self._start(osrc, shared)
        opage = osrc.obj(onum)[0]
        cvalue, cdata = osrc.obj(_one_content(osrc, opage).num)
        form = {b"/Type": Raw(b"/XObject"), b"/Subtype": Raw(b"/Form"),
                b"/BBox": osrc.resolve(opage[b"/MediaBox"]),
                b"/Resources": osrc.resolve(opage.get(b"/Resources", {}))}
        if swap is not None and swap[0] != swap[1]:
            text = _decoded(osrc, cvalue, cdata).replace(_literal(swap[0]), _literal(swap[1]))
            cdata = zlib.compress(text, 6)
            form[b"/Filter"] = Raw(b"/FlateDecode")
        elif b"/Filter" in cvalue:
            form[b"/Filter"] = cvalue[b"/Filter"]
        form[b"/Length"] = len(cdata)
        self._add(*self._template(form), cdata)
        self.split = len(self.objs)
        self._end()


def _stream_obj(data: bytes) -> _Obj:
    pieces = (serialize({b"/Length": len(data)}),)
    return _Obj(_content_id(pieces, [], data), pieces, (), data)


_OPEN_OBJ, _OVER_OBJ = _stream_obj(_OPEN), _stream_obj(_OVER)


def page_plan(src: Source, page_num: int, overlay: bool, plans: dict | None = None) -> PagePlan:
    """The plan of page ``page_num`` of ``src`` (``overlay``: the page gets a number drawn over
    it), kept in ``plans`` by the file's content."""
    if plans is None:
        return PagePlan(src, page_num, overlay)
    key = ("page", src.digest, page_num, overlay)
    hit = plans.get(key)
    if hit is None:
        hit = plans[key] = PagePlan(src, page_num, overlay, plans)
    return hit


def _size_mm(box) -> tuple[float, float]:
    return (float(box[2]) * 25.4 / 72, float(box[3]) * 25.4 / 72)


def _one_page(src: Source) -> int:
    pages = src.pages()
    if len(pages) != 1:
        raise BookError(f"{src.name}: {len(pages)} pages in a page file (one expected)")
    return pages[0]


def file_plan(path, overlay: bool, plans: dict, keep: bool = True) -> PagePlan:
    """The plan of the one page of a page file (the atlas's pages), kept in ``plans`` by the
    file's content: a file met before is not parsed again. ``keep=False``: the plan is not
    kept (a book written once: its pages are planned, placed and dropped one at a time, so
    the book writer's memory does not grow with the page count; the templates of the objects
    pages share are kept in ``plans`` all the same)."""
    data = Path(path).read_bytes()
    if not keep:
        src = Source(data, str(path))
        return PagePlan(src, _one_page(src), overlay, plans)
    key = ("file", hashlib.sha1(data).digest(), overlay)
    hit = plans.get(key)
    if hit is None:
        src = Source(data, str(path))
        hit = plans[key] = PagePlan(src, _one_page(src), overlay, plans)
    return hit


PLAN_SUFFIX = ".plan"


def write_plan_file(path, plans: dict) -> None:
    """The plan of page file ``path`` (placed with a number over it, as a book's pages after
    the cover are), written beside it (``PATH.plan``, scratch like the page file): the process
    that renders a page plans it, and the book places it without parsing it again. Nothing is
    written for a file the book writer cannot plan (the book reports it)."""
    import pickle
    try:
        plan = file_plan(path, True, plans, keep=False)
    except BookError:
        return
    Path(str(path) + PLAN_SUFFIX).write_bytes(pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))


def read_plan_file(path, overlay: bool, plans: dict) -> PagePlan:
    """The plan of page file ``path``: the one written beside it (:func:`write_plan_file`) when
    there is one for a page with a number over it, else planned now (:func:`file_plan`, not
    kept)."""
    import pickle
    kept = Path(str(path) + PLAN_SUFFIX)
    if overlay and kept.exists():
        plan = pickle.loads(kept.read_bytes())
        if isinstance(plan, PagePlan):
            return plan
    return file_plan(path, overlay, plans, keep=False)


_MEDIA_BOX = re.compile(rb"/MediaBox \[ (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) (-?[\d.]+) \]")


def file_page_size(path) -> tuple[float, float]:
    """The size in millimetres of the one page of a page file (its media box, as its plan
    has it), read without planning the page: the one media box matplotlib writes, else from
    the parsed page (the book writer checks it against the page's plan)."""
    data = Path(path).read_bytes()
    boxes = _MEDIA_BOX.findall(data)
    if len(boxes) == 1:
        return _size_mm([Raw(v) for v in boxes[0]])
    src = Source(data, str(path))
    return _size_mm(src.resolve(src.obj(_one_page(src))[0][b"/MediaBox"]))


class RecentPlans(OrderedDict):
    """The plans and object templates of a book written once (``BookWriter(plans=…)`` and
    :func:`file_plan`'s ``plans`` in a cold run): the ``size`` last used are kept, the others
    dropped. The objects every page shares (the print font's dictionaries, met on each page)
    stay; a page's own (its resources, its number's form) go, and the book writer's memory
    does not grow with the page count."""

    def __init__(self, size: int = 1024) -> None:
        super().__init__()
        self.size = size

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return super().__getitem__(key)
        return default

    def __setitem__(self, key, value) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class BookWriter:
    """``with open(path, "wb") as fh: w = BookWriter(fh); w.add_page(src, n, overlay); …;
    w.close(outline, info)``: pages appended in order, objects written as they come.
    ``plans``: a dictionary kept from one book to the next (a warm process) holding the
    plans of the pages met (:class:`PagePlan`, by the content of their file): a page met
    again is placed without being parsed."""

    CATALOG, PAGES = 1, 2

    def __init__(self, fh, plans: dict | None = None) -> None:
        self.fh = fh
        self.pos = 0
        self.offsets: dict[int, int] = {}
        self.next_num = 3
        self.known: dict[bytes, int] = {}          # content id of an object -> its number
        self.page_nums: list[int] = []
        self.plans = plans if plans is not None else {}
        self._write(b"%PDF-1.4\n%\xac\xdc \xab\xba\n")

    def _write(self, b: bytes) -> None:
        self.fh.write(b)
        self.pos += len(b)

    def _emit(self, num: int, value, stream: bytes | None = None) -> None:
        self._emit_bytes(num, serialize(value), stream)

    def _emit_bytes(self, num: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[num] = self.pos
        if stream is None:
            self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))
        else:
            self._write(b"%d 0 obj\n%s\nstream\n" % (num, body) + stream + b"\nendstream\nendobj\n")

    def _new(self) -> int:
        n = self.next_num
        self.next_num += 1
        return n

    @staticmethod
    def _fill(pieces: tuple, kids: tuple, nums: list, slots: dict | None = None) -> bytes:
        """The bytes of a planned object: its references to the book's numbers."""
        if not kids:
            return pieces[0]
        out = [pieces[0]]
        for k, kid in enumerate(kids, start=1):
            out.append(b"%d 0 R" % (nums[kid] if isinstance(kid, int) else slots[kid]))
            out.append(pieces[k])
        return b"".join(out)

    def _place(self, objs, nums: list) -> None:
        """The book's numbers of planned objects (appended to ``nums``): an object whose
        content the book holds already is that object, the others are written."""
        known = self.known
        for o in objs:
            num = known.get(o.oid)
            if num is None:
                num = known[o.oid] = self._new()
                self._emit_bytes(num, self._fill(o.pieces, o.kids, nums), o.stream)
            nums.append(num)

    def _one(self, o: _Obj) -> int:
        nums: list = []
        self._place([o], nums)
        return nums[0]

    def add_page(self, src: Source, page_num: int, overlay: tuple | None = None) -> None:
        """Append page ``page_num`` of ``src``; ``overlay``: (source, page) drawn over it, or
        (source, page, (old, new)) to draw it with its string ``old`` replaced by ``new``."""
        self.add_plan(page_plan(src, page_num, overlay is not None, self.plans), overlay)

    def add_plan(self, plan: PagePlan, overlay: tuple | None = None) -> None:
        """Append a planned page (:func:`page_plan`), ``overlay`` as for :meth:`add_page`."""
        nums: list = []
        self._place(plan.objs[:plan.split], nums)
        slots = None
        if overlay is not None:
            slots = {"form": self._form(*overlay), "open": self._one(_OPEN_OBJ), "over": self._one(_OVER_OBJ)}
        self._place(plan.objs[plan.split:], nums)
        num = self._new()
        self._emit_bytes(num, self._fill(*plan.page, nums, slots))
        self.page_nums.append(num)

    def _form(self, osrc: Source, onum: int, swap: tuple[str, str] | None = None) -> int:
        """Page ``onum`` of ``osrc`` as a form XObject, its content stream kept as written;
        ``swap`` (old, new): the page's one string ``old`` drawn as ``new`` instead (see
        :func:`swappable`)."""
        key = ("form", osrc.digest, onum, swap)
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = _FormPlan(osrc, onum, swap, self.plans)
        nums: list = []
        self._place(plan.objs, nums)
        return nums[-1]

    def close(self, outline: list[tuple[str, int, int | None]], info: dict[str, str],
              page_mode: str | None = "/UseOutlines") -> None:
        """Write the outline (``(title, page index, parent item index or None)``, in order), the
        page tree, the catalogue, the metadata and the cross-reference table."""
        self._emit(self.PAGES, {b"/Type": Raw(b"/Pages"), b"/Kids": [Ref(n) for n in self.page_nums],
                                b"/Count": len(self.page_nums)})
        catalog: dict = {b"/Type": Raw(b"/Catalog"), b"/Pages": Ref(self.PAGES)}
        if outline:
            catalog[b"/Outlines"] = Ref(self._outline(outline))
        if page_mode:
            catalog[b"/PageMode"] = Raw(page_mode.encode())
        self._emit(self.CATALOG, catalog)
        info_num = self._new()
        self._emit(info_num, {b"/" + k.lstrip("/").encode(): Raw(text_string(v)) for k, v in info.items()})
        size = self.next_num
        xref_at = self.pos
        rows = [b"xref\n0 %d\n" % size, b"0000000000 65535 f \n"]
        for n in range(1, size):
            rows.append(b"%010d 00000 n \n" % self.offsets[n])
        rows.append(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
                    % (size, self.CATALOG, info_num, xref_at))
        self._write(b"".join(rows))

    def _outline(self, items: list[tuple[str, int, int | None]]) -> int:
        root = self._new()
        nums = [self._new() for _ in items]
        kids: dict = {None: []}
        for k, (_, _, parent) in enumerate(items):
            kids.setdefault(parent, []).append(k)

        def count(k) -> int:
            return sum(1 + count(c) for c in kids.get(k, []))
        for k, (title, page, parent) in enumerate(items):
            sib = kids[parent]
            pos = sib.index(k)
            d: dict = {b"/Title": Raw(text_string(title)),
                       b"/Parent": Ref(root if parent is None else nums[parent]),
                       b"/Dest": [Ref(self.page_nums[page]), Raw(b"/Fit")]}
            if pos > 0:
                d[b"/Prev"] = Ref(nums[sib[pos - 1]])
            if pos < len(sib) - 1:
                d[b"/Next"] = Ref(nums[sib[pos + 1]])
            if kids.get(k):
                d[b"/First"], d[b"/Last"] = Ref(nums[kids[k][0]]), Ref(nums[kids[k][-1]])
                d[b"/Count"] = count(k)
            self._emit(nums[k], d)
        top = kids[None]
        self._emit(root, {b"/Type": Raw(b"/Outlines"), b"/First": Ref(nums[top[0]]),
                          b"/Last": Ref(nums[top[-1]]), b"/Count": count(None)})
        return root
