"""Run one `mbm-sig` command in this (new) process and record when its work starts.

    python bench/_mbm_run.py MARKS.json -- atlas sante -o DIR -q -j 2

Used by bench_whole.py and bench_scale.py: the parent notes the wall-clock launch time; this
records (time.time) the start of the first page work (a page render in whichever process
renders it, forked workers included: each appends to MARKS.json.pages; or the warm-up of a
parallel run, which loads before forking what the pages use) and the start and end of the book
assembly (the book's own pages are written before it: by a parallel run while its workers draw
the last sheets). Nothing of mbm_sig is imported before the command itself imports it, except the
atlas engine, which `atlas` imports anyway.
"""
import os
import sys
import time

marks_path = sys.argv[1]
argv = sys.argv[sys.argv.index("--") + 1:]
marks = {"main_start": time.time()}

if argv and argv[0] == "atlas":
    from mbm_sig.atlas import engine

    render_page, write_book, warm = engine._render_page, engine._write_book, engine._warm

    def _page_work():
        with open(marks_path + ".pages", "a") as fh:
            fh.write(f"{time.time()}\n")

    def _timed_render(job):
        _page_work()
        return render_page(job)

    def _timed_warm(*a, **k):           # a parallel run loads what the pages use before forking
        _page_work()
        return warm(*a, **k)

    def _timed_book(*a, **k):
        marks.setdefault("book_start", time.time())
        try:
            return write_book(*a, **k)
        finally:
            marks["book_end"] = time.time()

    engine._render_page, engine._write_book, engine._warm = _timed_render, _timed_book, _timed_warm

from mbm_sig.cli import finish, main  # noqa: E402

rc = main(argv, command=True)     # as the mbm-sig command runs it (mbm_sig.cli.console)
marks["end"] = time.time()
try:
    with open(marks_path + ".pages") as fh:
        starts = [float(x) for x in fh.read().split()]
    marks["first_page"], marks["last_page_start"] = min(starts), max(starts)
    os.unlink(marks_path + ".pages")
except FileNotFoundError:
    pass
import json  # noqa: E402

with open(marks_path, "w") as fh:
    json.dump(marks, fh)
finish(rc)          # as the mbm-sig command ends (mbm_sig.cli.console)
