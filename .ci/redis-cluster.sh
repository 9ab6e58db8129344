#!/bin/sh
# Starts or stops a three-master Redis Cluster on loopback ports 7001-7003,
# for the cluster tests of backend/redis:
#
#   .ci/redis-cluster.sh start
#   FOXSTORE_TEST_REDIS_CLUSTER=127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003 go test ./backend/redis/...
#   .ci/redis-cluster.sh stop
#
# Nothing is persisted (no RDB, no AOF); the node files live in a temporary
# directory that stop removes. Needs redis-server and redis-cli (Redis 6.2+).
set -eu

PORTS="${REDIS_CLUSTER_PORTS:-7001 7002 7003}"
STATE="${TMPDIR:-/tmp}/foxstore-redis-cluster"   # remembers the data directory
HOST=127.0.0.1

start() {
	if [ -f "$STATE" ]; then
		echo "redis-cluster: already started (dir $(cat "$STATE")); run '$0 stop' first" >&2
		exit 1
	fi
	dir=$(mktemp -d "${TMPDIR:-/tmp}/foxstore-redis-cluster.XXXXXX")
	echo "$dir" >"$STATE"
	addrs=""
	for p in $PORTS; do
		redis-server --port "$p" --bind "$HOST" --cluster-enabled yes \
			--cluster-config-file "$dir/nodes-$p.conf" --cluster-node-timeout 5000 \
			--save "" --appendonly no --daemonize yes --dir "$dir" \
			--pidfile "$dir/redis-$p.pid" --logfile "$dir/redis-$p.log"
		addrs="$addrs $HOST:$p"
	done
	for p in $PORTS; do
		wait_for "node $p" sh -c "redis-cli -h $HOST -p $p ping 2>/dev/null | grep -q PONG"
	done
	# shellcheck disable=SC2086 # addrs is a list of words
	redis-cli --cluster create $addrs --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 || {
		cat "$dir/create.log" >&2
		exit 1
	}
	for p in $PORTS; do
		wait_for "cluster_state:ok on $p" sh -c "redis-cli -h $HOST -p $p cluster info | grep -q '^cluster_state:ok'"
	done
	echo "redis-cluster: started on$addrs (dir $dir)"
	echo "FOXSTORE_TEST_REDIS_CLUSTER=$(echo $addrs | tr ' ' ',')"
}

stop() {
	dir=""
	[ -f "$STATE" ] && dir=$(cat "$STATE")
	for p in $PORTS; do
		redis-cli -h "$HOST" -p "$p" shutdown nosave >/dev/null 2>&1 || true
	done
	for p in $PORTS; do
		wait_for "node $p to stop" sh -c "! redis-cli -h $HOST -p $p ping >/dev/null 2>&1"
	done
	if [ -n "$dir" ]; then
		case "$dir" in
		*/foxstore-redis-cluster.*) rm -rf "$dir" ;;
		esac
	fi
	rm -f "$STATE"
	echo "redis-cluster: stopped"
}

# wait_for DESCRIPTION COMMAND...: retries COMMAND for up to 30 seconds.
wait_for() {
	what=$1
	shift
	i=0
	until "$@"; do
		i=$((i + 1))
		if [ "$i" -ge 300 ]; then
			echo "redis-cluster: timed out waiting for $what" >&2
			exit 1
		fi
		sleep 0.1
	done
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
