#!/usr/bin/env bash
# Load and soak test of `werkbrug serve` (release) on 127.0.0.1 with PERSONS generated
# candidates (issue 6, item 2): a mix of partner, caseworker and dashboard queries, each class
# sent by its own oha process at a constant rate (open loop, --latency-correction), so the mix
# keeps its proportions whatever the latency.
#
#   bench/load/run.sh            # mix: SQLite and PostgreSQL, RATE req/s for SECS, then the
#                                # same mix unthrottled (the ceiling), each with p50/p95/p99,
#                                # errors and the server's peak memory
#   bench/load/run.sh soak       # PostgreSQL, RATE req/s for SOAK_SECS (600): RSS every 10 s,
#                                # growth after the warm-up (the first WARMUP_SECS, 60)
#
# Settings (environment): PERSONS=100000 RATE=500 SECS=30 CONC=16 (connections per class in the
#   unthrottled step) DATABASES="sqlite postgres" SOAK_SECS=600 WARMUP_SECS=60
#   PG_BASE=postgres://postgres@127.0.0.1:5432 BENCH_RESEED=1 (seed again)
#
# The mix, in shares of RATE: partner candidates search 40%, partner matches for a vacancy 20%,
# caseworker caseload page with names (audited) 20%, dashboard stats 20%. Databases:
# werkbrug_bench on PostgreSQL (shared with bench/peers), target/bench/load-PERSONS.db for SQLite.
# Errors: non-2xx answers, connection errors and timeouts (oha), answers whose body carries
# GraphQL errors (checked before each step) and ERROR lines the server logged in the step.
# Figures: docs/benchmarks.md, "Load and soak".
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
source "$HERE/../lib.sh"

MODE=${1:-mix}
PERSONS=${PERSONS:-100000}
RATE=${RATE:-500}
SECS=${SECS:-30}
CONC=${CONC:-16}
DATABASES=${DATABASES:-sqlite postgres}
SOAK_SECS=${SOAK_SECS:-600}
WARMUP_SECS=${WARMUP_SECS:-60}
PORT=18090
CLASSES=(partner_search partner_matches caseworker dashboard)
declare -A SHARE=([partner_search]=40 [partner_matches]=20 [caseworker]=20 [dashboard]=20)

build_werkbrug
find_oha
echo "# werkbrug load test, $(date -u +'%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git -C "$ROOT" rev-parse --short HEAD), $("$WERKBRUG" --version), $("$OHA" --version)"

url_of() {
  case $1 in
    postgres) echo "$PG_BASE/werkbrug_bench" ;;
    sqlite)
      mkdir -p "$ROOT/target/bench"
      echo "sqlite://$ROOT/target/bench/load-$PERSONS.db"
      ;;
  esac
}

declare -A TOKEN
# Seeds (or reuses) the database, starts the server, writes one request body per class.
prepare() {
  local db=$1 url
  url=$(url_of "$db")
  seed_db "$url" "$PERSONS"
  start_werkbrug "$url" "$PORT"
  TOKEN[partner_search]=$(token "$url" partner schoonmaak-amstelglans)
  TOKEN[partner_matches]=${TOKEN[partner_search]}
  TOKEN[caseworker]=$(token "$url" caseworker gemeente-amsterdam)
  TOKEN[dashboard]=$(token "$url" dashboard sociaal-werkkoepel)
  local api="http://127.0.0.1:$PORT/graphql" vacancy
  vacancy=$(check_query "$api" '{ vacancies(status: OPEN, first: 1) { edges { node { id } } } }' \
    "${TOKEN[partner_matches]}" | jq -r '.data.vacancies.edges[0].node.id')
  local -A query=(
    [partner_search]='{ candidates(filter: { skills: ["heftruck"], districts: ["Noord"] }, first: 20) { edges { cursor node { id profile { skills workTypes district hoursPerWeek availableFrom } } } } }'
    [partner_matches]="{ matches(vacancyId: \"$vacancy\", first: 20) { score candidate { id profile { skills district } } criteria { criterion met } } }"
    [caseworker]='{ persons(first: 10) { edges { node { id identity { givenName familyName } profile { skills district } placements { kind plannedEndDate organisation { name } } } } } }'
    [dashboard]='{ stats(measure: ACTIVE, groupBy: [MONTH, LINE]) { rows { period line value suppressed } } }'
  )
  local c
  for c in "${CLASSES[@]}"; do
    gql_body "${query[$c]}" >"$BENCH_TMP/$c.body"
    check_query "$api" "${query[$c]}" "${TOKEN[$c]}" >/dev/null
  done
}

# Samples the server's RSS (MiB) every $2 seconds into file $1 until killed.
sample_rss() {
  while sleep "$2"; do
    printf '%s %s\n' "$(date +%s)" "$(rss_mib "$WERKBRUG_PID")" >>"$1"
  done
}

# One step: every class at its share of rate $2 (0: unthrottled, CONC connections each) for $3 s.
step() {
  local name=$1 rate=$2 secs=$3 c pids=() opts log_before
  local api="http://127.0.0.1:$PORT/graphql"
  log_before=$(wc -l <"$BENCH_TMP/werkbrug-$PORT.log")
  : >"$BENCH_TMP/$name.rss"
  sample_rss "$BENCH_TMP/$name.rss" 1 &
  local sampler=$!
  for c in "${CLASSES[@]}"; do
    if ((rate > 0)); then
      local q=$((rate * SHARE[$c] / 100))
      # Enough connections that a slow answer never holds the rate back.
      opts=(-q "$q" --latency-correction -c $((q / 10 + 4)))
    else
      opts=(-c "$CONC")
    fi
    run_oha_csv "$DB-$name-$c" "$api" "$BENCH_TMP/$c.body" "${TOKEN[$c]}" "$secs" "${opts[@]}" &
    pids+=($!)
  done
  for c in "${pids[@]}"; do wait "$c"; done
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  local logged
  logged=$(tail -n +$((log_before + 1)) "$BENCH_TMP/werkbrug-$PORT.log" | grep -c 'ERROR' || true)
  report "$name" "$rate" "$secs" "$logged"
}

# Prints one row per class and one for the mix (percentiles over every request of the step).
report() {
  local name=$1 rate=$2 secs=$3 logged=$4 c expected files=() rps p50 p95 p99 bad missing
  for c in "${CLASSES[@]}"; do
    expected=$((rate * SHARE[$c] / 100))
    expected=$((expected * secs))
    files+=("$BENCH_TMP/$DB-$name-$c.csv")
    read -r rps p50 p95 p99 _ bad missing < <(csv_summary "$secs" "$expected" "$BENCH_TMP/$DB-$name-$c.csv")
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | |\n' "$DB" "$name" "$c" "$rps" "$p50" "$p95" "$p99" "$bad" "$missing"
  done
  read -r rps p50 p95 p99 _ bad missing < <(csv_summary "$secs" 0 "${files[@]}")
  local peak
  peak=$(sort -k2 -n "$BENCH_TMP/$name.rss" | tail -1 | cut -d' ' -f2)
  printf '| %s | %s | **mix** | **%s** | %s | %s | **%s** | %s (+%s logged) | | %s |\n' "$DB" "$name" "$rps" "$p50" "$p95" "$p99" "$bad" "$logged" "${peak:-?}"
}

mix() {
  echo
  echo "## Mix: ${SHARE[partner_search]}% partner search, ${SHARE[partner_matches]}% partner matches, ${SHARE[caseworker]}% caseworker caseload, ${SHARE[dashboard]}% dashboard stats; ${SECS}s per step, PERSONS=$PERSONS"
  echo
  echo "| database | step | class | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors (non-2xx) | not answered | peak RSS (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for DB in $DATABASES; do
    prepare "$DB"
    step "warm-up" "$RATE" 5 >/dev/null
    step "rate-${RATE}" "$RATE" "$SECS"
    step "unthrottled" 0 "$SECS"
    echo "| $DB | server peak (VmHWM) | | | | | | | | $(hwm_mib "$WERKBRUG_PID") |"
    stop_pid "$WERKBRUG_PID"
  done
  echo
  echo "(not answered: requests the constant rate called for that got no answer in the step — connection errors, timeouts, or cut off at its end; unthrottled steps: 0 by definition)"
}

soak() {
  DB=${DATABASES##* }
  prepare "$DB"
  echo
  echo "## Soak: $DB, ${RATE} req/s for ${SOAK_SECS}s, RSS every 10 s, warm-up ${WARMUP_SECS}s"
  local samples=$BENCH_TMP/soak.samples
  : >"$samples"
  sample_rss "$samples" 10 &
  local sampler=$!
  echo
  echo "| database | step | class | requests/s | p50 (ms) | p95 (ms) | p99 (ms) | errors (non-2xx) | not answered | peak RSS (MiB) |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  step "soak" "$RATE" "$SOAK_SECS"
  kill "$sampler" 2>/dev/null || true
  wait "$sampler" 2>/dev/null || true
  echo
  echo "RSS samples (MiB, every 10 s): $(cut -d' ' -f2 "$samples" | paste -sd' ')"
  awk -v w="$WARMUP_SECS" 'NR == 1 { t0 = $1 } { t = $1 - t0 }
      t >= w && base == "" { base = $2 } { last = $2; if ($2 > max) max = $2 }
      END { printf "after warm-up: %d MiB; at the end: %d MiB; highest: %d MiB; growth: %.1f%% (target: at most 10%%)\n",
            base, last, max, (last - base) * 100 / base }' "$samples"
  stop_pid "$WERKBRUG_PID"
}

case $MODE in
  mix) mix ;;
  soak) soak ;;
  *) echo "usage: $0 [mix|soak]" >&2; exit 2 ;;
esac
