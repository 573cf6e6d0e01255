"""Run one `mbm-sig` command in this (new) process and record when its work starts.

    python bench/_mbm_run.py MARKS.json -- atlas sante -o DIR -q -j 2

Used by bench_whole.py and bench_scale.py: the parent notes the wall-clock launch time; this
records (time.time) the start of the first page work (a page render in whichever process
renders it, forked workers included: each appends to MARKS.json.pages; or the warm-up of a
parallel run, which loads before forking what the pages use) and the start and end of the book
assembly (the book's own pages are written before it: by a parallel run while its workers draw
the first sheets); with CPU seconds (time.process_time) of this process at those marks and of
each forked worker over its life (MARKS.json.workers). Nothing of mbm_sig is imported before the
command itself imports it, except the atlas engine, which `atlas` imports anyway: imported here as
the command imports it (the cyclic collector paused, then what it made frozen), else the
benchmark would count collections (0.2-0.3 s of CPU) that `mbm-sig atlas` does not make.
"""
import os
import sys
import time

marks_path = sys.argv[1]
argv = sys.argv[sys.argv.index("--") + 1:]
marks = {"main_start": time.time()}

if argv and argv[0] == "atlas":
    from mbm_sig.cli import _importing

    with _importing(True):          # as the command imports it (mbm_sig.cli.passthrough): the
        from mbm_sig.atlas import engine  # collector paused, what the imports made frozen

    render_page, write_book, warm, worker_loop = (engine._render_page, engine._write_book, engine._warm,
                                                  engine._worker_loop)
    parent = os.getpid()

    def _page_work():
        with open(marks_path + ".pages", "a") as fh:
            fh.write(f"{time.time()}\n")
        if os.getpid() == parent:
            marks.setdefault("cpu_first_page", time.process_time())

    def _timed_render(job):
        _page_work()
        return render_page(job)

    def _timed_warm(*a, **k):           # a parallel run loads what the pages use before forking
        _page_work()
        try:
            return warm(*a, **k)
        finally:
            marks["cpu_warm_end"] = time.process_time()

    def _timed_worker(*a, **k):         # a forked worker's CPU seconds (its own, from the fork)
        try:
            return worker_loop(*a, **k)
        finally:
            with open(marks_path + ".workers", "a") as fh:
                fh.write(f"{time.process_time()}\n")

    def _timed_book(*a, **k):
        marks.setdefault("book_start", time.time())
        marks.setdefault("cpu_book_start", time.process_time())
        try:
            return write_book(*a, **k)
        finally:
            marks["book_end"] = time.time()

    engine._render_page, engine._write_book, engine._warm = _timed_render, _timed_book, _timed_warm
    engine._worker_loop = _timed_worker

from mbm_sig.cli import finish, main  # noqa: E402

rc = main(argv, command=True)     # as the mbm-sig command runs it (mbm_sig.cli.console)
marks["end"] = time.time()
marks["cpu_end"] = time.process_time()
try:
    with open(marks_path + ".pages") as fh:
        starts = [float(x) for x in fh.read().split()]
    marks["first_page"], marks["last_page_start"] = min(starts), max(starts)
    os.unlink(marks_path + ".pages")
except FileNotFoundError:
    pass
try:
    with open(marks_path + ".workers") as fh:
        marks["cpu_workers"] = [float(x) for x in fh.read().split()]
    os.unlink(marks_path + ".workers")
except FileNotFoundError:
    marks["cpu_workers"] = []
import json  # noqa: E402

with open(marks_path, "w") as fh:
    json.dump(marks, fh)
finish(rc)          # as the mbm-sig command ends (mbm_sig.cli.console)
