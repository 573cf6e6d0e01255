"""Run one `mbm-sig` command in this (new) process and record when its work starts.

    python bench/_mbm_run.py MARKS.json -- atlas sante -o DIR -q -j 2

Used by bench_whole.py and bench_scale.py: the parent notes the wall-clock launch time; this
records (time.time) the start of the first page render (in whichever process renders it,
forked workers included: each appends to MARKS.json.pages) and the start and end of the book
assembly. Nothing of mbm_sig is imported before the command itself imports it, except the
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

    render_page, write_book = engine._render_page, engine._write_book

    def _timed_render(job):
        with open(marks_path + ".pages", "a") as fh:
            fh.write(f"{time.time()}\n")
        return render_page(job)

    def _timed_book(*a, **k):
        marks.setdefault("book_start", time.time())
        try:
            return write_book(*a, **k)
        finally:
            marks["book_end"] = time.time()

    engine._render_page, engine._write_book = _timed_render, _timed_book

from mbm_sig.cli import finish, main  # noqa: E402

rc = main(argv)
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
