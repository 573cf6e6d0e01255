#!/usr/bin/env bash
# The test command of the README (`make test` runs it).
# Starts a throwaway PostGIS server on loopback when PostgreSQL and PostGIS are installed,
# so the same suite runs on both backends; otherwise runs the GeoPackage suite and says so.
# MBM_SIG_REQUIRE_PG=1 (CI) turns a missing PostGIS into a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export MBM_SIG_DATA_DIR="${MBM_SIG_DATA_DIR:-$(cd ../shared/data 2>/dev/null && pwd || echo var/mirror)}"
export MPLBACKEND=Agg

PGSTARTED=""
cleanup() {
  if [[ -n "$PGSTARTED" ]]; then
    "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || \
      runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
  fi
}
trap cleanup EXIT

if [[ -z "${MBM_SIG_TEST_PG:-}" ]]; then
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  PGSHARE=$(ls -d /usr/share/postgresql/*/extension 2>/dev/null | sort -V | tail -n 1 || true)
  if [[ -n "$PGBIN" && -x "$PGBIN/initdb" && -n "$PGSHARE" && -f "$PGSHARE/postgis.control" ]]; then
    PGDIR=$(mktemp -d /tmp/mbm-sig-pg.XXXXXX)
    PORT=$(( 20000 + RANDOM % 20000 ))
    AS=()
    if [[ $(id -u) -eq 0 ]]; then chown postgres: "$PGDIR"; AS=(runuser -u postgres --); fi
    "${AS[@]}" "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    "${AS[@]}" "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w \
      -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c fsync=off -c full_page_writes=off" start >/dev/null
    PGSTARTED=1
    psql -q -h 127.0.0.1 -p "$PORT" -U postgres -d template1 -c "CREATE EXTENSION IF NOT EXISTS postgis" >/dev/null
    export MBM_SIG_TEST_PG="postgresql://postgres@127.0.0.1:$PORT/postgres"
    echo "test.sh: throwaway PostGIS on 127.0.0.1:$PORT"
  elif [[ "${MBM_SIG_REQUIRE_PG:-}" == "1" ]]; then
    echo "test.sh: PostgreSQL + PostGIS are required (MBM_SIG_REQUIRE_PG=1) but not installed" >&2
    exit 1
  else
    echo "test.sh: PostgreSQL/PostGIS not installed here: the PostGIS tests will be SKIPPED (GeoPackage suite only)"
  fi
fi

"$BIN/python" -m pytest -q "$@"
