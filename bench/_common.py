"""Shared pieces of the issue-13 benchmarks: run mbm-sig or the PyQGIS script in a new process
(wall time, peak RSS from /usr/bin/time -v, marks), interleave A/B pairs, report medians."""
from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench"
QGIS_PY = "/usr/bin/python3"
TIME = "/usr/bin/time"


def compile_package() -> None:
    """The package's bytecode written once (``__pycache__``), as a wheel install has it: an
    editable install run under PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module
    of mbm_sig again at each command's start (about 0.1 s of CPU), which the QGIS side, whose
    system modules are compiled, does not pay."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mbm_sig")], check=True,
                   stdout=subprocess.DEVNULL)


def have_qgis() -> bool:
    return shutil.which(QGIS_PY) is not None and subprocess.run(
        [QGIS_PY, "-c", "import qgis.core"], capture_output=True).returncode == 0


def _timed(cmd, env, cwd=ROOT):
    """(start, wall seconds, peak RSS in MB) of a command in a new process; raises on failure."""
    return _timed_cpu(cmd, env, cwd)[:3]


def _timed_cpu(cmd, env, cwd=ROOT):
    """(start, wall seconds, peak RSS in MB, CPU seconds: user + system of the command and
    the children it waited for) of a command in a new process; raises on failure. CPU
    seconds are what other work on a shared machine changes least."""
    use_time = Path(TIME).exists()
    full = ([TIME, "-v"] if use_time else []) + list(cmd)
    t0 = time.time()
    p = subprocess.run(full, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wall = time.time() - t0
    if p.returncode:
        said = "\n".join(line for line in p.stderr.splitlines() if not line.startswith("\t"))
        raise RuntimeError(f"{cmd[-1]!s}... failed ({p.returncode}): " + said[-1500:])
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
    cpu = sum(float(x) for x in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", p.stderr))
    return t0, wall, (int(m.group(1)) / 1024 if m else float("nan")), (cpu if use_time else float("nan"))


def run_mbm(args, env=None, tmp=None):
    """`mbm-sig ARGS` in a new process (bench/_mbm_run.py): wall time, peak MB and marks
    (seconds from launch to the first page render, the book assembly's start and end)."""
    tmp = Path(tmp or tempfile.mkdtemp(prefix="mbm-bench-"))
    marks = tmp / f"marks-{time.time_ns()}.json"
    env = dict(os.environ if env is None else env)
    t0, wall, peak, cpu = _timed_cpu([sys.executable, str(HERE / "_mbm_run.py"), str(marks), "--", *args], env)
    m = json.loads(marks.read_text())
    marks.unlink()
    rel = {k: v - t0 for k, v in m.items() if not k.startswith("cpu_")}
    return dict(wall=wall, peak_mb=peak, cpu=cpu, **rel, **{k: v for k, v in m.items() if k.startswith("cpu_")})


def phase_cpu_path(run: dict) -> float:
    """CPU seconds of the rendering phase along its longest process (first page work to the book
    assembly): this process's, or its warm-up before the fork plus the busiest forked worker's.
    What the phase takes on a machine whose cores are free; on a loaded one the wall time
    depends on what the other work leaves."""
    own = run["cpu_book_start"] - run["cpu_first_page"]
    if not run.get("cpu_workers"):
        return own
    warm = run.get("cpu_warm_end", run["cpu_first_page"]) - run["cpu_first_page"]
    return max(own, warm + max(run["cpu_workers"]))


def whole_cpu_path(run: dict) -> float:
    """CPU seconds of the whole command along its longest process: this process's before and
    after the rendering phase, and the phase's :func:`phase_cpu_path`."""
    return run["cpu_end"] - (run["cpu_book_start"] - run["cpu_first_page"]) + phase_cpu_path(run)


def run_qgis(spec: dict, tmp):
    """The PyQGIS script (bench/qgis_whole.py) on SPEC in a new process: wall, peak MB and
    its own timings (init, set-up, export)."""
    tmp = Path(tmp)
    spec = dict(spec, json=str(tmp / f"qgis-{time.time_ns()}.json"))
    sp = tmp / "qgis-spec.json"
    sp.write_text(json.dumps(spec))
    xdg = tmp / "xdg"
    xdg.mkdir(exist_ok=True)
    xdg.chmod(0o700)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_RUNTIME_DIR=str(xdg))
    _, wall, peak, cpu = _timed_cpu([QGIS_PY, str(HERE / "qgis_whole.py"), str(sp)], env)
    res = json.loads(Path(spec["json"]).read_text())
    return dict(wall=wall, peak_mb=peak, cpu=cpu, **res)


def interleave(a, b, n):
    """n pairs A B A B …; returns the lists of A and B results."""
    ra, rb = [], []
    for i in range(n):
        ra.append(a())
        rb.append(b())
        print(f"  pair {i + 1}/{n}: {ra[-1]['wall']:.2f} s / {rb[-1]['wall']:.2f} s", flush=True)
    return ra, rb


def med(rows, key):
    return statistics.median(r[key] for r in rows)


def med_ratio(ra, rb, key="wall"):
    """Median of the per-pair ratios B / A (> 1: A is faster)."""
    return statistics.median(y[key] / x[key] for x, y in zip(ra, rb, strict=True))


def sql_where(where: dict | None) -> str | None:
    """A recipe's ``where`` ({field: value or [values]}) as an OGR SQL subset string."""
    if not where:
        return None

    def lit(v):
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, (int, float)):
            return repr(v)
        return "'" + str(v).replace("'", "''") + "'"
    parts = []
    for f, v in where.items():
        if isinstance(v, (list, tuple)):
            parts.append(f'"{f}" IN ({", ".join(lit(x) for x in v)})')
        else:
            parts.append(f'"{f}" = {lit(v)}')
    return " AND ".join(parts)
