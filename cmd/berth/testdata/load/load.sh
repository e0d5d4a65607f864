#!/bin/sh
# load.sh: load test of berth serve's read API with wrk (see README.md).
#
#   load.sh setup     generate N entities, add a _user, commit, index (once)
#   load.sh serve     start berth serve on the index (in the background)
#   load.sh run       gets and searches against a running server
#   load.sh commits   commit 10 changed service files every second (until killed)
#   load.sh all       setup, serve, run; run again during commits; run with a token; stop
set -eu

here=$(cd "$(dirname "$0")" && pwd)
DIR=${DIR:-/tmp/apiload}              # catalog, repository, index, logs
N=${N:-100000}                        # entities
ADDR=${ADDR:-127.0.0.1:8099}
URL=http://$ADDR
DURATION=${DURATION:-20s}
SERVER_CPU=${SERVER_CPU-1}           # taskset CPU lists; empty: no pinning
CLIENT_CPU=${CLIENT_CPU-0}
BERTH=${BERTH:-$DIR/berth}           # built by setup (TAGS=pprof: with the profiler)
export BERTH_LOAD_SECRET=${BERTH_LOAD_SECRET:-load-secret}

# pin CPUS CMD...: exec CMD on CPUS; only in a subshell (a background job, a pipeline).
pin() { cpu=$1; shift; if [ -n "$cpu" ]; then exec taskset -c "$cpu" "$@"; else exec "$@"; fi; }

setup() {
  mkdir -p "$DIR"
  (cd "$here/../../../.." && go build -tags "${TAGS:-}" -o "$BERTH" ./cmd/berth)
  cat > "$DIR/config.yaml" <<CFG
clients:
  - id: load
    user: load@example.com
    secretEnv: BERTH_LOAD_SECRET
CFG
  [ -d "$DIR/repo" ] && return
  (cd "$here/../../../.." && go run ./cmd/berth-gen -n "$N" -o "$DIR/repo")
  # The generator writes no _user: the token's client acts as this one.
  mkdir -p "$DIR/repo/entities/_user"
  printf 'identifier: load@example.com\ntitle: Load\nteam: %s\nproperties:\n  port_role: Member\n  status: Active\n' \
    "$(ls "$DIR/repo/entities/_team" | head -1 | sed 's/\.yaml$//')" > "$DIR/repo/entities/_user/load.yaml"
  cd "$DIR/repo"
  git init -q -b main
  git config user.name load && git config user.email load@example.com && git config gc.auto 0
  git add -A && git commit -qm "generated $N entities"
  /usr/bin/time -v "$BERTH" index --repo "$DIR/repo" --db "$DIR/index.db" --data-dir "$DIR/data" 2>&1 |
    grep -E 'applied|Elapsed|Maximum resident'
}

# serve [--config FILE]: berth serve on SERVER_CPU, following the repository every second.
serve() {
  auth="--auth none"
  [ $# -gt 0 ] && auth="$*"
  : >"$DIR/serve.log"
  pin "$SERVER_CPU" "$BERTH" serve --repo "$DIR/repo" --db "$DIR/index.db" --data-dir "$DIR/data" \
    --addr "$ADDR" --interval "@every 1s" --rate-limit 1000000 $auth >>"$DIR/serve.log" 2>&1 &
  echo $! >"$DIR/serve.pid"
  # Ready at once on an index; the reconciler then loads the applied commit
  # in the background (seconds of CPU): measure after that.
  # And the head of the branch applied, for cursors to last while paging.
  head=$(git -C "$DIR/repo" rev-parse --short=12 HEAD)
  until grep 'loaded the applied commit' "$DIR/serve.log" >/dev/null &&
    grep -E "loaded the applied commit|\"status\":\"applied\"" "$DIR/serve.log" | grep -q "\"commit\":\"$head\""; do
    sleep 0.5
  done
}

stop() { kill "$(cat "$DIR/serve.pid")"; rm -f "$DIR/serve.pid"; sleep 1; }

token() {
  curl -sf -X POST "$URL/v1/auth/access_token" -H 'Content-Type: application/json' \
    -d "{\"clientId\":\"load\",\"clientSecret\":\"$BERTH_LOAD_SECRET\"}" | jq -r .accessToken
}

# ids BLUEPRINT: every identifier of the blueprint, paging through the search.
ids() {
  from=null
  while :; do
    page=$(curl -sf -X POST "$URL/v1/blueprints/$1/entities/search" -H 'Content-Type: application/json' \
      ${TOKEN:+-H "Authorization: Bearer $TOKEN"} \
      -d "{\"limit\":1000,\"include\":[\"identifier\"],\"from\":$from,\"query\":{\"combinator\":\"and\",\"rules\":[]}}")
    echo "$page" | jq -r '.entities[].identifier'
    from=$(echo "$page" | jq '.next // empty')
    [ -n "$from" ] || break
  done
}

# cputime: the server's user+system CPU time so far, in clock ticks.
cputime() { awk '{ print $14 + $15 }' "/proc/$(cat "$DIR/serve.pid")/stat"; }

# wrk1 LABEL THREADS CONNS KIND [FILE]: one wrk run, its RESULT line
# labelled, with the server's CPU time per request.
wrk1() {
  label=$1 t=$2 c=$3; shift 3
  c0=$(cputime)
  r=$(pin "$CLIENT_CPU" wrk -t"$t" -c"$c" -d"$DURATION" --timeout 10s -s "$here/load.lua" \
    ${TOKEN:+-H "Authorization: Bearer $TOKEN"} "$URL" -- "$@" | sed -n "s/^RESULT /$label c$c /p")
  c1=$(cputime)
  echo "$r server-cpu/req=$(echo "$r" | awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
    '{ sub(/.*requests=/, ""); printf "%.0fus", t / hz * 1e6 / $1 }')"
}

# run [LABEL]: the gets and searches, over the identifiers fetched before
# (a cursor does not survive a new revision: not while committing).
run() {
  label=${1:-anonymous}
  [ -s "$DIR/services.txt" ] || ids service >"$DIR/services.txt"
  [ -s "$DIR/domains.txt" ] || ids domain >"$DIR/domains.txt"
  echo "# $label, $(uptime)"
  wrk1 "$label" 2 32 get "$DIR/services.txt"
  for kind in tworules related matchany; do
    wrk1 "$label" 1 1 $kind "$DIR/domains.txt"
    wrk1 "$label" 2 8 $kind "$DIR/domains.txt"
  done
}

# commits: a commit changing test_coverage in 10 service files every second.
# The commits are made first (COMMITS of them, through git fast-import, on
# a ref of their own), then refs/heads/main advances by one each second
# (git update-ref): making a commit costs ~0.15 s of CPU, which on the
# client's CPU delayed wrk and showed as the server's latency. Writes
# $DIR/commits.ready once the loop starts.
commits() {
  [ -z "$CLIENT_CPU" ] || taskset -pc "$CLIENT_CPU" $$ >/dev/null # children inherit it
  cd "$DIR/repo"
  rm -f "$DIR/commits.ready"
  ls entities/service >"$DIR/commit-files.txt"
  total=$(wc -l <"$DIR/commit-files.txt")
  n=0
  while [ $n -lt "${COMMITS:-200}" ]; do
    echo "commit refs/load/next"
    echo "committer load <load@example.com> $(date +%s) +0000"
    msg="load: 10 services ($n)"
    printf 'data %d\n%s\n' ${#msg} "$msg"
    [ $n = 0 ] && echo "from refs/heads/main^0"
    for f in $(awk -v a=$((n * 10 % total)) 'NR > a && NR <= a + 10' "$DIR/commit-files.txt"); do
      p=entities/service/$f
      awk '/^  test_coverage: / { $0 = "  test_coverage: " ($2 + 1) % 100 } 1' "$p" >"$p.tmp" && mv "$p.tmp" "$p"
      printf 'M 100644 inline %s\ndata %d\n' "$p" "$(wc -c <"$p")"
      cat "$p"
      echo
    done
    echo
    n=$((n + 1))
  done | git fast-import --quiet --force
  git rev-list --reverse refs/heads/main..refs/load/next >"$DIR/commit-list.txt"
  touch "$DIR/commits.ready"
  while read -r c; do
    start=$(date +%s%N)
    git update-ref refs/heads/main "$c"
    sleep "$(awk -v s="$start" -v e="$(date +%s%N)" 'BEGIN { d = 1 - (e - s) / 1e9; print (d > 0 ? d : 0) }')"
  done <"$DIR/commit-list.txt"
}

all() {
  setup
  serve
  ids service >"$DIR/services.txt"
  ids domain >"$DIR/domains.txt"
  run anonymous
  # A process group of its own, to stop the loop and git fast-import at once.
  setsid sh -c 'exec "$0" commits' "$0" & cpid=$!
  until [ -e "$DIR/commits.ready" ]; do sleep 0.5; done
  sleep 2
  run reconciling
  kill -- -$cpid
  grep '"status":"applied"' "$DIR/serve.log" | jq -r .duration | sort -n | awk '{ d[NR] = $1 / 1e6 }
    END { if (NR) printf "# %d commits applied while measuring: reconcile median %.0f ms, max %.0f ms\n", NR, d[int((NR + 1) / 2)], d[NR] }'
  stop
  serve --config "$DIR/config.yaml"
  TOKEN=$(token) run token
  stop
}

"${@:-all}"
