#!/usr/bin/env bash
# Runs every benchmark of docs/BENCHMARKS.md in one go, printing the figures.
# docs/bench/deployed.sh (run from here) installs its Python receivers' dependencies into
# ${CARGO_TARGET_DIR:-target}/bench-venv and needs wrk and sqlite3.
# The wechatpy comparison runs when gunicorn and wechatpy are installed
# (pip install wechatpy gunicorn); PostgreSQL figures use FAPIAO_BENCH_DATABASE_URL or
# postgres://postgres@127.0.0.1:5432/test.
set -euo pipefail
cd "$(dirname "$0")/../.."
# `memory` runs the `fapiao` binary, so both packages are built.
cargo build --release -p fapiao -p fapiao-bench
target="${CARGO_TARGET_DIR:-target}"
bench="$target/release/fapiao-bench"
export RUST_BACKTRACE=0

"$bench" decode
"$bench" tax-categories
"$bench" pdf --lines 3 --invoices 500
"$bench" pdf --lines 30 --invoices 200
"$bench" ingest --db sqlite
"$bench" ingest --db postgres
if command -v gunicorn >/dev/null && python3 -c 'import wechatpy' 2>/dev/null; then
  for store in 1 0; do
    rm -f /tmp/wechatpy-inbox.db*
    STORE=$store DB=/tmp/wechatpy-inbox.db gunicorn -w 2 -b 127.0.0.1:9100 \
      --chdir docs/bench wechatpy_receiver:app >/dev/null 2>&1 &
    pid=$!
    sleep 2
    echo "wechatpy receiver, STORE=$store:"
    "$bench" ingest --pushes 30000 --target http://127.0.0.1:9100/weixin/callback
    [ "$store" = 1 ] && python3 -c "import sqlite3; print('wechatpy: inbox holds', sqlite3.connect('/tmp/wechatpy-inbox.db').execute('select count(*) from inbox').fetchone()[0], 'events for 30000 distinct pushes')"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
fi
# As deployed: `fapiao serve` in its own process (runner on) and `wrk` in another, beside the
# wechatpy receivers (uvicorn and gunicorn) in the same run; one table, ratios per connection count.
docs/bench/deployed.sh
"$bench" pipeline --db sqlite
"$bench" pipeline --db postgres
"$bench" memory
