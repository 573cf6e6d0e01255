#!/usr/bin/env bash
# The test command of the README (`make test` runs it).
# Starts a throwaway PostGIS server on loopback when PostgreSQL and PostGIS are installed,
# so the same suite runs on both backends; otherwise runs the GeoPackage suite and says so.
# MBM_SIG_REQUIRE_PG=1 (CI) turns a missing PostGIS into a failure.
# Extra arguments go to pytest (e.g. scripts/test.sh tests/test_postgis.py -x). Without a test
# file named, the map tests run a second time with the PDF text fast path off.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export MBM_SIG_DATA_DIR="${MBM_SIG_DATA_DIR:-$(cd ../shared/data 2>/dev/null && pwd || echo var/mirror)}"
export MPLBACKEND=Agg
# matplotlib's own cache folder for the tests, rebuilt when fonts were installed after it was
# made (a stale font cache misses fonts: DejaVu/Liberation installed after the first run)
export MPLCONFIGDIR="${MPLCONFIGDIR:-$PWD/var/cache/matplotlib}"
mkdir -p "$MPLCONFIGDIR"
if ls "$MPLCONFIGDIR"/fontlist-*.json >/dev/null 2>&1; then
  newer=$(find /usr/share/fonts /usr/local/share/fonts "${HOME:-/nonexistent}/.fonts" "${HOME:-/nonexistent}/.local/share/fonts" \
            -newer "$(ls "$MPLCONFIGDIR"/fontlist-*.json | head -n 1)" 2>/dev/null | head -n 1 || true)
  if [[ -n "$newer" ]]; then rm -f "$MPLCONFIGDIR"/fontlist-*.json; fi
fi

PGDIR=""
PGSTARTED=""
AS=()
cleanup() {
  if [[ -n "$PGSTARTED" ]]; then
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [[ -n "$PGDIR" ]]; then rm -rf "$PGDIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {   # a free TCP port on loopback
  "$BIN/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PG_SKIPPED=""
if [[ -z "${MBM_SIG_TEST_PG:-}" ]]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  PGSHARE=$(ls -d /usr/share/postgresql/*/extension 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$PGBIN" && -x "$PGBIN/initdb" && -n "$PGSHARE" && -f "$PGSHARE/postgis.control" ]]; then
    PGDIR=$(mktemp -d /tmp/mbm-sig-pg.XXXXXX)
    # initdb refuses to run as root: run the server as the postgres user
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PGDIR"; AS=(runuser -u postgres --); fi
    "${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 \
      || { cat "$PGDIR/initdb.log" >&2; echo "test.sh: initdb failed" >&2; exit 1; }
    started=""
    for _ in 1 2 3; do       # retry if another process takes the port in between
      PORT=$(free_port)
      if "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 60 \
          -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
          start >/dev/null 2>&1; then
        started=1; break
      fi
    done
    if [[ -z "$started" ]]; then
      cat "$PGDIR/log" >&2 || true
      echo "test.sh: could not start the throwaway PostgreSQL server" >&2
      exit 1
    fi
    PGSTARTED=1
    "$PGBIN/psql" -q -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres -d template1 \
      -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    export MBM_SIG_TEST_PG="postgresql://postgres@127.0.0.1:$PORT/postgres"
    echo "test.sh: throwaway PostGIS on 127.0.0.1:$PORT ($PGDIR, removed at exit)"
  elif [[ "${MBM_SIG_REQUIRE_PG:-}" == "1" ]]; then
    echo "test.sh: PostgreSQL + PostGIS are required (MBM_SIG_REQUIRE_PG=1) but not installed" >&2
    exit 1
  else
    PG_SKIPPED=1
    echo "test.sh: PostgreSQL/PostGIS not installed here: the PostGIS tests will be SKIPPED (GeoPackage suite only)"
  fi
fi

status=0
# scripts/skip_summary.py: one closing line with the number of skipped tests and why
PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" "$BIN/python" -m pytest -p skip_summary -q --durations=12 "$@" || status=$?

# The whole suite (no test file named): a second, short pass over the map tests with the PDF
# text fast path off (MBM_SIG_PDF_FASTPATH=0), proving matplotlib's own text path still makes
# every sheet (mbm_sig/maps/output/pdftext.py).
selected=""
for arg in "$@"; do
  case "$arg" in tests/*|*.py|*::*) selected=1 ;; esac
done
if [[ -z "$selected" ]]; then
  echo "test.sh: map tests again with the PDF text fast path off (MBM_SIG_PDF_FASTPATH=0)"
  MBM_SIG_PDF_FASTPATH=0 PYTHONPATH="$PWD/scripts${PYTHONPATH:+:$PYTHONPATH}" "$BIN/python" -m pytest \
    -p skip_summary -q -p no:cacheprovider "$@" \
    tests/test_maps.py tests/test_maps_output.py tests/test_maps_types.py || status=$?
fi
if [[ -n "$PG_SKIPPED" ]]; then
  echo "test.sh: NOTE: the PostGIS tests were SKIPPED (no PostgreSQL/PostGIS on this machine);" \
       "install postgresql-15 and postgresql-15-postgis-3 to run them"
fi
exit $status
