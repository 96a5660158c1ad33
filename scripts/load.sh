#!/usr/bin/env bash
# keygate end to end (issue 16 §2): what a protected route keeps of the
# requests per second of the same handler unprotected, on loopback.
#
#   ./scripts/load.sh
#   KEYGATE_LOAD_SECONDS=10 KEYGATE_LOAD_STORAGES=sqlite ./scripts/load.sh
#
# It builds the load server of bench/load (a module of its own, never
# released) and, for each storage (the embedded SQLite default, then
# PostgreSQL + Redis) and each audit mode (off, in memory, to a file),
# starts ONE server process that serves the same trivial handler bare
# (GET /bare) and behind keygate (GET /protected), and measures:
#
#   bare            wrk, GET /bare
#   bare + key      wrk, GET /bare with the API key's header (not checked)
#   floor           wrk, GET /floor with the API key: the bench module's
#                   floor of an API key check in the server (SHA-256 of
#                   the secret, a map lookup, a constant-time comparison,
#                   the context), what the least check keeps
#   api key         wrk, GET /protected with a secret API key
#   bare + token    wrk, GET /bare with the token's header (not checked)
#   cached token    wrk, GET /protected with an HS256 access token (after
#                   the first request, served from the verifier's cache)
#   bare (go)       bench/load's generator, GET /bare with signature
#                   fields (not checked)
#   signed          bench/load's generator, GET /protected signed with an
#                   HMAC credential (RFC 9421). wrk cannot sign: the
#                   generator signs every request beforehand, each with its
#                   own nonce (the verifier refuses a replayed nonce, and a
#                   created time more than 300 s off), then sends them.
#
# For each: requests per second, p50 and p99 latencies, the server's CPU
# time per request (user and system, from /proc: the steadiest figure
# when the server is pinned), and the ratio to
# the bare route sent the same request (the same headers, from the same
# load generator): what the server does with the request's bytes is the
# same with or without keygate, so the ratio is keygate's work alone. With the audit
# file it checks that the file has exactly one line per request that
# reached keygate's middleware (the server counts them and prints the
# count once SIGTERM has stopped it and flushed the audit writer), that
# this count covers every request the load generators completed, and that
# no line holds the API key or the token.
#
# Targets (reported, not enforced: shared machines are too noisy for a
# gate): a protected route keeps at least 0.9x the bare route's requests
# per second with an API key and a cached token; auditing to memory costs
# at most 5% and to a file at most 10% of the audit-off figure.
#
# Everything listens on 127.0.0.1 only. Each load run lasts at most
# KEYGATE_LOAD_SECONDS and sends at most KEYGATE_LOAD_MAX_REQUESTS
# requests (KEYGATE_LOAD_MAX_SIGNED for the signing generator, which signs
# them all before it starts; wrk is also killed 60 s after its time). A
# run that reaches its bound before its time is over measured the bound,
# not the server: the script says so and fails, and the bound must be
# raised. Each server start and
# stop waits at most 60 s, and everything started here (servers, the
# PostgreSQL database made for the run) is stopped or dropped on exit.
# Figures on a shared or busy machine are noisy: compare the runs of one
# invocation only.
#
# Needs go and wrk (installed with apt-get when missing, as root or with
# sudo). PostgreSQL and Redis are those of scripts/services.sh (start them
# with `./scripts/services.sh start`); when they do not answer, that
# storage is skipped with a note.
#
# Settings (environment):
#
#   KEYGATE_LOAD_SECONDS       duration of each load run (3)
#   KEYGATE_LOAD_ROUNDS        rounds of every run against one server (3):
#                              the table shows the median of the rounds,
#                              and each ratio is the median of the ratios
#                              of the rounds (each compares two runs made
#                              one after the other)
#   KEYGATE_LOAD_MAX_REQUESTS  most requests of each wrk run (5000000)
#   KEYGATE_LOAD_MAX_SIGNED    most requests of each generator run, signed
#                              in advance (300000)
#   KEYGATE_LOAD_CONNECTIONS   connections (16)
#   KEYGATE_LOAD_THREADS       wrk threads (1: steadier on 2 CPUs)
#   KEYGATE_LOAD_PIN           1: the server on the last CPU, the load
#                              generators on the others (taskset), so
#                              that the ratios compare the server's work
#                              rather than how the scheduler mixes the two
#                              on shared cores; 0: no pinning (auto: 1 with
#                              two CPUs or more)
#   KEYGATE_LOAD_STORAGES      storages to run ("sqlite postgres")
#   KEYGATE_LOAD_AUDITS        audit modes to run ("off memory file")
#   KEYGATE_TEST_POSTGRES_URL, KEYGATE_TEST_REDIS_URL
#                              PostgreSQL and Redis (default: those of
#                              scripts/services.sh env)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_EACH=${KEYGATE_LOAD_SECONDS:-3}
ROUNDS=${KEYGATE_LOAD_ROUNDS:-3}
MAX_REQUESTS=${KEYGATE_LOAD_MAX_REQUESTS:-5000000}
MAX_SIGNED=${KEYGATE_LOAD_MAX_SIGNED:-300000}
CONNS=${KEYGATE_LOAD_CONNECTIONS:-16}
THREADS=${KEYGATE_LOAD_THREADS:-1}
PIN=${KEYGATE_LOAD_PIN:-auto}
read -r -a STORAGES <<<"${KEYGATE_LOAD_STORAGES:-sqlite postgres}"
read -r -a AUDITS <<<"${KEYGATE_LOAD_AUDITS:-off memory file}"
START_TIMEOUT=60
STOP_TIMEOUT=60

die() {
	echo "load: $*" >&2
	exit 1
}

case $SECONDS_EACH$ROUNDS$MAX_REQUESTS$MAX_SIGNED$CONNS$THREADS in
*[!0-9]* | '') die "KEYGATE_LOAD_SECONDS, _ROUNDS, _MAX_REQUESTS, _MAX_SIGNED, _CONNECTIONS and _THREADS must be numbers" ;;
esac
if [ "$SECONDS_EACH" -eq 0 ] || [ "$ROUNDS" -eq 0 ] || [ "$MAX_REQUESTS" -eq 0 ] || [ "$MAX_SIGNED" -eq 0 ] || [ "$CONNS" -eq 0 ] || [ "$THREADS" -eq 0 ]; then
	die "KEYGATE_LOAD_SECONDS, _ROUNDS, _MAX_REQUESTS, _MAX_SIGNED, _CONNECTIONS and _THREADS must be positive"
fi
[ "$CONNS" -ge "$THREADS" ] || die "KEYGATE_LOAD_CONNECTIONS must be at least KEYGATE_LOAD_THREADS"
for s in "${STORAGES[@]}"; do
	case $s in sqlite | postgres) ;; *) die "unknown storage $s: want sqlite or postgres" ;; esac
done
for a in "${AUDITS[@]}"; do
	case $a in off | memory | file) ;; *) die "unknown audit mode $a: want off, memory or file" ;; esac
done

NEED_NAME=load
# shellcheck source=scripts/need.sh
. "$ROOT/scripts/need.sh"
command -v go >/dev/null 2>&1 || die "go is missing"
need wrk wrk
need timeout coreutils

# Pinning: the server alone on the last CPU, the load generators on the
# others.
cpus=$(nproc)
case $PIN in
auto) if [ "$cpus" -ge 2 ]; then PIN=1; else PIN=0; fi ;;
0 | 1) ;;
*) die "KEYGATE_LOAD_PIN must be 0, 1 or auto" ;;
esac
server_on=() load_on=()
if [ "$PIN" = 1 ]; then
	[ "$cpus" -ge 2 ] || die "KEYGATE_LOAD_PIN=1 needs two CPUs or more"
	need taskset util-linux
	server_on=(taskset -c $((cpus - 1)))
	load_on=(taskset -c 0-$((cpus - 2)))
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/keygate-load.XXXXXX")
server_pid=
pg_admin='' pg_db=''
cleanup() {
	if [ -n "$server_pid" ]; then
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	if [ -n "$pg_db" ]; then
		timeout 30 psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 ||
			echo "load: could not drop the database $pg_db" >&2
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> building bench/load"
(cd "$ROOT/bench/load" && GOWORK=off go build -o "$DIR/load" .)

# wrk's script: the credential header (kept out of wrk's command line,
# which other users can see), a bound on the requests of each thread, and
# the summary in a form easy to read back.
cat >"$DIR/report.lua" <<EOF
local max = math.floor($MAX_REQUESTS / $THREADS)
local count = 0
response = function()
	count = count + 1
	if count >= max then wrk.thread:stop() end
end
done = function(summary, latency)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d errors=%d duration_us=%d latency_p50_us=%d latency_p99_us=%d\n",
		summary.requests, e.connect + e.read + e.write + e.status + e.timeout, summary.duration,
		latency:percentile(50), latency:percentile(99)))
end
EOF

# field NAME FILE prints NAME's value from a RESULT line.
field() {
	sed -n "s/^RESULT .*\<$1=\([0-9]*\).*/\1/p" "$2"
}

# json_field NAME prints the string NAME of the credentials file.
json_field() {
	sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p" "$DIR/creds.json"
}

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# server_ticks prints the CPU time (user + system, in clock ticks) the
# running server has used so far, or nothing without /proc.
server_ticks() {
	[ -r "/proc/$server_pid/stat" ] || return 0
	# The fields after the command's name, which ends with ")": utime and
	# stime are the 12th and 13th of them.
	sed 's/^.*) //' "/proc/$server_pid/stat" | awk '{ print $12 + $13 }'
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# measure NAME ROUND: the load run NAME against the running server at
# $url, its RESULT line in $DIR/NAME.ROUND.txt and the server's CPU ticks
# during it in $DIR/NAME.ROUND.cpu; it adds the run's requests to
# $completed.
measure() {
	local name=$1 out=$DIR/$1.$2.txt
	local -a cmd
	local bound=$(((MAX_REQUESTS / THREADS) * THREADS))
	case $name in
	gobare | signed) bound=$MAX_SIGNED ;;
	esac
	case $name in
	bare) cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -s "$DIR/report.lua" "$url/bare") ;;
	bareapikey | baretoken) cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -s "$DIR/wrk-${name#bare}.lua" "$url/bare") ;;
	apikey | token) cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -s "$DIR/wrk-$name.lua" "$url/protected") ;;
	floor) cmd=(wrk -t"$THREADS" -c"$CONNS" -d"${SECONDS_EACH}s" -s "$DIR/wrk-apikey.lua" "$url/floor") ;;
	gobare) cmd=("$DIR/load" sign -bare -url "$url" -creds "$DIR/creds.json" -n "$MAX_SIGNED" -c "$CONNS" -d "${SECONDS_EACH}s") ;;
	signed) cmd=("$DIR/load" sign -url "$url" -creds "$DIR/creds.json" -n "$MAX_SIGNED" -c "$CONNS" -d "${SECONDS_EACH}s") ;;
	esac
	local t0 t1
	t0=$(server_ticks)
	timeout --kill-after=5 $((SECONDS_EACH + 60)) "${load_on[@]}" "${cmd[@]}" >"$out" 2>&1 || die "$name: the load run failed: $(tail -3 "$out")"
	t1=$(server_ticks)
	if [ -n "$t0" ] && [ -n "$t1" ]; then
		echo $((t1 - t0)) >"$DIR/$1.$2.cpu"
	else
		rm -f "$DIR/$1.$2.cpu"
	fi
	local n errs
	n=$(field requests "$out")
	errs=$(field errors "$out")
	if [ -z "$n" ] || [ "$n" -eq 0 ]; then
		die "$name: no result: $(tail -3 "$out")"
	fi
	[ "$errs" -eq 0 ] || fail "$name: $errs requests failed or were not answered 200"
	[ "$n" -lt "$bound" ] || fail "$name: the run reached its bound of $bound requests before its ${SECONDS_EACH}s were over: its rate is the bound's, not the server's (raise KEYGATE_LOAD_MAX_REQUESTS or _MAX_SIGNED)"
	completed=$((completed + n))
}

# start_server STORAGE AUDIT starts the load server; it sets server_pid
# and url.
start_server() {
	local -a flags
	case $1 in
	sqlite) flags=(-db "$DIR/keygate.db") ;;
	postgres) flags=(-db "$pg_url" -redis "$redis_url") ;;
	esac
	case $2 in
	off | memory) flags+=(-audit "$2") ;;
	file) flags+=(-audit "$DIR/audit.jsonl") ;;
	esac
	# The last server's files go first: its "listening on" must not be
	# read for this one's.
	rm -f "$DIR"/keygate.db* "$DIR/audit.jsonl" "$DIR/creds.json" "$DIR/serve.out" "$DIR/serve.err"
	"${server_on[@]}" "$DIR/load" serve -listen 127.0.0.1:0 -creds "$DIR/creds.json" "${flags[@]}" >"$DIR/serve.out" 2>"$DIR/serve.err" &
	server_pid=$!
	local deadline=$((SECONDS + START_TIMEOUT))
	until [ -s "$DIR/creds.json" ] && grep -qs '^listening on ' "$DIR/serve.out"; do
		kill -0 "$server_pid" 2>/dev/null || die "the server exited: $(tail -3 "$DIR/serve.err")"
		[ "$SECONDS" -lt "$deadline" ] || die "the server did not start within ${START_TIMEOUT}s"
		sleep 0.1
	done
	url=$(sed -n 's/^listening on //p' "$DIR/serve.out")
	printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$(json_field api_key)" | cat - "$DIR/report.lua" >"$DIR/wrk-apikey.lua"
	printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$(json_field token)" | cat - "$DIR/report.lua" >"$DIR/wrk-token.lua"
}

# stop_server stops the server with SIGTERM (it flushes the audit writer)
# and sets served to the number of requests that reached the middleware.
stop_server() {
	local deadline=$((SECONDS + STOP_TIMEOUT)) status=0
	kill -TERM "$server_pid"
	while kill -0 "$server_pid" 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "the server did not stop within ${STOP_TIMEOUT}s of SIGTERM"
		sleep 0.1
	done
	wait "$server_pid" || status=$?
	server_pid=
	[ "$status" -eq 0 ] || die "the server exited with status $status: $(tail -3 "$DIR/serve.err")"
	served=$(sed -n 's/^protected requests: //p' "$DIR/serve.out")
}

# PostgreSQL + Redis: a database of its own for this run, dropped on exit.
if [[ " ${STORAGES[*]} " == *" postgres "* ]]; then
	if [ -z "${KEYGATE_TEST_POSTGRES_URL:-}" ] || [ -z "${KEYGATE_TEST_REDIS_URL:-}" ]; then
		eval "$("$ROOT/scripts/services.sh" env)"
	fi
	pg_admin=$KEYGATE_TEST_POSTGRES_URL redis_url=$KEYGATE_TEST_REDIS_URL
	name=keygate_load_$$_$RANDOM
	if command -v psql >/dev/null 2>&1 && timeout 30 psql -q "$pg_admin" -c "CREATE DATABASE $name" >/dev/null 2>&1; then
		pg_db=$name
		# The same URL, naming the new database.
		pg_url=$(sed -E "s#^(postgres(ql)?://[^/]*)/[^?]*#\1/$name#" <<<"$pg_admin")
	else
		echo "note: PostgreSQL at \$KEYGATE_TEST_POSTGRES_URL does not answer (or psql is missing): skipping postgres; ./scripts/services.sh start starts it" >&2
		mapfile -t STORAGES < <(printf '%s\n' "${STORAGES[@]}" | grep -vx postgres)
	fi
fi

# baseline prints the run that run $1 is compared with: the bare route
# sent the same request (for the bare routes with a credential's header,
# the bare route without it: what the header costs the server).
baseline() {
	case $1 in
	apikey | token) echo "bare$1" ;;
	floor) echo bareapikey ;;
	bareapikey | baretoken) echo bare ;;
	signed) echo gobare ;;
	*) echo "$1" ;;
	esac
}

# median prints the median of its arguments.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# RPS, P50, P99 and CPU (the server's CPU microseconds per request, empty
# without /proc) are the medians over the rounds of each run, RATIO the
# median over the rounds of its ratio to its baseline (see baseline).
declare -A RPS P50 P99 RATIO CPU
runs=(bare bareapikey floor apikey baretoken token gobare signed)
for storage in "${STORAGES[@]}"; do
	for audit in "${AUDITS[@]}"; do
		echo "==> $storage, audit $audit"
		start_server "$storage" "$audit"
		completed=0
		declare -A round_rps=()
		for ((round = 1; round <= ROUNDS; round++)); do
			for r in "${runs[@]}"; do
				measure "$r" "$round"
				round_rps[$r.$round]=$(awk -v n="$(field requests "$DIR/$r.$round.txt")" -v us="$(field duration_us "$DIR/$r.$round.txt")" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
			done
		done
		for r in "${runs[@]}"; do
			k=$storage.$audit.$r
			rates=() p50s=() p99s=() ratios=() cpu_us=()
			for ((round = 1; round <= ROUNDS; round++)); do
				rates+=("${round_rps[$r.$round]}")
				if [ -s "$DIR/$r.$round.cpu" ]; then
					cpu_us+=("$(awk -v t="$(cat "$DIR/$r.$round.cpu")" -v hz="$CLK_TCK" -v n="$(field requests "$DIR/$r.$round.txt")" 'BEGIN { printf "%.3f", t / hz * 1e6 / n }')")
				fi
				p50s+=("$(field latency_p50_us "$DIR/$r.$round.txt")")
				p99s+=("$(field latency_p99_us "$DIR/$r.$round.txt")")
				ratios+=("$(awk -v a="${round_rps[$r.$round]}" -v b="${round_rps[$(baseline "$r").$round]}" 'BEGIN { printf "%.4f", a / b }')")
			done
			RPS[$k]=$(median "${rates[@]}" | awk '{ printf "%.0f", $1 }')
			P50[$k]=$(median "${p50s[@]}" | awk '{ printf "%.0f", $1 }')
			P99[$k]=$(median "${p99s[@]}" | awk '{ printf "%.0f", $1 }')
			RATIO[$k]=$(median "${ratios[@]}")
			CPU[$k]=
			if [ "${#cpu_us[@]}" -eq "$ROUNDS" ]; then
				CPU[$k]=$(median "${cpu_us[@]}" | awk '{ printf "%.2f", $1 }')
			fi
		done
		unset round_rps
		stop_server
		[ -n "$served" ] || die "the server did not print its request count"
		# Every request sent to /protected reaches the middleware: those the
		# generators completed, plus at most one in flight per connection of
		# each run when it stopped.
		protected_completed=$completed
		for ((round = 1; round <= ROUNDS; round++)); do
			for r in bare bareapikey floor baretoken gobare; do
				protected_completed=$((protected_completed - $(field requests "$DIR/$r.$round.txt")))
			done
		done
		if [ "$served" -lt "$protected_completed" ] || [ "$served" -gt $((protected_completed + 3 * ROUNDS * CONNS)) ]; then
			fail "$storage/$audit: the server counted $served protected requests; the load runs completed $protected_completed"
		fi
		if [ "$audit" = file ]; then
			lines=$(grep -c '' "$DIR/audit.jsonl" || true)
			if [ "$lines" -eq "$served" ]; then
				echo "audit file: $lines lines for $served protected requests: exactly one each"
			else
				fail "$storage/file: the audit file has $lines lines for $served protected requests"
			fi
			leaked=$(grep -c -F -e "$(json_field api_key)" -e "$(json_field token)" "$DIR/audit.jsonl" || true)
			[ "$leaked" -eq 0 ] || fail "$storage/file: $leaked audit lines hold the API key or the token"
		fi
	done
done

label() {
	case $1 in
	bare) echo "bare, no credential (wrk)" ;;
	bareapikey) echo "bare, API key header (wrk)" ;;
	floor) echo "floor: SHA-256, map, context (wrk)" ;;
	apikey) echo "API key (wrk)" ;;
	baretoken) echo "bare, token header (wrk)" ;;
	token) echo "cached token (wrk)" ;;
	gobare) echo "bare, signature fields (Go generator)" ;;
	signed) echo "HMAC-signed (Go generator)" ;;
	esac
}

echo
if [ "$PIN" = 1 ]; then
	placement="the server pinned to CPU $((cpus - 1)), the load generator to CPU 0-$((cpus - 2)) (the databases float)"
else
	placement="$cpus CPUs shared by the load generator and the server"
fi
echo "==> results: the median of $ROUNDS rounds of ${SECONDS_EACH}s runs, $CONNS connections, wrk -t$THREADS, $placement"
echo
echo "| storage | audit | credential | req/s | p50 | p99 | server CPU per request | ratio to bare, same request |"
echo "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"
for storage in "${STORAGES[@]}"; do
	for audit in "${AUDITS[@]}"; do
		for r in "${runs[@]}"; do
			k=$storage.$audit.$r
			ratio=$(awk -v x="${RATIO[$k]}" 'BEGIN { printf "%.2f", x }')
			db=SQLite
			[ "$storage" = postgres ] && db="PostgreSQL + Redis"
			cpu="${CPU[$k]:-n/a}"
			[ "$cpu" = n/a ] || cpu="$cpu µs"
			printf '| %s | %s | %s | %s | %s µs | %s µs | %s | %s |\n' "$db" "$audit" "$(label "$r")" "${RPS[$k]}" "${P50[$k]}" "${P99[$k]}" "$cpu" "$ratio"
		done
	done
done

echo
echo "==> targets (reported, not enforced)"
for storage in "${STORAGES[@]}"; do
	for audit in "${AUDITS[@]}"; do
		for r in apikey token; do
			awk -v s="$storage" -v a="$audit" -v n="$(label "$r")" -v x="${RATIO[$storage.$audit.$r]}" \
				-v c="${CPU[$storage.$audit.$r]:-}" -v b="${CPU[$storage.$audit.$(baseline "$r")]:-}" \
				'BEGIN { extra = (c != "" && b != "") ? sprintf(" (server CPU %.2f us a request, %.2f us over bare)", c, c - b) : ""; printf "%s, audit %s, %s: %.3fx bare%s, target >= 0.90: %s\n", s, a, n, x, extra, (x >= 0.9 ? "met" : "NOT met") }'
		done
	done
	for audit in memory file; do
		if [ -z "${RPS[$storage.$audit.apikey]:-}" ] || [ -z "${RPS[$storage.off.apikey]:-}" ]; then
			continue
		fi
		target=5
		[ "$audit" = file ] && target=10
		# The cost is read from the ratios to the bare route of the same
		# server (each audited server's against the audit-off server's), so
		# that it does not move with the machine's speed from one server
		# process to the next, minutes apart; the raw rates' difference is
		# shown beside it.
		for r in apikey token signed; do
			awk -v s="$storage" -v a="$audit" -v n="$(label "$r")" -v x="${RATIO[$storage.$audit.$r]}" -v o="${RATIO[$storage.off.$r]}" \
				-v xrps="${RPS[$storage.$audit.$r]}" -v orps="${RPS[$storage.off.$r]}" -v t="$target" \
				-v xc="${CPU[$storage.$audit.$r]:-}" -v xb="${CPU[$storage.$audit.$(baseline "$r")]:-}" \
				-v oc="${CPU[$storage.off.$r]:-}" -v ob="${CPU[$storage.off.$(baseline "$r")]:-}" \
				'BEGIN { c = (1 - x / o) * 100; raw = (orps - xrps) / orps * 100
					cpu = (xc != "" && xb != "" && oc != "" && ob != "") ? sprintf("; server CPU: %+.2f us a request over the same request unaudited", (xc - xb) - (oc - ob)) : ""
					printf "%s, audit %s costs %.1f%% of %s throughput (%.3fx bare against %.3fx with audit off; raw rates: %.1f%%%s): target <= %d%%: %s\n", s, a, c, n, x, o, raw, cpu, t, (c <= t ? "met" : "NOT met") }'
		done
	done
done

if [ "$failures" -gt 0 ]; then
	echo "load: $failures check(s) failed" >&2
	exit 1
fi
echo "load: all checks passed"
