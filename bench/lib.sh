# shellcheck shell=bash
# Shared helpers for bench/peers/run.sh and bench/load/run.sh (sourced, not run).
#
# Everything downloaded or generated goes under $BENCH_TMP (default: a folder under /tmp,
# removed on exit unless BENCH_KEEP=1); nothing of it belongs in git.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WERKBRUG=${WERKBRUG:-$ROOT/target/release/werkbrug}
PG_BASE=${PG_BASE:-postgres://postgres@127.0.0.1:5432}
BENCH_TMP=${BENCH_TMP:-$(mktemp -d /tmp/werkbrug-bench-XXXXXX)}
mkdir -p "$BENCH_TMP"

# Fixed development keys: the bench databases hold invented people only.
export WERKBRUG_AUTH__SIGNING_KEY=00000000000000000000000000000000000000000000000000000000000000ab
export WERKBRUG_PRIVACY__BSN_ENCRYPTION_KEY=$WERKBRUG_AUTH__SIGNING_KEY
export WERKBRUG_PRIVACY__BSN_PSEUDONYM_KEY=$WERKBRUG_AUTH__SIGNING_KEY
export RUST_LOG=${RUST_LOG:-warn}

# Processes started here, stopped on exit (by pid, never by name).
BENCH_PIDS=()
bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP:-0} != 1 ]]; then
    rm -rf "$BENCH_TMP"
  fi
}
trap bench_cleanup EXIT

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# Builds the release binary unless WERKBRUG points at one already built.
build_werkbrug() {
  if [[ -z ${WERKBRUG_PREBUILT:-} ]]; then
    log "cargo build --release (werkbrug)"
    (cd "$ROOT" && cargo build --release --quiet --bin werkbrug)
  fi
  [[ -x $WERKBRUG ]] || { echo "no binary at $WERKBRUG" >&2; exit 1; }
}

# oha, the load generator: from PATH, else `cargo install oha` into $BENCH_TOOLS (kept between
# runs; default ~/.cache/werkbrug-bench).
OHA=
find_oha() {
  local tools=${BENCH_TOOLS:-$HOME/.cache/werkbrug-bench}
  if command -v oha >/dev/null; then
    OHA=$(command -v oha)
  elif [[ -x $tools/bin/oha ]]; then
    OHA=$tools/bin/oha
  else
    log "cargo install oha (once, into $tools)"
    cargo install oha --locked --quiet --root "$tools"
    OHA=$tools/bin/oha
  fi
}

psql_admin() { psql "$PG_BASE/postgres" -v ON_ERROR_STOP=1 -qAt "$@"; }

# A fresh PostgreSQL database NAME (dropped first when it exists). Never `test`.
fresh_pg_db() {
  [[ $1 != test ]] || { echo "refusing to drop the tests' database" >&2; exit 1; }
  psql_admin -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1"
}

# Rows the seed imported into database URL $1 (0 when it has no tables yet). Persons can be a
# few fewer: rows that drew the same random BSN are one person.
persons_in() {
  local sql="SELECT count(*) FROM source_record"
  case $1 in
    postgres*) psql "$1" -qAt -c "$sql" 2>/dev/null || echo 0 ;;
    sqlite*)
      python3 - "${1#sqlite://}" "$sql" <<'PY' 2>/dev/null || echo 0
import sqlite3, sys
print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute(sys.argv[2]).fetchone()[0])
PY
      ;;
  esac
}

# Seeds database URL $1 with $2 persons through the importers (`werkbrug seed`), unless it
# already holds exactly that many (BENCH_RESEED=1 forces a fresh one).
seed_db() {
  local url=$1 n=$2 have
  have=$(persons_in "$url")
  if [[ $have == "$n" && ${BENCH_RESEED:-0} != 1 ]]; then
    log "reusing $(redact "$url"): $n persons"
    return
  fi
  case $url in
    postgres*) fresh_pg_db "${url##*/}" ;;
    sqlite*) rm -f "${url#sqlite://}" "${url#sqlite://}-wal" "${url#sqlite://}-shm" ;;
  esac
  log "seeding $(redact "$url") with $n persons (werkbrug seed: XLSX export → importers → consent approvals)"
  DATABASE_URL=$url "$WERKBRUG" seed --persons "$n" --dir "$BENCH_TMP/seed" >&2
  # VACUUM as well: a deployed PostgreSQL's autovacuum would have cleared the dead rows the
  # seed's consent updates leave (42,000 at 100,000 persons), and these machines run it off.
  case $url in
    postgres*) psql "$url" -qAt -c "VACUUM ANALYZE" ;;
  esac
}

redact() { printf '%s' "$1" | sed -E 's#//([^:@/]+):[^@]*@#//\1:***@#'; }

# Starts `werkbrug serve` on database URL $1 at 127.0.0.1:$2; sets WERKBRUG_PID.
WERKBRUG_PID=
start_werkbrug() {
  local url=$1 port=$2
  DATABASE_URL=$url WERKBRUG_SERVER__MAX_PAGE_SIZE=100 \
    "$WERKBRUG" serve --listen "127.0.0.1:$port" >"$BENCH_TMP/werkbrug-$port.log" 2>&1 &
  WERKBRUG_PID=$!
  BENCH_PIDS+=("$WERKBRUG_PID")
  wait_http "http://127.0.0.1:$port/readyz" 120 || {
    cat "$BENCH_TMP/werkbrug-$port.log" >&2
    exit 1
  }
}

stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# Waits until URL $1 answers 200 (at most $2 seconds).
wait_http() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  echo "$1 did not answer within $2 s" >&2
  return 1
}

# A token: role $2 at organisation code $3 on database URL $1 (extra args: --scope …).
token() {
  local url=$1 role=$2 org=$3
  shift 3
  DATABASE_URL=$url "$WERKBRUG" token create --role "$role" --org "$org" --ttl 1d \
    --subject "bench-$role" "$@" 2>/dev/null | tail -1
}

# A GraphQL request body for query $1 (JSON-escaped).
gql_body() { jq -cn --arg q "$1" '{query: $q}'; }

# Sends query $2 with token $3 to $1 once; fails when the answer has errors or no data.
check_query() {
  local out
  out=$(curl -fsS -H 'content-type: application/json' ${3:+-H "authorization: Bearer $3"} \
    --data "$(gql_body "$2")" "$1")
  if jq -e '.errors or (.data == null)' >/dev/null <<<"$out"; then
    echo "query failed at $1: $(head -c 600 <<<"$out")" >&2
    return 1
  fi
  printf '%s' "$out"
}

# Peak (VmHWM) and current (VmRSS) resident memory of pid $1 in MiB.
rss_mib() { awk '/^VmRSS/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }
hwm_mib() { awk '/^VmHWM/ {printf "%.0f", $2/1024}' "/proc/$1/status"; }

# Runs oha; args: name url body-file token seconds [oha options …]; writes $BENCH_TMP/$name.json.
run_oha() {
  local name=$1 url=$2 body=$3 tok=$4 secs=$5
  shift 5
  local auth=()
  [[ -n $tok ]] && auth=(-H "authorization: Bearer $tok")
  "$OHA" --no-tui --output-format json -z "${secs}s" -m POST -T application/json -D "$body" \
    "${auth[@]}" "$@" "$url" >"$BENCH_TMP/$name.json"
}

# Runs oha with one CSV line per answered request; args as run_oha; writes $BENCH_TMP/$name.csv.
run_oha_csv() {
  local name=$1 url=$2 body=$3 tok=$4 secs=$5
  shift 5
  local auth=()
  [[ -n $tok ]] && auth=(-H "authorization: Bearer $tok")
  "$OHA" --no-tui --output-format csv -z "${secs}s" -m POST -T application/json -D "$body" \
    "${auth[@]}" "$@" "$url" >"$BENCH_TMP/$name.csv"
}

# From oha CSV files (merged), over $1 seconds, expecting $2 requests (0: unknown): requests/s,
# p50, p95, p99 (ms), answered 2xx, answered otherwise, not answered (expected − answered; 0
# when unknown).
csv_summary() {
  python3 - "$@" <<'PY'
import csv, sys
secs, expected, files = float(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
times, ok, bad = [], 0, 0
for f in files:
    with open(f) as fh:
        for row in csv.DictReader(fh):
            times.append(float(row["request-duration"]) * 1000)
            if row["status"].startswith("2"):
                ok += 1
            else:
                bad += 1
times.sort()
def p(q):
    return times[min(len(times) - 1, max(0, int(len(times) * q + 0.999999) - 1))] if times else float("nan")
missing = max(0, expected - len(times)) if expected else 0
print(f"{len(times) / secs:.0f}\t{p(0.50):.1f}\t{p(0.95):.1f}\t{p(0.99):.1f}\t{ok}\t{bad}\t{missing}")
PY
}

# From an oha JSON report: requests/s, p50, p95, p99 (ms), successful, failed (non-2xx or errors;
# requests cut off by the end of the step are not counted).
oha_summary() {
  jq -r '[
      .summary.requestsPerSec,
      (.latencyPercentiles.p50 * 1000), (.latencyPercentiles.p95 * 1000),
      (.latencyPercentiles.p99 * 1000),
      ([.statusCodeDistribution | to_entries[] | select(.key | startswith("2")) | .value] | add // 0),
      (([.statusCodeDistribution | to_entries[] | select(.key | startswith("2") | not) | .value] | add // 0)
        + ([.errorDistribution | to_entries[] | select(.key | test("deadline") | not) | .value] | add // 0))
    ] | @tsv' "$1"
}
