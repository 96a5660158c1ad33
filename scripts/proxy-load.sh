#!/usr/bin/env bash
# The gateway's performance figures (issue 15 §7), with wrk on loopback:
#
#   ./scripts/proxy-load.sh
#
# 1. Forward-auth through nginx against nginx proxying directly: the
#    median latency of one connection (wrk -c1) through nginx with
#    auth_request to keygate's /auth/verify, minus that through nginx
#    proxying straight to the same upstream. Target: at most 150 µs. For
#    scale, the same with auth_request to the upstream itself (a
#    subrequest that does no work): what nginx's subrequest alone adds;
#    and with auth_request to a bare Go net/http server answering 200
#    (the Go floor): what any Go forward-auth server adds, before
#    keygate's own work.
# 2. keygate's reverse proxy against a bare httputil.ReverseProxy to the
#    same upstream: requests per second at KEYGATE_LOAD_CONNECTIONS
#    connections, and their ratio. Target: at least 0.8.
#
# Each request carries the demo's test secret key (an API key: verified,
# account looked up, route's permission and package checked, audited in
# memory). The upstream is nginx answering 200 "ok". Everything listens
# on 127.0.0.1 only, on KEYGATE_LOAD_PORT .. KEYGATE_LOAD_PORT+7; each
# wrk run lasts KEYGATE_LOAD_SECONDS, each start waits at most 30 s, and
# everything started here is stopped on exit. Figures on a shared or busy
# machine are noisy: compare the runs of one invocation only.
#
# Needs go, nginx (with auth_request: nginx-light), wrk (apt-get install
# wrk); scripts/services.sh start installs nginx.
#
# Settings (environment):
#
#   KEYGATE_LOAD_PORT         first port (18080)
#   KEYGATE_LOAD_SECONDS      duration of each wrk run (10)
#   KEYGATE_LOAD_CONNECTIONS  connections of the throughput runs (32)
#   KEYGATE_LOAD_THREADS      wrk threads of the throughput runs (2)
#   KEYGATE_LOAD_NO_AUDIT     1: keygate records no audit events (no_audit),
#                             to see what auditing costs
set -euo pipefail

PORT=${KEYGATE_LOAD_PORT:-18080}
SECONDS_EACH=${KEYGATE_LOAD_SECONDS:-10}
CONNS=${KEYGATE_LOAD_CONNECTIONS:-32}
THREADS=${KEYGATE_LOAD_THREADS:-2}
NO_AUDIT=false
[ "${KEYGATE_LOAD_NO_AUDIT:-}" = 1 ] && NO_AUDIT=true
UP=$PORT DIRECT=$((PORT + 1)) AUTH=$((PORT + 2)) BARE=$((PORT + 3)) KG=$((PORT + 4)) FLOOR=$((PORT + 5))
GOAUTH=$((PORT + 6)) GOFLOOR=$((PORT + 7))

die() {
	echo "proxy-load: $*" >&2
	exit 1
}

case $PORT$SECONDS_EACH$CONNS$THREADS in
*[!0-9]*) die "KEYGATE_LOAD_PORT, _SECONDS, _CONNECTIONS and _THREADS must be numbers" ;;
esac
command -v wrk >/dev/null 2>&1 || die "wrk is missing: apt-get install wrk"
command -v go >/dev/null 2>&1 || die "go is missing"
NGINX=$(command -v nginx || true)
[ -n "$NGINX" ] || { [ -x /usr/sbin/nginx ] && NGINX=/usr/sbin/nginx; } || die "nginx is missing: ./scripts/services.sh start installs it"

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DIR=$(mktemp -d)
PIDS=()
cleanup() {
	local pid
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	rm -rf "$DIR"
}
trap cleanup EXIT

# wait_port waits (at most 30 s) until 127.0.0.1:$1 accepts connections.
wait_port() {
	local deadline=$((SECONDS + 30))
	until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do
		[ "$SECONDS" -lt "$deadline" ] || die "nothing listens on 127.0.0.1:$1 after 30 s"
		sleep 0.1
	done
}

echo "building keygate and the bare proxy"
(cd "$ROOT/cmd/keygate" && GOWORK=off go build -o "$DIR/keygate" .)
mkdir -p "$DIR/bare"
cat >"$DIR/bare/main.go" <<'EOF'
// The bare reverse proxy: httputil.ReverseProxy to the upstream, nothing
// else.
package main

import (
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
)

func main() {
	up, err := url.Parse(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(http.ListenAndServe(os.Args[1], &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(up)
		pr.SetXForwarded()
	}}))
}
EOF
(cd "$DIR/bare" && GO111MODULE=off go build -o "$DIR/bare-proxy" main.go)
mkdir -p "$DIR/bareauth"
cat >"$DIR/bareauth/main.go" <<'EOF'
// The bare forward-auth server: net/http with keygate's server timeouts,
// answering 200 with an identity header, nothing else.
package main

import (
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	srv := &http.Server{
		Addr: os.Args[1],
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Keygate-Account", "acct_floor")
			w.WriteHeader(http.StatusOK)
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	log.Fatal(srv.ListenAndServe())
}
EOF
(cd "$DIR/bareauth" && GO111MODULE=off go build -o "$DIR/bare-auth" main.go)

echo "starting keygate on 127.0.0.1:$KG"
cat >"$DIR/keygate.yaml" <<EOF
listen: 127.0.0.1:$KG
db: memory
demo: true
no_audit: $NO_AUDIT
routes:
  - {match: "GET /orders/{id}", permission: "stores:read", tier: DISCOVER, upstream: "http://127.0.0.1:$UP"}
EOF
"$DIR/keygate" serve --config "$DIR/keygate.yaml" >"$DIR/keygate.out" 2>"$DIR/keygate.err" &
PIDS+=($!)
deadline=$((SECONDS + 30))
until grep -q '^listening on ' "$DIR/keygate.out"; do
	[ "$SECONDS" -lt "$deadline" ] || die "keygate did not start within 30 s: $(tail -n 5 "$DIR/keygate.err")"
	sleep 0.1
done
KEY=$(sed -n 's/^test secret key: //p' "$DIR/keygate.out")
[ -n "$KEY" ] || die "keygate printed no test secret key"

# floor_server prints the nginx server on 127.0.0.1:$1 whose auth_request
# asks upstream $2, which does no checking, before proxying to the
# service.
floor_server() {
	cat <<EOF
	server {
		listen 127.0.0.1:$1;
		location = /auth/verify {
			internal;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://$2;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
		}
		location / {
			auth_request /auth/verify;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://service;
		}
	}
EOF
}

echo "starting nginx (upstream :$UP, direct :$DIRECT, auth_request :$AUTH) and the bare proxy (:$BARE)"
mkdir -p "$DIR/nginx"
cat >"$DIR/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $DIR/nginx/body;
	proxy_temp_path $DIR/nginx/proxy;
	fastcgi_temp_path $DIR/nginx/fastcgi;
	uwsgi_temp_path $DIR/nginx/uwsgi;
	scgi_temp_path $DIR/nginx/scgi;
	upstream service { server 127.0.0.1:$UP; keepalive 64; }
	upstream keygate { server 127.0.0.1:$KG; keepalive 64; }
	upstream goauth { server 127.0.0.1:$GOAUTH; keepalive 64; }
	server {
		listen 127.0.0.1:$UP;
		location / { return 200 "ok\n"; }
	}
	server {
		listen 127.0.0.1:$DIRECT;
		location / {
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://service;
		}
	}
$(floor_server "$FLOOR" service)
$(floor_server "$GOFLOOR" goauth)
	server {
		listen 127.0.0.1:$AUTH;
		location = /auth/verify {
			internal;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://keygate;
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
			proxy_set_header X-Original-Method \$request_method;
			proxy_set_header X-Original-URI \$request_uri;
			proxy_set_header X-Forwarded-Host \$http_host;
			proxy_set_header X-Forwarded-Proto \$scheme;
			proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		}
		location / {
			auth_request /auth/verify;
			auth_request_set \$kg_account \$upstream_http_x_keygate_account;
			auth_request_set \$kg_key_id \$upstream_http_x_keygate_key_id;
			proxy_set_header X-Keygate-Account \$kg_account;
			proxy_set_header X-Keygate-Key-Id \$kg_key_id;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass http://service;
		}
	}
}
EOF
"$NGINX" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf" -e "$DIR/nginx/error.log" &
PIDS+=($!)
"$DIR/bare-proxy" "127.0.0.1:$BARE" "http://127.0.0.1:$UP" 2>"$DIR/bare.err" &
PIDS+=($!)
"$DIR/bare-auth" "127.0.0.1:$GOAUTH" 2>"$DIR/bare-auth.err" &
PIDS+=($!)
wait_port "$UP"
wait_port "$DIRECT"
wait_port "$AUTH"
wait_port "$BARE"
wait_port "$FLOOR"
wait_port "$GOAUTH"
wait_port "$GOFLOOR"

# check: each path answers 200 with the key (and forward-auth 401 without).
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
if command -v curl >/dev/null 2>&1; then
	[ "$(status -H "Authorization: Bearer $KEY" "http://127.0.0.1:$AUTH/orders/1")" = 200 ] || die "nginx auth_request did not let the key through"
	[ "$(status "http://127.0.0.1:$AUTH/orders/1")" = 401 ] || die "nginx auth_request let a request without a key through"
	[ "$(status -H "Authorization: Bearer $KEY" "http://127.0.0.1:$KG/orders/1")" = 200 ] || die "keygate's proxy did not let the key through"
fi

# run_wrk prints wrk's report of one run: threads, connections, URL.
run_wrk() {
	timeout $((SECONDS_EACH + 30)) wrk -t"$1" -c"$2" -d"${SECONDS_EACH}s" --latency -H "Authorization: Bearer $KEY" "$3"
}

# median_us prints the 50% latency of a wrk report, in microseconds.
median_us() {
	awk '$1 == "50%" {
		v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
		if (u == "us") f = 1; else if (u == "ms") f = 1000; else if (u == "s") f = 1000000; else f = 0
		printf "%.0f\n", v * f
	}'
}

# rps prints the requests per second of a wrk report.
rps() { awk '$1 == "Requests/sec:" { printf "%.0f\n", $2 }'; }

echo
echo "== latency, 1 connection, ${SECONDS_EACH}s each"
direct=$(run_wrk 1 1 "http://127.0.0.1:$DIRECT/orders/1")
floor=$(run_wrk 1 1 "http://127.0.0.1:$FLOOR/orders/1")
gofloor=$(run_wrk 1 1 "http://127.0.0.1:$GOFLOOR/orders/1")
auth=$(run_wrk 1 1 "http://127.0.0.1:$AUTH/orders/1")
d50=$(median_us <<<"$direct")
f50=$(median_us <<<"$floor")
g50=$(median_us <<<"$gofloor")
a50=$(median_us <<<"$auth")
echo "nginx -> upstream:                          median ${d50} µs"
echo "nginx auth_request (no work) -> upstream:   median ${f50} µs (the subrequest alone: $((f50 - d50)) µs)"
echo "nginx auth_request bare Go -> upstream:     median ${g50} µs (a Go server's floor: $((g50 - f50)) µs more)"
echo "nginx auth_request keygate -> upstream:     median ${a50} µs (keygate's work: $((a50 - g50)) µs more)"
echo "forward-auth adds:                          $((a50 - d50)) µs at the median (target ≤ 150 µs)"

echo
echo "== throughput, $THREADS threads, $CONNS connections, ${SECONDS_EACH}s each"
bare=$(run_wrk "$THREADS" "$CONNS" "http://127.0.0.1:$BARE/orders/1")
kg=$(run_wrk "$THREADS" "$CONNS" "http://127.0.0.1:$KG/orders/1")
b_rps=$(rps <<<"$bare")
k_rps=$(rps <<<"$kg")
echo "bare httputil.ReverseProxy:  ${b_rps} req/s"
echo "keygate reverse proxy:       ${k_rps} req/s"
awk -v k="$k_rps" -v b="$b_rps" 'BEGIN { printf "ratio:                       %.2f (target ≥ 0.80)\n", k / b }'
