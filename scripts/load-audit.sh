#!/usr/bin/env bash
# What request auditing costs keygate serve under load, and whether the audit
# file holds exactly one line per request served.
#
#   ./scripts/load-audit.sh
#   DURATION=30s THREADS=1 CONNECTIONS=16 ROUNDS=3 ./scripts/load-audit.sh
#
# It builds keygate, then for each configuration — audit off (--no-audit),
# in-memory audit and file audit (--audit-file, blocking policy), all with
# --db memory — starts `keygate serve` on 127.0.0.1 (a free port), runs wrk
# against GET /v1/whoami with the printed test secret key, and stops the
# server with SIGTERM (which flushes the audit writer). It then checks the
# audit file: every line parses as JSON, no line holds a secret the server
# printed, and the request events for /v1/whoami number between wrk's
# completed requests and that plus the connections (requests still in
# flight when wrk stops are served but not counted by wrk). When the server
# exposes GET /metrics with keygate_requests_total, the request events must
# equal its sum exactly. It prints a summary and exits non-zero if a check
# fails. The throughput target (audit costing at most TARGET_PCT percent)
# is reported, not enforced: shared machines are too noisy for a gate.
# --no-audit also turns off the request metrics, so the cost measured is
# that of audit events and metrics together. ROUNDS repeats the three runs
# and reports the median cost.
#
# Not part of scripts/test.sh. Needs wrk and curl (installed from Debian
# packages if missing, with sudo when not root) and python3 or jq for the
# JSON check. Everything it starts listens on 127.0.0.1 only, and it stops
# its servers and removes its temporary directory however it exits.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${DURATION:-10s}
# One wrk thread: on a 2-CPU machine shared by wrk and the server, -t1 gave
# steady rates (within about 2% from run to run), -t2 swung by 30%.
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-16}
TARGET_PCT=${TARGET_PCT:-10}
ROUNDS=${ROUNDS:-1} # repeat off, memory, file this many times (for steadier numbers)

# Hard limits, in seconds, so that the script always ends by itself.
START_TIMEOUT=60 # build excluded: from exec to "listening on"
STOP_TIMEOUT=30  # SIGTERM to exit (the server allows itself 10s, then flushes)

die() {
	echo "load-audit: $*" >&2
	exit 1
}

# seconds converts a wrk duration (10, 10s, 2m, 1h) to seconds.
seconds() {
	case $1 in
	*[!0-9smh]* | '') die "bad DURATION $1" ;;
	*h) echo $((${1%h} * 3600)) ;;
	*m) echo $((${1%m} * 60)) ;;
	*s) echo "${1%s}" ;;
	*) echo "$1" ;;
	esac
}
duration_s=$(seconds "$DURATION")
case $ROUNDS in '' | *[!0-9]* | 0) die "ROUNDS must be a positive integer" ;; esac
[ "$duration_s" -gt 0 ] || die "DURATION must be positive"

NEED_NAME=load-audit
# shellcheck source=scripts/need.sh
. scripts/need.sh
need wrk wrk
need curl curl
need timeout coreutils
if command -v python3 >/dev/null 2>&1; then
	json_checker=python3
elif command -v jq >/dev/null 2>&1; then
	json_checker=jq
else
	json_checker=none
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/keygate-load.XXXXXX")
server_pid=
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "==> building keygate"
# The go.work at the root makes ./cmd/keygate (a module of its own) build
# from here, unless the environment turned workspaces off.
env -u GOWORK go build -o "$tmp/keygate" ./cmd/keygate

# wait_for FILE PATTERN PID: wait until FILE has a line matching PATTERN,
# while PID lives, for at most START_TIMEOUT seconds.
wait_for() {
	local deadline=$((SECONDS + START_TIMEOUT))
	until grep -q "$2" "$1" 2>/dev/null; do
		kill -0 "$3" 2>/dev/null || return 1
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.1
	done
}

# stop_server sends SIGTERM and waits for the server to exit, at most
# STOP_TIMEOUT seconds; then it kills it and fails.
stop_server() {
	local deadline=$((SECONDS + STOP_TIMEOUT)) status=0
	kill -TERM "$server_pid"
	while kill -0 "$server_pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$server_pid" 2>/dev/null || true
			wait "$server_pid" 2>/dev/null || true
			server_pid=
			die "the server did not stop within ${STOP_TIMEOUT}s of SIGTERM"
		fi
		sleep 0.1
	done
	wait "$server_pid" || status=$?
	server_pid=
	return "$status"
}

# metrics_total prints the sum of keygate_requests_total at URL, or nothing
# if the server has no /metrics (404) or no such counter.
metrics_total() {
	local code
	code=$(curl -s -o "$tmp/metrics.txt" -w '%{http_code}' --max-time 5 "$1") || return 0
	[ "$code" = 200 ] || return 0
	awk '
		/^keygate_requests_total[{ ]/ { sum += $NF; found = 1 }
		END { if (found) printf "%.0f\n", sum }
	' "$tmp/metrics.txt"
}

# The wrk script sets the Authorization header (so that the key is not in
# wrk's command line, which other users can see) and reports the summary
# in a form easy to read back.
cat >"$tmp/report.lua" <<'EOF'
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format("RESULT requests=%d duration_us=%d errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d latency_p50_us=%d latency_p99_us=%d\n",
		summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
		latency:percentile(50), latency:percentile(99)))
end
EOF

# field NAME FILE prints NAME's value from wrk's RESULT line.
field() {
	sed -n "s/^RESULT .*\<$1=\([0-9]*\).*/\1/p" "$2"
}

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

declare -A rps total lines mtotal
configs=(off memory file)
# run_one NAME ROUND runs one configuration: start the server, load it,
# stop it, check its audit file.
run_one() {
	local name=$1 round=$2 k=$1.$2
	local out url key probe requests duration_us non2xx errs prev cur
	local audit all req whoami bad leaked probes
	local -a flags
	case $name in
	off) flags=(--no-audit) ;;
	memory) flags=() ;;
	file) flags=(--audit-file "$tmp/audit.jsonl") ;;
	esac
	echo "==> round $round/$ROUNDS, $name: keygate serve ${flags[*]/#$tmp/\$tmp}"
	rm -f "$tmp/audit.jsonl"
	out=$tmp/serve-$name.out # holds the printed keys: never shown
	"$tmp/keygate" serve --db memory --addr 127.0.0.1:0 "${flags[@]}" >"$out" 2>"$tmp/serve-$name.err" &
	server_pid=$!
	if ! wait_for "$out" '^listening on http://127\.0\.0\.1:[0-9]*$' "$server_pid"; then
		cat "$tmp/serve-$name.err" >&2
		die "$name: the server did not start listening within ${START_TIMEOUT}s"
	fi
	url=$(sed -n 's/^listening on //p' "$out")
	key=$(sed -n 's/^test secret key: //p' "$out")
	[[ $key =~ ^[a-z]+_test_sk_[0-9A-Za-z]+$ ]] || die "$name: no test secret key in the server's output"
	# Every secret the server printed, for the grep of the audit file: the
	# value of each "label: value" line of the banner but the public key
	# IDs, and the password of "test user: NAME / PASSWORD".
	sed -n '/^listening on /q; /key id: /d; s/^test user: [^ ]* \/ //p; t
		s/^[a-z][a-z ]*: //p' "$out" >"$tmp/secrets"
	[ "$(wc -l <"$tmp/secrets")" -ge 4 ] || die "$name: the server printed fewer secrets than expected"

	# Is there a /metrics with the request counter? (Probe before the load:
	# without /metrics the probe is an audited 404, so it is counted below.)
	probe=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/metrics" || true)

	printf 'wrk.headers["Authorization"] = "Bearer %s"\n' "$key" >"$tmp/auth.lua"
	cat "$tmp/auth.lua" "$tmp/report.lua" >"$tmp/wrk.lua"
	rm -f "$tmp/auth.lua"
	timeout --kill-after=5 $((duration_s + 30)) \
		wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -s "$tmp/wrk.lua" "$url/v1/whoami" >"$tmp/wrk-$name.txt" ||
		die "$name: wrk failed: $(cat "$tmp/wrk-$name.txt")"
	requests=$(field requests "$tmp/wrk-$name.txt")
	duration_us=$(field duration_us "$tmp/wrk-$name.txt")
	if [ -z "$requests" ] || [ -z "$duration_us" ] || [ "$requests" -eq 0 ]; then
		die "$name: no result from wrk: $(cat "$tmp/wrk-$name.txt")"
	fi
	total[$k]=$requests
	rps[$k]=$(awk -v n="$requests" -v us="$duration_us" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
	non2xx=$(field errors_status "$tmp/wrk-$name.txt")
	errs=$(($(field errors_connect "$tmp/wrk-$name.txt") + $(field errors_read "$tmp/wrk-$name.txt") + $(field errors_write "$tmp/wrk-$name.txt") + $(field errors_timeout "$tmp/wrk-$name.txt")))
	[ "$non2xx" -eq 0 ] || fail "$name: $non2xx responses were not 2xx"
	[ "$errs" -eq 0 ] || echo "note: $name: wrk counted $errs socket errors" >&2

	# Scrape /metrics once the requests still in flight are served: until
	# two scrapes agree.
	mtotal[$k]=
	if [ "$probe" != 404 ]; then
		prev=
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			sleep 0.3
			cur=$(metrics_total "$url/metrics")
			[ -n "$cur" ] && [ "$cur" = "$prev" ] && break
			prev=$cur
		done
		mtotal[$k]=$cur
	fi
	[ -n "${mtotal[$k]}" ] || echo "note: $name: no /metrics with keygate_requests_total (probe: HTTP $probe); skipping the exact count" >&2

	stop_server || fail "$name: the server exited with status $? (stderr: $(tail -3 "$tmp/serve-$name.err"))"

	if [ "$name" = file ]; then
		audit=$tmp/audit.jsonl
		[ -s "$audit" ] || die "file: no audit file"
		all=$(grep -c '' "$audit" || true)
		case $json_checker in
		python3)
			# prints: lines request_events whoami_events bad_lines
			read -r _ req whoami bad < <(python3 -c '
import json, sys
lines = req = whoami = bad = 0
with open(sys.argv[1], "rb") as f:
    for raw in f:
        lines += 1
        try:
            e = json.loads(raw)
        except ValueError:
            bad += 1
            continue
        if not isinstance(e, dict):
            bad += 1
        elif "action" not in e and not e.get("gap"):
            req += 1
            whoami += e.get("path") == "/v1/whoami"
print(lines, req, whoami, bad)
' "$audit")
			[ -n "${bad:-}" ] || die "file: the JSON check failed"
			;;
		jq)
			jq -e . "$audit" >/dev/null 2>&1 && bad=0 || bad=unknown
			req=$(jq -c 'select(has("action") | not) | select((.gap // 0) == 0)' "$audit" | grep -c '' || true)
			whoami=$(jq -c 'select(has("action") | not) | select(.path == "/v1/whoami")' "$audit" | grep -c '' || true)
			;;
		none)
			echo "note: neither python3 nor jq: lines are counted, not parsed" >&2
			bad=unchecked
			req=$(grep -vc '"action":' "$audit" || true)
			whoami=$(grep -c '"path":"/v1/whoami"' "$audit" || true)
			;;
		esac
		lines[$k]=$whoami
		[ "$bad" = 0 ] || [ "$bad" = unchecked ] || fail "file: $bad audit lines do not parse as JSON"
		leaked=$(grep -c -F -f "$tmp/secrets" "$audit" || true)
		[ "$leaked" -eq 0 ] || fail "file: $leaked audit lines hold a secret the server printed"
		if [ "$whoami" -lt "$requests" ] || [ "$whoami" -gt $((requests + CONNECTIONS)) ]; then
			fail "file: $whoami request events for /v1/whoami; wrk completed $requests with $CONNECTIONS connections: want $requests to $((requests + CONNECTIONS))"
		fi
		probes=$((req - whoami))
		if [ -n "${mtotal[$k]}" ]; then
			if [ "$req" -lt "${mtotal[$k]}" ]; then
				fail "file: $req request events, but keygate_requests_total sums to ${mtotal[$k]}: $((mtotal[$k] - req)) request(s) served and counted have no audit event"
			elif [ "$req" -gt "${mtotal[$k]}" ]; then
				fail "file: $req request events, but keygate_requests_total sums to ${mtotal[$k]}: $((req - mtotal[$k])) event(s) more than requests counted"
			fi
		elif [ "$probes" -ne 1 ]; then
			fail "file: $probes request events besides /v1/whoami; want 1 (the /metrics probe)"
		fi
		echo "file: $all audit lines: $req request events ($whoami for /v1/whoami, $probes other), $((all - req)) management events; all parse as JSON: $bad bad; no secret"
	fi
}

for round in $(seq "$ROUNDS"); do
	for name in "${configs[@]}"; do
		run_one "$name" "$round"
	done
done

echo
echo "==> summary (wrk -t$THREADS -c$CONNECTIONS -d$DURATION, GET /v1/whoami with a secret key, $(nproc) CPUs shared by wrk and the server)"
printf '%-8s %5s %10s %10s %12s %14s %12s\n' config round 'req/s' requests 'audit lines' 'metrics total' 'cost vs off'
for round in $(seq "$ROUNDS"); do
	for name in "${configs[@]}"; do
		k=$name.$round
		cost=-
		if [ "$name" != off ]; then
			cost=$(awk -v a="${rps[$k]}" -v b="${rps[off.$round]}" 'BEGIN { printf "%+.1f%%", (b - a) / b * 100 }')
		fi
		printf '%-8s %5s %10s %10s %12s %14s %12s\n' "$name" "$round" "${rps[$k]}" "${total[$k]}" "${lines[$k]:-n/a}" "${mtotal[$k]:-n/a}" "$cost"
	done
done
# The cost of each audit configuration: over the rounds, the median of its
# per-round cost (each round compares with the audit-off run just before).
for name in memory file; do
	for round in $(seq "$ROUNDS"); do
		awk -v a="${rps[$name.$round]}" -v b="${rps[off.$round]}" 'BEGIN { printf "%.4f\n", (b - a) / b * 100 }'
	done | sort -g | awk -v t="$TARGET_PCT" -v n="$name" -v r="$ROUNDS" '
		{ c[NR] = $1 }
		END {
			m = (NR % 2) ? c[(NR + 1) / 2] : (c[NR / 2] + c[NR / 2 + 1]) / 2
			printf "%s audit costs %.1f%% of the throughput%s: target <= %d%% %s (reported, not enforced)\n",
				n, m, (r > 1 ? " (median of " r " rounds)" : ""), t, (m <= t ? "met" : "NOT met")
		}'
done
if [ "$failures" -gt 0 ]; then
	echo "load-audit: $failures check(s) failed" >&2
	exit 1
fi
echo "load-audit: audit line checks passed"
