#!/usr/bin/env bash
# werkbrug against the tools a municipality could pick instead (issue 7), side by side in one run
# on PostgreSQL:
#
#   1. GraphQL: werkbrug (release, privacy policy on) and PostGraphile 4.14 (no policy) on the
#      same database of PERSONS generated candidates, the same queries, the same load generator
#      (oha) and concurrency: requests/s and p99 of each, and the ratio werkbrug / PostGraphile.
#   2. Import: `werkbrug import` of the municipality's XLSX export against a pandas script
#      (read_excel with openpyxl, then COPY) at each of IMPORT_SIZES rows: wall time and peak
#      memory (max RSS from /usr/bin/time -v), and the ratios.
#
#   3. `instructions` (not part of `all`): werkbrug's instructions per request for q1 and q2
#      under valgrind's callgrind, to compare two builds on a noisy machine.
#
# Usage: bench/peers/run.sh [graphql|import|instructions|all]   (default: all)
# Settings (environment): PERSONS=100000 IMPORT_SIZES="100000 1000000" SECS=20 (per step)
#   CONC=16 (connections) ROUNDS=2 (each step, alternating servers) PG_WORKERS=2 (PostGraphile
#   cluster workers; the machine's cores) PG_BASE=postgres://postgres@127.0.0.1:5432
#   BENCH_RESEED=1 (seed again even when werkbrug_bench holds PERSONS persons)
#
# Installs into a temporary folder (removed on exit): PostGraphile from npm, pandas, openpyxl
# and psycopg from PyPI. oha is `cargo install`ed once (see bench/lib.sh). Databases used:
# werkbrug_bench (kept, reused by bench/load), werkbrug_import_rs and werkbrug_import_py
# (dropped at the end). Figures: docs/benchmarks.md, "Peers: PostGraphile and pandas".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

WHAT=${1:-all}
PERSONS=${PERSONS:-100000}
IMPORT_SIZES=${IMPORT_SIZES:-100000 1000000}
SECS=${SECS:-20}
CONC=${CONC:-16}
ROUNDS=${ROUNDS:-2}
PG_WORKERS=${PG_WORKERS:-2}
URL=$PG_BASE/werkbrug_bench
# werkbrug's own connection, on the transport PostGraphile uses: node-postgres connects without
# TLS unless told to, while sqlx (like libpq) prefers TLS when the server offers it, as these
# machines' PostgreSQL does. Over loopback TLS protects nothing and costs both werkbrug and
# PostgreSQL CPU per request, so both servers connect in plain text here.
WB_URL="$URL?sslmode=disable"
WB_PORT=18081
PGL_PORT=18082

build_werkbrug
echo "# werkbrug peers bench, $(date -u +'%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git -C "$ROOT" rev-parse --short HEAD)"
echo "# $("$WERKBRUG" --version), $(psql "$PG_BASE/postgres" -qAt -c 'SHOW server_version' | cut -d' ' -f1 | sed 's/^/PostgreSQL /'), node $(node --version), $(python3 --version)"

# The two queries for each server (QUERY[werkbrug_q1], QUERY[postgraphile_q2], ...): 50
# candidates with one skill in one district, with their profile (q1) and with their placements
# and the placements' organisations too (q2).
declare -A QUERY
define_queries() {
  local filter='skills: ["heftruck"], districts: ["Noord"]'
  local args='skill: "heftruck", district: "Noord"'
  local profile='skills strengths workTypes district hoursPerWeek availableFrom line'
  local placements='kind startDate plannedEndDate organisation { name kind }'
  local pg_placements='kind startDate plannedEndDate organisationByOrganisationId { name kind }'
  QUERY=(
    [werkbrug_q1]="{ candidates(filter: { $filter }, first: 50) { edges { node { id profile { $profile } } } } }"
    [postgraphile_q1]="{ candidatesWith($args, first: 50) { nodes { personId $profile } } }"
    [werkbrug_q2]="{ candidates(filter: { $filter }, first: 50) { edges { node { id profile { $profile } person { placements { $placements } } } } } }"
    [postgraphile_q2]="{ candidatesWith($args, first: 50) { nodes { personId $profile personByPersonId { placementsByPersonId { nodes { $pg_placements } } } } } }"
  )
}

graphql() {
  find_oha
  seed_db "$URL" "$PERSONS"
  psql "$URL" -q -v ON_ERROR_STOP=1 -f "$HERE/postgraphile.sql"

  log "npm install postgraphile@4.14 (temporary folder)"
  local npm_dir=$BENCH_TMP/postgraphile
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --silent postgraphile@4.14 >&2
  local pgl_version
  pgl_version=$(node -p "require('$npm_dir/node_modules/postgraphile/package.json').version")

  start_werkbrug "$WB_URL" "$WB_PORT"
  local wb_pid=$WERKBRUG_PID
  node "$npm_dir/node_modules/postgraphile/cli.js" -c "$URL" -s public,peers \
    -n 127.0.0.1 -p "$PGL_PORT" --disable-query-log --cluster-workers "$PG_WORKERS" \
    >"$BENCH_TMP/postgraphile.log" 2>&1 &
  local pgl_pid=$!
  BENCH_PIDS+=("$pgl_pid")
  local i
  for ((i = 0; i < 300; i++)); do
    curl -fs -o /dev/null -H 'content-type: application/json' --data '{"query":"{__typename}"}' \
      "http://127.0.0.1:$PGL_PORT/graphql" && break
    sleep 0.2
  done

  local partner caseworker
  partner=$(token "$URL" partner schoonmaak-amstelglans)
  caseworker=$(token "$URL" caseworker gemeente-amsterdam)

  define_queries
  local -A url=([werkbrug]="http://127.0.0.1:$WB_PORT/graphql" [postgraphile]="http://127.0.0.1:$PGL_PORT/graphql")
  local -A tok=([werkbrug_q1]=$partner [werkbrug_q2]=$caseworker [postgraphile_q1]="" [postgraphile_q2]="")

  local key out n
  for key in werkbrug_q1 postgraphile_q1 werkbrug_q2 postgraphile_q2; do
    gql_body "${QUERY[$key]}" >"$BENCH_TMP/$key.body"
    out=$(check_query "${url[${key%_*}]}" "${QUERY[$key]}" "${tok[$key]}")
    n=$(jq '[.. | objects | select(has("edges") or has("nodes")) ] | first | (.edges // .nodes) | length' <<<"$out")
    local places
    places=$(jq '[.. | objects | (.placements // .placementsByPersonId.nodes // empty) | length] | add // 0' <<<"$out")
    log "$key: $n candidates, $places placements in the answer"
    [[ $n == 50 ]] || { echo "$key answered $n candidates, not 50" >&2; exit 1; }
    run_oha "warm-$key" "${url[${key%_*}]}" "$BENCH_TMP/$key.body" "${tok[$key]}" 3 -c "$CONC"
  done

  echo
  echo "## GraphQL: werkbrug $("$WERKBRUG" --version | cut -d' ' -f2) (partner token for q1, caseworker for q2; policy on) vs PostGraphile $pgl_version ($PG_WORKERS workers, no policy)"
  echo "PERSONS=$PERSONS, oha -c $CONC -z ${SECS}s per step, $ROUNDS rounds alternating the servers"
  echo
  echo "| query | server | round | requests/s | p50 (ms) | p99 (ms) | ok | failed |"
  echo "|---|---|---|---|---|---|---|---|"
  local -A best_rps best_p99
  local r q server rps p50 p99 okc failed
  for ((r = 1; r <= ROUNDS; r++)); do
    for q in q1 q2; do
      for server in werkbrug postgraphile; do
        key=${server}_$q
        run_oha "$key-$r" "${url[$server]}" "$BENCH_TMP/$key.body" "${tok[$key]}" "$SECS" -c "$CONC"
        read -r rps p50 _ p99 okc failed < <(oha_summary "$BENCH_TMP/$key-$r.json")
        printf '| %s | %s | %d | %.0f | %.1f | %.1f | %d | %d |\n' "$q" "$server" "$r" "$rps" "$p50" "$p99" "$okc" "$failed"
        if [[ -z ${best_rps[$key]:-} ]] || awk "BEGIN{exit !($rps > ${best_rps[$key]})}"; then
          best_rps[$key]=$rps
          best_p99[$key]=$p99
        fi
      done
    done
  done
  echo
  echo "| query | werkbrug requests/s | PostGraphile requests/s | ratio (requests/s) | werkbrug p99 (ms) | PostGraphile p99 (ms) |"
  echo "|---|---|---|---|---|---|"
  for q in q1 q2; do
    awk -v q="$q" -v a="${best_rps[werkbrug_$q]}" -v b="${best_rps[postgraphile_$q]}" \
      -v pa="${best_p99[werkbrug_$q]}" -v pb="${best_p99[postgraphile_$q]}" \
      'BEGIN { printf "| %s | %.0f | %.0f | %.2f× | %.1f | %.1f |\n", q, a, b, a / b, pa, pb }'
  done
  echo "(best round of each; peak memory: werkbrug $(hwm_mib "$wb_pid") MiB)"
  stop_pid "$wb_pid"
  stop_pid "$pgl_pid"
}

# Seconds of wall time and max RSS (MiB) of a command, from /usr/bin/time -v.
timed() {
  local report=$1
  shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$report" "$@" >"$report.out" 2>&1 || {
    cat "$report.out" "$report" >&2
    exit 1
  }
  end=$(date +%s.%N)
  awk -v s="$start" -v e="$end" '/Maximum resident set size/ { rss = $NF }
    END { printf "%.1f %.0f\n", e - s, rss / 1024 }' "$report"
}

import() {
  log "python venv with pandas, openpyxl, psycopg (temporary folder)"
  python3 -m venv "$BENCH_TMP/venv"
  "$BENCH_TMP/venv/bin/pip" install -q --disable-pip-version-check pandas openpyxl 'psycopg[binary]' >&2
  local versions
  versions=$("$BENCH_TMP/venv/bin/python" -c 'import pandas, openpyxl, psycopg; print(f"pandas {pandas.__version__}, openpyxl {openpyxl.__version__}, psycopg {psycopg.__version__}")')
  echo
  echo "## Import: werkbrug import vs pandas read_excel + COPY ($versions)"
  echo
  echo "| rows | tool | wall (s) | peak memory (MiB) | rows/s |"
  echo "|---|---|---|---|---|"
  local n dir file rs py wall_rs rss_rs wall_py rss_py ratios=()
  for n in $IMPORT_SIZES; do
    dir=$BENCH_TMP/xlsx-$n
    log "generating the $n-row XLSX export"
    "$WERKBRUG" seed --export-only --persons "$n" --dir "$dir" >&2
    file=$dir/gemeente-deelnemers.xlsx
    cat >"$dir/werkbrug.toml" <<EOF
[[source]]
name = "gemeente-deelnemers"
kind = "municipality"
organisation = "Gemeente Amsterdam"
format = "xlsx"
location = "$file"
EOF
    fresh_pg_db werkbrug_import_rs
    fresh_pg_db werkbrug_import_py
    # Migrations first, so that the import's time is the import's.
    DATABASE_URL=$PG_BASE/werkbrug_import_rs "$WERKBRUG" migrate >/dev/null
    log "werkbrug import, $n rows"
    rs=$(DATABASE_URL=$PG_BASE/werkbrug_import_rs timed "$dir/time-rs" \
      "$WERKBRUG" --config "$dir/werkbrug.toml" import gemeente-deelnemers)
    read -r wall_rs rss_rs <<<"$rs"
    log "pandas, $n rows"
    py=$(timed "$dir/time-py" "$BENCH_TMP/venv/bin/python" "$HERE/pandas_import.py" "$file" \
      "$PG_BASE/werkbrug_import_py")
    read -r wall_py rss_py <<<"$py"
    printf '| %d | werkbrug import | %.1f | %d | %.0f |\n' "$n" "$wall_rs" "$rss_rs" "$(bc -l <<<"$n / $wall_rs")"
    printf '| %d | pandas + COPY | %.1f | %d | %.0f |\n' "$n" "$wall_py" "$rss_py" "$(bc -l <<<"$n / $wall_py")"
    log "pandas: $(tail -1 "$dir/time-py.out")"
    ratios+=("$(awk -v n="$n" -v a="$wall_rs" -v b="$wall_py" -v ra="$rss_rs" -v rb="$rss_py" \
      'BEGIN { printf "| %d | %.2f× | %.2f× |", n, b / a, ra / rb }')")
    rm -rf "$dir"
  done
  echo
  echo "| rows | speed: pandas time / werkbrug time | memory: werkbrug peak / pandas peak |"
  echo "|---|---|---|"
  printf '%s\n' "${ratios[@]}"
  psql_admin -c "DROP DATABASE IF EXISTS werkbrug_import_rs WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS werkbrug_import_py WITH (FORCE)"
}

# werkbrug's own instructions per request for q1 and q2, under valgrind's callgrind: the same
# figure for the same binary and database on a busy machine as on a quiet one, so two builds can
# be compared where requests/s are too noisy to tell 10% apart. INSTR_REQUESTS requests (default
# 200) are counted after 20 of warm-up; the database's own work is not included.
instructions() {
  command -v valgrind >/dev/null && command -v callgrind_control >/dev/null || {
    echo "valgrind is needed (Debian: apt-get install valgrind)" >&2
    exit 1
  }
  local n=${INSTR_REQUESTS:-200} port=18083
  seed_db "$URL" "$PERSONS"
  define_queries
  local -A tok
  tok[q1]=$(token "$URL" partner schoonmaak-amstelglans)
  tok[q2]=$(token "$URL" caseworker gemeente-amsterdam)
  local out=$BENCH_TMP/callgrind
  log "werkbrug under callgrind (slow to start)"
  DATABASE_URL=$WB_URL WERKBRUG_SERVER__MAX_PAGE_SIZE=100 valgrind --tool=callgrind \
    --callgrind-out-file="$out.%p" "$WERKBRUG" serve --listen "127.0.0.1:$port" \
    >"$BENCH_TMP/callgrind.log" 2>&1 &
  local pid=$!
  BENCH_PIDS+=("$pid")
  wait_http "http://127.0.0.1:$port/readyz" 300
  echo
  echo "## werkbrug $("$WERKBRUG" --version | cut -d' ' -f2) at $(git -C "$ROOT" rev-parse --short HEAD): instructions per request (callgrind, $n requests after 20)"
  echo
  echo "| query | instructions per request |"
  echo "|---|---|"
  local q i dump
  # Sends query $q $1 times, one after another.
  send_n() {
    for ((i = 0; i < $1; i++)); do
      curl -fsS -o /dev/null -H "authorization: Bearer ${tok[$q]}" \
        -H 'content-type: application/json' --data-binary "@$BENCH_TMP/$q.body" \
        "http://127.0.0.1:$port/graphql"
    done
  }
  for q in q1 q2; do
    gql_body "${QUERY[werkbrug_$q]}" >"$BENCH_TMP/$q.body"
    check_query "http://127.0.0.1:$port/graphql" "${QUERY[werkbrug_$q]}" "${tok[$q]}" >/dev/null
    send_n 20
    callgrind_control -z "$pid" >/dev/null 2>&1
    send_n "$n"
    callgrind_control -d "$pid" >/dev/null 2>&1
    dump=$(ls -t "$out.$pid".* | head -1)
    printf '| %s | %d |\n' "$q" "$(($(awk '/^summary:/ { print $2 }' "$dump") / n))"
  done
  stop_pid "$pid"
}

case $WHAT in
  graphql) graphql ;;
  import) import ;;
  instructions) instructions ;;
  all) graphql && import ;;
  *) echo "usage: $0 [graphql|import|instructions|all]" >&2; exit 2 ;;
esac
