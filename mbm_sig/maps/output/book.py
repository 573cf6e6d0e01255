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
        self.memo_owner: object = None      # the BookWriter that copied objects of this file
        self.memo: dict = {}                # its object numbers -> the book's
        trailer_at = data.rfind(b"trailer")
        if trailer_at < 0:
            raise BookError(f"{name}: no trailer (not a classic PDF file)")
        trailer, _ = self._p.value(trailer_at + len(b"trailer"))
        self.root = trailer[b"/Root"]

    @classmethod
    def open(cls, path) -> Source:
        return cls(Path(path).read_bytes(), str(path))

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
        body = self.data[m.end():k]
        return None if b"stream" in body else body

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


class BookWriter:
    """``with open(path, "wb") as fh: w = BookWriter(fh); w.add_page(src, n, overlay); …;
    w.close(outline, info)``: pages appended in order, objects written as they come."""

    CATALOG, PAGES = 1, 2

    def __init__(self, fh) -> None:
        self.fh = fh
        self.pos = 0
        self.offsets: dict[int, int] = {}
        self.next_num = 3
        self.known: dict[bytes, int] = {}          # digest of an object's bytes -> its number
        self.page_nums: list[int] = []
        self._write(b"%PDF-1.4\n%\xac\xdc \xab\xba\n")
        self._raw_known: dict = {}                 # (object bytes, book numbers it refers to) -> number

    def _write(self, b: bytes) -> None:
        self.fh.write(b)
        self.pos += len(b)

    def _emit(self, num: int, value, stream: bytes | None = None) -> None:
        self.offsets[num] = self.pos
        body = serialize(value)
        if stream is None:
            self._write(b"%d 0 obj\n%s\nendobj\n" % (num, body))
        else:
            self._write(b"%d 0 obj\n%s\nstream\n" % (num, body) + stream + b"\nendstream\nendobj\n")

    def _new(self) -> int:
        n = self.next_num
        self.next_num += 1
        return n

    def _shared(self, value, stream: bytes | None = None) -> int:
        """The number of an object with this content: written once, found again after."""
        h = hashlib.sha1(serialize(value))
        if stream is not None:
            h.update(b"\x00stream\x00")
            h.update(stream)
        key = h.digest()
        num = self.known.get(key)
        if num is None:
            num = self.known[key] = self._new()
            self._emit(num, value, stream)
        return num

    def _copy(self, src: Source, v):
        """``v`` with every reference replaced by the number of its copy in the book."""
        if isinstance(v, Ref):
            if src.memo_owner is not self:      # the numbers live with the source, for this book
                src.memo_owner, src.memo = self, {}
            memo = src.memo
            num = memo.get(v.num)
            if num is None:
                num = memo[v.num] = self._copy_object(src, v.num)
            return Ref(num)
        if isinstance(v, dict):
            if v.get(b"/Type") in (b"/Page", b"/Pages", b"/Catalog"):
                raise BookError(f"{src.name}: a page-tree object referenced from page content")
            return {k: self._copy(src, x) for k, x in v.items()}
        if isinstance(v, list):
            return [x if isinstance(x, Raw) else self._copy(src, x) for x in v]
        return v

    def _copy_object(self, src: Source, num: int) -> int:
        """The book's number of object ``num`` of ``src`` (written the first time it is met).
        An object without a stream whose bytes and referenced objects were met before is
        found again without being parsed (the font dictionaries of every page)."""
        raw = src.raw(num)
        if raw is not None:
            kids = tuple(self._copy(src, Ref(int(n))).num for n in _REF_NUM.findall(raw))
            key = (raw, kids)
            hit = self._raw_known.get(key)
            if hit is not None:
                return hit
        value, stream = src.obj(num)
        if stream is not None:
            value = {k: (len(stream) if k == b"/Length" else x) for k, x in value.items()}
        out = self._shared(self._copy(src, value), stream)
        if raw is not None:
            self._raw_known[key] = out
        return out

    def add_page(self, src: Source, page_num: int, overlay: tuple | None = None) -> None:
        """Append page ``page_num`` of ``src``; ``overlay``: (source, page) drawn over it, or
        (source, page, (old, new)) to draw it with its string ``old`` replaced by ``new``."""
        page = src.obj(page_num)[0]
        out: dict = {b"/Type": Raw(b"/Page"), b"/Parent": Ref(self.PAGES)}
        src_res = dict(src.resolve(page.get(b"/Resources", {})))
        if overlay is not None:
            src_res[b"/XObject"] = dict(src.resolve(src_res.get(b"/XObject", {})))
        res = self._copy(src, src_res)
        contents = page.get(b"/Contents")
        contents = [self._copy(src, c) for c in (contents if isinstance(contents, list) else [contents])
                    if c is not None]
        if overlay is not None:
            res[b"/XObject"][b"/MbmOverlay"] = Ref(self._form(*overlay))
            contents = ([Ref(self._shared({b"/Length": len(_OPEN)}, _OPEN))] + contents
                        + [Ref(self._shared({b"/Length": len(_OVER)}, _OVER))])
        out[b"/Resources"] = res
        out[b"/MediaBox"] = self._copy(src, src.resolve(page[b"/MediaBox"]))
        out[b"/Contents"] = contents[0] if len(contents) == 1 else contents
        for k in (b"/Annots", b"/Group", b"/Rotate", b"/CropBox"):
            if k in page:
                out[k] = self._copy(src, page[k])
        num = self._new()
        self._emit(num, out)
        self.page_nums.append(num)

    def _form(self, osrc: Source, onum: int, swap: tuple[str, str] | None = None) -> int:
        """Page ``onum`` of ``osrc`` as a form XObject, its content stream kept as written;
        ``swap`` (old, new): the page's one string ``old`` drawn as ``new`` instead (see
        :func:`swappable`)."""
        opage = osrc.obj(onum)[0]
        cvalue, cdata = osrc.obj(_one_content(osrc, opage).num)
        form = {b"/Type": Raw(b"/XObject"), b"/Subtype": Raw(b"/Form"),
                b"/BBox": self._copy(osrc, osrc.resolve(opage[b"/MediaBox"])),
                b"/Resources": self._copy(osrc, osrc.resolve(opage.get(b"/Resources", {})))}
        if swap is not None and swap[0] != swap[1]:
            text = _decoded(osrc, cvalue, cdata).replace(_literal(swap[0]), _literal(swap[1]))
            cdata = zlib.compress(text, 6)
            form[b"/Filter"] = Raw(b"/FlateDecode")
        elif b"/Filter" in cvalue:
            form[b"/Filter"] = self._copy(osrc, cvalue[b"/Filter"])
        form[b"/Length"] = len(cdata)
        return self._shared(form, cdata)

    def end_source(self, src: Source) -> None:
        """Forget the object numbers of ``src`` (the source may stay referenced elsewhere)."""
        src.memo_owner, src.memo = None, {}

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
