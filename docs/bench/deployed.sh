#!/usr/bin/env bash
# Push ingestion as deployed (docs/BENCHMARKS.md "As deployed"): `fapiao serve` (release, its
# defaults: sandbox profile, runner on, SQLite file; or PostgreSQL) in its own process, `wrk`
# in another posting distinct sealed safe-mode pushes (docs/bench/pushes.lua), beside the
# wechatpy receivers in the same run: starlette/uvicorn (2 workers, uvloop, httptools) and
# gunicorn (2 sync workers), each with SQLite in WAL mode. Prints one table; called by
# run-all.sh, or on its own after `cargo build --release -p fapiao -p fapiao-bench`.
#
# Environment: CONNECTIONS (default "1 16 64"), DURATION (seconds per run, default 8),
# DATABASES (default "sqlite sqlite-normal postgres"; "sqlite-normal" runs fapiao's SQLite file with
# `database.sqlite_synchronous = "normal"`, the Python receivers' durability), PUSHES (pushes sealed per point, default 300000),
# FAPIAO_BIN and BENCH_BIN (other builds of the two binaries, e.g. to compare before and after),
# FAPIAO_BENCH_PG (default postgres://postgres@127.0.0.1:5432), PERF_AT (a connection count:
# `perf record` the SQLite `fapiao serve` during that run, report in $work/perf-*.txt).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
fapiao="${FAPIAO_BIN:-$target/release/fapiao}"
bench="${BENCH_BIN:-$target/release/fapiao-bench}"
connections="${CONNECTIONS:-1 16 64}"
duration="${DURATION:-8}"
databases="${DATABASES:-sqlite sqlite-normal postgres}"
count="${PUSHES:-300000}"
pg="${FAPIAO_BENCH_PG:-postgres://postgres@127.0.0.1:5432}"
port=18080

# wrk from Debian's packages when the machine lacks it.
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk >/dev/null
  fi
fi

# The Python receivers' dependencies, in a venv of their own (pip from PyPI).
venv="$target/bench-venv"
if ! "$venv/bin/python" -c 'import wechatpy, starlette, uvicorn, uvloop, httptools, gunicorn' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'wechatpy==1.8.18' cryptography starlette 'uvicorn[standard]' gunicorn
fi
versions=$("$venv/bin/python" -c 'import wechatpy, starlette, uvicorn, cryptography, sys; print("Python %s, wechatpy %s, cryptography %s, starlette %s, uvicorn %s" % (sys.version.split()[0], wechatpy.__version__, cryptography.__version__, starlette.__version__, uvicorn.__version__))')

work=$(mktemp -d /tmp/fapiao-deployed.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

load() { cut -d' ' -f1 /proc/loadavg; }

wait_http() { # url: waits up to 30 s for any HTTP answer
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "no answer from $1" >&2
  return 1
}

# wrk against $1 (base URL) with $2 connections; prints the RESULT line's fields.
drive() {
  local threads=2
  [ "$2" -lt 2 ] && threads=1
  THREADS=$threads PUSHES="$work/pushes.txt" wrk -t"$threads" -c"$2" -d"${duration}s" \
    --timeout 10s -s "$root/docs/bench/pushes.lua" "$1" | grep '^RESULT' | sed 's/^RESULT //'
}

field() { # name, RESULT fields
  tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

# fapiao serve on its defaults in a fresh directory; $1 = sqlite|postgres, $2 = connections.
run_fapiao() {
  local dir="$work/fapiao-$1-$2" db_url=""
  mkdir -p "$dir"
  if [ "$1" = postgres ]; then
    psql "$pg/postgres" -qc 'DROP DATABASE IF EXISTS fapiao_bench' >/dev/null 2>&1
    psql "$pg/postgres" -qc 'CREATE DATABASE fapiao_bench' >/dev/null
    db_url="$pg/fapiao_bench"
  fi
  (
    cd "$dir"
    export FAPIAO__SERVER__LISTEN="127.0.0.1:$port"
    export FAPIAO__SERVER__PUBLIC_BASE_URL="http://127.0.0.1:$port"
    export FAPIAO__SANDBOX__LISTEN="127.0.0.1:$((port + 1))"
    [ -n "$db_url" ] && export FAPIAO__DATABASE__URL="$db_url"
    # sqlite-normal: the receivers' durability (a commit is synced at checkpoints only).
    [ "$1" = sqlite-normal ] && export FAPIAO__DATABASE__SQLITE_SYNCHRONOUS=normal
    exec "$fapiao" serve >"$dir/fapiao.log" 2>&1
  ) &
  local pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$port/readyz"
  sleep 1
  local perf_pid=""
  if [ "${PERF_AT:-}" = "$2" ] && [ "$1" = sqlite ]; then
    perf record -F 499 -p "$pid" -o "$work/perf-$1-$2.data" >/dev/null 2>&1 &
    perf_pid=$!
  fi
  result=$(drive "http://127.0.0.1:$port/weixin/callback" "$2")
  if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true
    { perf report -i "$work/perf-$1-$2.data" --sort dso --stdio 2>/dev/null | grep -v '^#' | head -15
      perf report -i "$work/perf-$1-$2.data" --sort sym --stdio 2>/dev/null | grep -v '^#' | head -40
    } >"$work/perf-$1-$2.txt" || true
  fi
  # The service is stopped before counting, so every push it acknowledged is in the count.
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  if [ "$1" = postgres ]; then
    rows=$(psql "$pg/fapiao_bench" -tAc 'SELECT count(*) FROM event_inbox')
    psql "$pg/postgres" -qc 'DROP DATABASE IF EXISTS fapiao_bench' >/dev/null 2>&1 || true
  else
    rows=$(sqlite3 "$dir/data/fapiao.db" 'SELECT count(*) FROM event_inbox')
  fi
  processed=""
  if [ "$1" != postgres ]; then
    processed=$(sqlite3 "$dir/data/fapiao.db" 'SELECT count(*) FROM event_inbox WHERE attempts > 0 OR processed_at IS NOT NULL')
  fi
}

# A Python receiver; $1 = asgi|gunicorn, $2 = connections.
run_peer() {
  local db="$work/peer-$1-$2.db"
  rm -f "$db"*
  if [ "$1" = asgi ]; then
    DB="$db" "$venv/bin/uvicorn" --app-dir "$root/docs/bench" wechatpy_asgi:app \
      --host 127.0.0.1 --port $((port + 20)) --workers 2 --loop uvloop --http httptools \
      --no-access-log --log-level warning >"$work/peer-$1.log" 2>&1 &
  else
    DB="$db" "$venv/bin/gunicorn" -w 2 -b "127.0.0.1:$((port + 20))" \
      --chdir "$root/docs/bench" wechatpy_receiver:app >"$work/peer-$1.log" 2>&1 &
  fi
  local pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$((port + 20))/weixin/callback"
  sleep 1
  result=$(drive "http://127.0.0.1:$((port + 20))/weixin/callback" "$2")
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  rows=$(sqlite3 "$db" 'SELECT count(*) FROM inbox')
}

# "stored" check: every acknowledged distinct push is a row, at most one per distinct push
# (a request wrk cut off at the end may or may not have been stored).
stored() { # rows, distinct, connections, non2xx
  if [ "$4" = 0 ] && [ "$1" -le "$2" ] && [ "$1" -ge $(($2 - $3)) ]; then
    echo "yes ($1/$2)"
  else
    echo "NO ($1 rows, $2 distinct, $4 non-2xx)"
  fi
}

echo "As deployed: $(nproc) cores; $versions; wrk $(wrk -v 2>&1 | head -1 | cut -d' ' -f2); ${duration} s a run"
echo
echo "| load | database | conns | fapiao pushes/s | p50 | p99 | stored | uvicorn peer pushes/s | p99 | stored | ratio | gunicorn peer pushes/s | p99 | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for database in $databases; do
  for c in $connections; do
    at=$(load)
    "$bench" pushes --count "$count" --out "$work/pushes.txt" >/dev/null
    run_fapiao "$database" "$c"
    f=$result; f_rows=$rows
    run_peer asgi "$c"
    a=$result; a_rows=$rows
    g_cols="— | — | —"
    if [ "$database" = sqlite ]; then
      run_peer gunicorn "$c"
      g=$result
      g_cols="$(field rps "$g") | $(field p99_ms "$g") ms | $(awk -v x="$(field rps "$f")" -v y="$(field rps "$g")" 'BEGIN{printf "%.2f×", x/y}')"
    fi
    echo "| $at | $database | $c | $(field rps "$f") | $(field p50_ms "$f") ms | $(field p99_ms "$f") ms | $(stored "$f_rows" "$(field distinct "$f")" "$c" "$(field non2xx "$f")") | $(field rps "$a") | $(field p99_ms "$a") ms | $(stored "$a_rows" "$(field distinct "$a")" "$c" "$(field non2xx "$a")") | $(awk -v x="$(field rps "$f")" -v y="$(field rps "$a")" 'BEGIN{printf "**%.2f×**", x/y}') | $g_cols |"
    [ -n "$processed" ] && echo "  (runner: $processed of $f_rows pushes handled by the runner when fapiao stopped)" >&2
  done
done
[ -n "${PERF_AT:-}" ] && echo "perf reports: $work/perf-*.txt" || rm -rf "$work"
