#!/usr/bin/env bash
# The real servers that the storage backends' tests run against: Redis and
# PostgreSQL, on loopback, on high ports, in a throwaway data directory.
#
#   ./scripts/services.sh start     # install if missing, start (idempotent)
#   eval "$(./scripts/services.sh env)"
#   ./scripts/services.sh status    # exit 0 if both answer and the proxies are installed
#   ./scripts/services.sh stop      # stop both and remove their data
#
# env prints the variables the tests read (internal/servicetest):
#
#   export KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:16379/0
#   export KEYGATE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:15432/keygate_test?sslmode=disable
#
# start installs redis-server and postgresql through apt-get when they are
# missing (as root, or through sudo), and the front proxies the gateway's
# tests put in front of keygate, nginx-light and caddy (the tests start
# those themselves, since their configuration names keygate's port; start
# checks that each runs and that nginx has auth_request). It starts Redis with no persistence and
# a PostgreSQL cluster (initdb on first start) with trust authentication on
# 127.0.0.1 only, creates the database keygate_test, and waits until both
# answer. A server already answering on its port is left as it is. Every
# wait is bounded (KEYGATE_SERVICES_TIMEOUT seconds each, default 60), and
# any failure exits non-zero with the reason on stderr. stop stops only the
# servers this script started in the data directory, then removes what it
# created there. scripts/test.sh starts them, and stops them on exit.
#
# Settings (environment):
#
#   KEYGATE_REDIS_PORT        Redis port (16379)
#   KEYGATE_POSTGRES_PORT     PostgreSQL port (15432)
#   KEYGATE_SERVICES_DIR      data directory (/tmp/keygate-services)
#   KEYGATE_POSTGRES_BIN      PostgreSQL's bin directory (the newest
#                             /usr/lib/postgresql/*/bin)
#   KEYGATE_SERVICES_TIMEOUT  seconds to wait for each server (60)
set -euo pipefail

REDIS_PORT=${KEYGATE_REDIS_PORT:-16379}
PG_PORT=${KEYGATE_POSTGRES_PORT:-15432}
DIR=${KEYGATE_SERVICES_DIR:-/tmp/keygate-services}
TIMEOUT=${KEYGATE_SERVICES_TIMEOUT:-60}
PG_DB=keygate_test

REDIS_DIR=$DIR/redis
PG_DATA=$DIR/postgres

die() {
	echo "services: $*" >&2
	exit 1
}

say() {
	echo "services: $*"
}

case $REDIS_PORT$PG_PORT$TIMEOUT in
*[!0-9]*) die "KEYGATE_REDIS_PORT, KEYGATE_POSTGRES_PORT and KEYGATE_SERVICES_TIMEOUT must be numbers" ;;
esac
case $DIR in
/*) ;;
*) die "KEYGATE_SERVICES_DIR must be an absolute path, not $DIR" ;;
esac

is_root() { [ "$(id -u)" -eq 0 ]; }

# as_root runs a command as root: directly, or through sudo when there is one.
as_root() {
	if is_root; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		die "installing packages needs root, and there is no sudo: install $* yourself"
	fi
}

# as_postgres runs a PostgreSQL server program as the postgres user when
# root (the server refuses to run as root), else as the current user.
as_postgres() {
	if is_root; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_bin() {
	if [ -n "${KEYGATE_POSTGRES_BIN:-}" ]; then
		printf '%s\n' "$KEYGATE_POSTGRES_BIN"
		return
	fi
	local d
	d=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -t/ -k5,5n | tail -n1)
	printf '%s\n' "$d"
}

# install installs the packages that are missing, updating the package
# lists first (only when something is to be installed).
install() {
	local missing=()
	command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
	command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
	local bin
	bin=$(pg_bin)
	if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
		missing+=(postgresql)
	fi
	nginx_bin >/dev/null || missing+=(nginx-light)
	command -v caddy >/dev/null 2>&1 || missing+=(caddy)
	if [ "${#missing[@]}" -eq 0 ]; then
		return
	fi
	command -v apt-get >/dev/null 2>&1 ||
		die "${missing[*]} missing, and there is no apt-get to install them with"
	say "installing ${missing[*]} (apt-get)"
	local log
	log=$(mktemp)
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$log" 2>&1 9>&-; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get update failed"
	fi
	# Debian 12 has nginx-light; later releases only nginx (which has
	# auth_request too).
	if [[ " ${missing[*]} " == *" nginx-light "* ]] && ! apt-cache show nginx-light >/dev/null 2>&1; then
		missing=("${missing[@]/#nginx-light/nginx}")
	fi
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 9>&-; then
		tail -n 20 "$log" >&2
		rm -f "$log"
		die "apt-get could not install ${missing[*]}"
	fi
	rm -f "$log"
	bin=$(pg_bin)
	[ -n "$bin" ] && [ -x "$bin/initdb" ] || die "postgresql installed, but no /usr/lib/postgresql/*/bin/initdb"
}

# nginx_bin prints nginx's path: on PATH, or /usr/sbin/nginx (Debian's,
# outside a user's PATH).
nginx_bin() {
	if command -v nginx 2>/dev/null; then
		return
	fi
	[ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx
}

# check_proxies checks, within TIMEOUT seconds each, that the installed
# nginx runs and has the auth_request module (nginx-light does), and that
# caddy runs. The package's own nginx service, if apt-get started one, is
# left alone: the tests run their own on other ports.
check_proxies() {
	local nginx
	nginx=$(nginx_bin) || die "nginx is not installed"
	timeout "$TIMEOUT" "$nginx" -V 2>&1 | grep -q -- --with-http_auth_request_module ||
		die "$nginx has no auth_request module (install nginx-light, or nginx)"
	timeout "$TIMEOUT" caddy version >/dev/null 2>&1 || die "caddy does not run"
	say "nginx ($nginx) and caddy ($(command -v caddy)) ready for the gateway tests"
}

# wait_for runs a command until it succeeds, for at most TIMEOUT seconds.
wait_for() {
	local what=$1
	shift
	local deadline=$((SECONDS + TIMEOUT))
	until "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.2
	done
	say "$what ready"
}

redis_up() {
	[ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

pg_up() {
	"$(pg_bin)/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres
}

# pid_alive reports whether the pid file $1 names a live process.
pid_alive() {
	[ -s "$1" ] && kill -0 "$(head -n1 "$1")" 2>/dev/null
}

start_redis() {
	if redis_up; then
		say "Redis already running on 127.0.0.1:$REDIS_PORT"
		return
	fi
	mkdir -p "$REDIS_DIR"
	rm -f "$REDIS_DIR/redis.pid"
	if ! redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes \
		--dir "$REDIS_DIR" --save '' --appendonly no \
		--pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log" 9>&-; then
		die "redis-server did not start (see $REDIS_DIR/redis.log)"
	fi
	if ! wait_for "Redis on 127.0.0.1:$REDIS_PORT" redis_up; then
		tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
		die "Redis did not answer on 127.0.0.1:$REDIS_PORT within ${TIMEOUT}s"
	fi
}

start_postgres() {
	local bin
	bin=$(pg_bin)
	if pg_up; then
		say "PostgreSQL already running on 127.0.0.1:$PG_PORT"
	else
		if [ ! -s "$PG_DATA/PG_VERSION" ]; then
			rm -rf "$PG_DATA"
			mkdir -p "$PG_DATA"
			if is_root; then
				chown postgres: "$PG_DATA"
			fi
			chmod 700 "$PG_DATA"
			local log
			log=$(mktemp)
			if ! as_postgres "$bin/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C \
				--auth-local=trust --auth-host=trust >"$log" 2>&1; then
				cat "$log" >&2
				rm -f "$log"
				die "initdb failed in $PG_DATA"
			fi
			rm -f "$log"
			# A throwaway cluster listening on loopback only: trust
			# every local connection, no password.
			cat >"$PG_DATA/pg_hba.conf" <<-'EOF'
				# TYPE  DATABASE  USER  ADDRESS       METHOD
				local   all       all                 trust
				host    all       all   127.0.0.1/32  trust
			EOF
			if is_root; then
				chown postgres: "$PG_DATA/pg_hba.conf"
			fi
		fi
		# The log lives beside the data directory: the postgres user
		# must be able to write it.
		if ! as_postgres "$bin/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t "$TIMEOUT" \
			-o "-k /tmp -p $PG_PORT -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null 9>&-; then
			tail -n 20 "$PG_DATA/server.log" >&2 || true
			die "PostgreSQL did not start on 127.0.0.1:$PG_PORT (see $PG_DATA/server.log)"
		fi
		if ! wait_for "PostgreSQL on 127.0.0.1:$PG_PORT" pg_up; then
			die "PostgreSQL did not answer on 127.0.0.1:$PG_PORT within ${TIMEOUT}s"
		fi
	fi
	local psql=("$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tA)
	if [ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != 1 ]; then
		"${psql[@]}" -c "CREATE DATABASE $PG_DB" >/dev/null ||
			die "could not create the database $PG_DB"
	fi
}

stop_redis() {
	local pidfile=$REDIS_DIR/redis.pid
	if pid_alive "$pidfile"; then
		local pid
		pid=$(head -n1 "$pidfile")
		kill "$pid"
		local deadline=$((SECONDS + TIMEOUT))
		while kill -0 "$pid" 2>/dev/null; do
			[ "$SECONDS" -lt "$deadline" ] || die "Redis (pid $pid) did not stop within ${TIMEOUT}s"
			sleep 0.1
		done
		say "Redis stopped"
	elif redis_up; then
		say "Redis on 127.0.0.1:$REDIS_PORT was not started here (no pid file in $REDIS_DIR): left running"
	fi
	rm -rf "$REDIS_DIR"
}

stop_postgres() {
	if pid_alive "$PG_DATA/postmaster.pid"; then
		as_postgres "$(pg_bin)/pg_ctl" -D "$PG_DATA" -m fast -w -t "$TIMEOUT" stop >/dev/null ||
			die "PostgreSQL did not stop (see $PG_DATA/server.log)"
		say "PostgreSQL stopped"
	elif pg_up 2>/dev/null; then
		say "PostgreSQL on 127.0.0.1:$PG_PORT was not started here (no postmaster.pid in $PG_DATA): left running"
	fi
	rm -rf "$PG_DATA"
}

print_env() {
	echo "export KEYGATE_TEST_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
	echo "export KEYGATE_TEST_POSTGRES_URL='postgres://postgres@127.0.0.1:$PG_PORT/$PG_DB?sslmode=disable'"
}

# lock serialises start and stop between concurrent callers. The servers
# must not inherit its descriptor (9), or they would hold the lock.
lock() {
	mkdir -p "$DIR"
	chmod 755 "$DIR"
	exec 9>"$DIR/.lock"
	if command -v flock >/dev/null 2>&1; then
		flock -w "$TIMEOUT" 9 || die "another services.sh holds $DIR/.lock"
	fi
}

case ${1:-} in
start)
	lock
	install
	check_proxies
	start_redis
	start_postgres
	;;
stop)
	if [ -d "$DIR" ]; then
		lock
		stop_redis
		stop_postgres
		rm -f "$DIR/.lock"
		rmdir "$DIR" 2>/dev/null || true
	fi
	;;
status)
	command -v redis-cli >/dev/null 2>&1 && [ -n "$(pg_bin)" ] || exit 1
	up=0
	if redis_up; then say "Redis running on 127.0.0.1:$REDIS_PORT"; else say "Redis not running"; up=1; fi
	if pg_up; then say "PostgreSQL running on 127.0.0.1:$PG_PORT"; else say "PostgreSQL not running"; up=1; fi
	if nginx_bin >/dev/null && command -v caddy >/dev/null 2>&1; then say "nginx and caddy installed"; else say "nginx or caddy not installed"; up=1; fi
	exit "$up"
	;;
env)
	print_env
	;;
*)
	echo "usage: $0 start|stop|status|env" >&2
	exit 2
	;;
esac
