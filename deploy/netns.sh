#!/usr/bin/env bash
# Three Picket "hosts" on one machine: three network namespaces joined by a bridge, each
# running a picket-server and a picket-sentinel on its own address, as on three machines.
#
#   sudo deploy/netns.sh up       create the namespaces and the bridge, start the nodes, wait
#                                 until the replicas are linked and the sentinels know each
#                                 other, print the status
#   sudo deploy/netns.sh status   role / offset / link of each server, and the master and the
#                                 other sentinels each sentinel sees
#   sudo deploy/netns.sh drill    kill -9 the current master, wait for the failover, print it
#   sudo deploy/netns.sh down     stop everything, delete the namespaces and the bridge, and
#                                 forget the state
#   sudo deploy/netns.sh start server|sentinel N
#                                 start node N's server or sentinel again if it is not running,
#                                 with its config as it is now (after a kill -9; deploy/jepsen.py)
#
# Layout (defaults; every name can be changed through the environment, see below):
#
#     host ── picketbr0 10.77.0.254/24
#               ├── vp-picket1 ══ eth0 10.77.0.1  netns picket1: server :6379 (master), sentinel :26379
#               ├── vp-picket2 ══ eth0 10.77.0.2  netns picket2: server :6379 (replica),  sentinel :26379
#               └── vp-picket3 ══ eth0 10.77.0.3  netns picket3: server :6379 (replica),  sentinel :26379
#
# Each server announces its own address (replica-announce-ip) and each sentinel too
# (sentinel announce-ip), so what the sentinels publish is what a client must dial. The host
# has an address on the bridge, so clients on the host reach the nodes directly:
#
#   redis-cli -h 10.77.0.1 -p 26379 SENTINEL get-master-addr-by-name mymaster
#   ip netns exec picket2 redis-cli -h 10.77.0.2 INFO replication
#
# Inside the namespaces the names node1..node3 and sentinel1..sentinel3 resolve to the
# nodes' addresses (/etc/netns/<ns>/hosts, which `ip netns exec` mounts over /etc/hosts).
# That lets `PICKET_NETNS_CONFIGS=docker deploy/netns.sh up` run the container deployment's
# own configs (deploy/docker/node*/, through deploy/docker/entrypoint.sh, which uses those
# names and `sentinel resolve-hostnames yes`) without Docker.
#
# Environment:
#   PICKET_BIN_DIR         where picket-server and picket-sentinel are (default: target/release
#                          of this checkout; build with `cargo build --release -p picket-server
#                          -p picket-sentinel`)
#   PICKET_NETNS_DIR       state: configs, data, logs, pids (default: deploy/.netns)
#   PICKET_NETNS_PREFIX    namespace names are PREFIX1..PREFIX3 (default: picket)
#   PICKET_NETNS_BRIDGE    the bridge (default: picketbr0)
#   PICKET_NETNS_SUBNET    the first three octets of the /24 (default: 10.77.0)
#   PICKET_NETNS_DOWN_AFTER  sentinel down-after-milliseconds (default: 1000)
#   PICKET_NETNS_CONFIGS   ip: generated configs, addresses everywhere (default);
#                          docker: deploy/docker/node*/ configs, host names everywhere;
#                          compose: deploy/compose/node*/ configs (deploy/compose.yaml: each
#                          node's sentinel announces the node's name)
#                          (`up` remembers it in the state directory for later commands)
#   PICKET_NETNS_IMPL      picket: picket-server and picket-sentinel (default); redis: Redis's
#                          redis-server and redis-sentinel from PATH (7.0, for comparisons) with
#                          the same generated configs minus Picket's own directives (`up`
#                          remembers it in the state directory for later commands; ip configs only)
#   PICKET_NETNS_SAFETY    classic (default) or strict: strict adds `failover-safety strict`
#                          and at least `min-replicas-to-write 1` to the generated server configs
#                          (picket only: Redis has no strict mode)
#   PICKET_NETNS_MIN_REPLICAS  min-replicas-to-write of the generated server configs (default:
#                          none, or 1 with strict)
#   PICKET_NETNS_LEASE_MS  failover-lease-ms of the generated server configs (default: none,
#                          the server's default of 500; picket only)
#
# Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN) and iproute2 with `ip netns`; exits with
# code 2 and says why when it cannot run here.
set -euo pipefail
export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PICKET_BIN_DIR:-$ROOT/target/release}"
STATE="${PICKET_NETNS_DIR:-$ROOT/deploy/.netns}"
PREFIX="${PICKET_NETNS_PREFIX:-picket}"
BRIDGE="${PICKET_NETNS_BRIDGE:-picketbr0}"
SUBNET="${PICKET_NETNS_SUBNET:-10.77.0}"
DOWN_AFTER="${PICKET_NETNS_DOWN_AFTER:-1000}"
IMPL="${PICKET_NETNS_IMPL:-$(cat "$STATE/impl" 2>/dev/null || echo picket)}"
SAFETY="${PICKET_NETNS_SAFETY:-classic}"
MIN_REPLICAS="${PICKET_NETNS_MIN_REPLICAS:-}"
LEASE_MS="${PICKET_NETNS_LEASE_MS:-}"
# The mode `up` used is remembered for the later commands (drill restarts the old master).
CONFIGS="${PICKET_NETNS_CONFIGS:-$(cat "$STATE/configs" 2>/dev/null || echo ip)}"
MASTER_NAME=mymaster
SERVER_PORT=6379
SENTINEL_PORT=26379
HOST_IP="$SUBNET.254"
NODES=(1 2 3)
CRLF=$'\r\n'

die() { echo "netns.sh: $*" >&2; exit 1; }
# Exit code 2: this machine cannot run the demo (as opposed to: the demo failed).
cannot() {
    echo "netns.sh: cannot run here: $*" >&2
    exit 2
}

ns() { echo "$PREFIX$1"; }
node_ip() { echo "$SUBNET.$1"; }
veth() { echo "vp-$PREFIX$1"; }
node_dir() { echo "$STATE/node$1"; }
# The node number of a server address as the sentinels report it (10.77.0.2 or node2).
node_of() {
    case "$1" in
    "$SUBNET".*) echo "${1##*.}" ;;
    node*) echo "${1#node}" ;;
    *) return 1 ;;
    esac
}

preflight() {
    [ "$(id -u)" -eq 0 ] || cannot "needs root to create network namespaces (try: sudo $0 ${1:-up})"
    command -v ip >/dev/null 2>&1 || cannot "the 'ip' command (iproute2) is not installed"
    ip netns list >/dev/null 2>&1 || cannot "'ip netns' is not supported by this iproute2 or kernel"
    [[ "$SUBNET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "PICKET_NETNS_SUBNET must look like 10.77.0"
    [ ${#BRIDGE} -le 15 ] || die "bridge name '$BRIDGE' is longer than 15 characters"
    [ ${#PREFIX} -le 11 ] || die "PICKET_NETNS_PREFIX '$PREFIX' is longer than 11 characters"
    [ "$CONFIGS" = ip ] || [ "$CONFIGS" = docker ] || [ "$CONFIGS" = compose ] || die "PICKET_NETNS_CONFIGS must be ip, docker or compose"
    [ "$IMPL" = picket ] || [ "$IMPL" = redis ] || die "PICKET_NETNS_IMPL must be picket or redis"
    [ "$SAFETY" = classic ] || [ "$SAFETY" = strict ] || die "PICKET_NETNS_SAFETY must be classic or strict"
    [ -z "$MIN_REPLICAS" ] || [[ "$MIN_REPLICAS" =~ ^[0-9]+$ ]] || die "PICKET_NETNS_MIN_REPLICAS must be a number"
    [ -z "$LEASE_MS" ] || [[ "$LEASE_MS" =~ ^[0-9]+$ ]] || die "PICKET_NETNS_LEASE_MS must be a number"
    if [ "$IMPL" = redis ]; then
        [ "$CONFIGS" = ip ] || die "PICKET_NETNS_IMPL=redis runs the generated configs only (PICKET_NETNS_CONFIGS=ip)"
        [ "$SAFETY" = classic ] || die "PICKET_NETNS_SAFETY=strict needs picket: Redis has no strict mode"
    fi
}

# `ip netns add` names a namespace by a file in /run/netns.
have_ns() { [ -e "/run/netns/$1" ]; }

# The process in pid file $1 runs (a killed one not yet reaped, state Z, does not count).
pid_alive() {
    local f=$1 pid st
    [ -f "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    read -r _ _ st _ <"/proc/$pid/stat" 2>/dev/null || return 1
    [ "$st" != Z ] && [ "$st" != X ]
}

# One RESP command over bash's /dev/tcp; prints the reply, one element a line (arrays of
# bulk strings and simple values; nested arrays are flattened). No redis-cli needed.
resp() {
    local host=$1 port=$2
    shift 2
    local req="*$#$CRLF" a
    for a in "$@"; do req+="\$${#a}$CRLF$a$CRLF"; done
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        printf '%s' "$req" >&3
        resp_read() {
            local line n i body
            IFS= read -r -t 2 line <&3 || return 1
            line=${line%$'\r'}
            case "$line" in
            \$-1 | \*-1) echo "(nil)" ;;
            \$*)
                n=${line#\$}
                IFS= read -r -t 2 -N $((n + 2)) body <&3 || return 1
                printf '%s\n' "${body%$'\r\n'}"
                ;;
            \**)
                n=${line#\*}
                for ((i = 0; i < n; i++)); do resp_read || return 1; done
                ;;
            *) printf '%s\n' "${line#[+:-]}" ;;
            esac
        }
        resp_read
    ) 2>/dev/null
}

field() { tr -d '\r' | sed -n "s/^$1:\(.*\)$/\1/p" | head -n1; }

wait_port() {
    local host=$1 port=$2 i
    for ((i = 0; i < 100; i++)); do
        if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

net_up() {
    if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
        ip link add "$BRIDGE" type bridge
    fi
    ip addr replace "$HOST_IP/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
    # With br_netfilter loaded, bridged frames traverse iptables' FORWARD chain, whose policy
    # is DROP on hosts running Docker: let the bridge talk to itself.
    if [ "$(cat /proc/sys/net/bridge/bridge-nf-call-iptables 2>/dev/null || echo 0)" = 1 ] &&
        command -v iptables >/dev/null 2>&1; then
        iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null ||
            iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
    fi
    local i n v
    for i in "${NODES[@]}"; do
        n=$(ns "$i")
        v=$(veth "$i")
        have_ns "$n" || ip netns add "$n"
        if ! ip link show "$v" >/dev/null 2>&1; then
            ip link add "$v" type veth peer name "${v}p"
            ip link set "${v}p" netns "$n"
            ip -n "$n" link set "${v}p" name eth0
        fi
        ip link set "$v" master "$BRIDGE"
        ip link set "$v" up
        ip -n "$n" link set lo up
        ip -n "$n" addr replace "$(node_ip "$i")/24" dev eth0
        ip -n "$n" link set eth0 up
        mkdir -p "/etc/netns/$n"
        {
            echo "127.0.0.1 localhost"
            echo "::1 localhost ip6-localhost ip6-loopback"
            local j
            for j in "${NODES[@]}"; do echo "$(node_ip "$j") node$j sentinel$j"; done
        } >"/etc/netns/$n/hosts"
    done
}

write_configs() {
    local i d ip
    [ "$CONFIGS" = ip ] || return 0
    for i in "${NODES[@]}"; do
        d=$(node_dir "$i")
        ip=$(node_ip "$i")
        mkdir -p "$d"
        # Written once: CONFIG REWRITE (after a failover) and the sentinel's state rewrites
        # keep these files current, so `up` after a crash resumes where the nodes were.
        if [ ! -f "$d/server.conf" ]; then
            {
                echo "# $IMPL-server of node $i in netns $(ns "$i") (deploy/netns.sh)"
                echo "port $SERVER_PORT"
                echo "bind $ip 127.0.0.1"
                echo "protected-mode no"
                echo "dir $d"
                echo "logfile $d/server.log"
                echo "appendonly yes"
                echo "appendfsync everysec"
                echo "repl-diskless-sync-delay 0"
                echo "replica-announce-ip $ip"
                local min=$MIN_REPLICAS
                if [ "$SAFETY" = strict ]; then
                    echo "failover-safety strict"
                    [ -n "$min" ] && [ "$min" -ge 1 ] || min=1
                fi
                if [ -n "$min" ]; then echo "min-replicas-to-write $min"; fi
                if [ -n "$LEASE_MS" ] && [ "$IMPL" = picket ]; then echo "failover-lease-ms $LEASE_MS"; fi
                if [ "$i" != 1 ]; then echo "replicaof $(node_ip 1) $SERVER_PORT"; fi
            } >"$d/server.conf"
        fi
        if [ ! -f "$d/sentinel.conf" ]; then
            {
                echo "# $IMPL-sentinel of node $i in netns $(ns "$i") (deploy/netns.sh); it keeps its state here"
                echo "port $SENTINEL_PORT"
                echo "bind $ip 127.0.0.1"
                echo "dir $d"
                echo "logfile $d/sentinel.log"
                echo "sentinel announce-ip $ip"
                echo "sentinel monitor $MASTER_NAME $(node_ip 1) $SERVER_PORT 2"
                echo "sentinel down-after-milliseconds $MASTER_NAME $DOWN_AFTER"
                echo "sentinel failover-timeout $MASTER_NAME 10000"
                echo "sentinel parallel-syncs $MASTER_NAME 1"
            } >"$d/sentinel.conf"
        fi
    done
}

# start KIND NODE: run picket-KIND inside the node's namespace, detached, its pid in KIND.pid.
start() {
    local kind=$1 i=$2 d
    d=$(node_dir "$i")
    pid_alive "$d/$kind.pid" && return 0
    mkdir -p "$d"
    # `ip netns exec` enters the namespace and execs the program: $! is the process itself
    # (the docker entrypoint execs the binary too).
    if [ "$CONFIGS" = docker ] || [ "$CONFIGS" = compose ]; then
        # docker: deploy/docker/node*/ (deploy/docker/compose.yaml); compose:
        # deploy/compose/node*/ (deploy/compose.yaml, server and sentinel sharing a node).
        local templates="$ROOT/deploy/docker"
        [ "$CONFIGS" = compose ] && templates="$ROOT/deploy/compose"
        PATH="$BIN:$PATH" PICKET_DATA="$d" setsid ip netns exec "$(ns "$i")" \
            sh "$ROOT/deploy/docker/entrypoint.sh" "$kind" "$templates/node$i/$kind.conf" --dir "$d" \
            </dev/null >>"$d/$kind.out" 2>&1 &
    elif [ "$IMPL" = redis ]; then
        setsid ip netns exec "$(ns "$i")" "$(command -v "redis-$kind")" "$d/$kind.conf" \
            </dev/null >>"$d/$kind.out" 2>&1 &
    else
        setsid ip netns exec "$(ns "$i")" "$BIN/picket-$kind" "$d/$kind.conf" \
            </dev/null >>"$d/$kind.out" 2>&1 &
    fi
    echo $! >"$d/$kind.pid"
}

up() {
    preflight up
    if [ "$IMPL" = redis ]; then
        for b in redis-server redis-sentinel; do
            command -v "$b" >/dev/null 2>&1 || die "$b not found in PATH (PICKET_NETNS_IMPL=redis)"
        done
    else
        for b in picket-server picket-sentinel; do
            [ -x "$BIN/$b" ] || die "$BIN/$b not found: build with 'cargo build --release -p picket-server -p picket-sentinel' or set PICKET_BIN_DIR"
        done
    fi
    mkdir -p "$STATE"
    echo "$CONFIGS" >"$STATE/configs"
    echo "$IMPL" >"$STATE/impl"
    net_up
    write_configs
    local i
    for i in "${NODES[@]}"; do start server "$i"; done
    for i in "${NODES[@]}"; do
        wait_port "$(node_ip "$i")" $SERVER_PORT ||
            die "the server of node $i did not start: see $(node_dir "$i")/server.out and server.log"
    done
    # Replicas linked first, so the sentinels' first INFO of the master lists them; then
    # every sentinel sees both replicas and the two other sentinels.
    local deadline=$((SECONDS + 20)) ok
    while [ $SECONDS -lt $deadline ]; do
        ok=0
        for i in "${NODES[@]}"; do
            [ "$(resp "$(node_ip "$i")" $SERVER_PORT INFO replication | field master_link_status)" = up ] && ok=$((ok + 1))
        done
        [ $ok -ge 2 ] && break
        sleep 0.2
    done
    for i in "${NODES[@]}"; do start sentinel "$i"; done
    for i in "${NODES[@]}"; do
        wait_port "$(node_ip "$i")" $SENTINEL_PORT ||
            die "the sentinel of node $i did not start: see $(node_dir "$i")/sentinel.out and sentinel.log"
    done
    while [ $SECONDS -lt $deadline ]; do
        ok=0
        for i in "${NODES[@]}"; do
            local m
            m=$(resp "$(node_ip "$i")" $SENTINEL_PORT SENTINEL master $MASTER_NAME | paste -sd' ' -)
            [[ "$m" == *"num-slaves 2 "* && "$m" == *"num-other-sentinels 2 "* ]] && ok=$((ok + 1))
        done
        [ $ok -eq 3 ] && break
        sleep 0.2
    done
    status
    cat <<EOF

Next:
  redis-cli -h $(node_ip 1) -p $SENTINEL_PORT SENTINEL get-master-addr-by-name $MASTER_NAME   # where is the master
  redis-cli -h $(node_ip 1) -p $SENTINEL_PORT PSUBSCRIBE '*'                             # watch the sentinel events
  $0 drill    # kill -9 the master and watch the failover
  $0 status   # or: down
EOF
}

status() {
    preflight status
    printf '%-5s %-9s %-16s %-7s %-10s %-5s %s\n' node netns server role offset link "master seen by its sentinel / other sentinels"
    local i ip info role off link seen others
    for i in "${NODES[@]}"; do
        ip=$(node_ip "$i")
        if ! have_ns "$(ns "$i")"; then
            printf '%-5s %-9s (no namespace: run %s up)\n' "$i" "$(ns "$i")" "$0"
            continue
        fi
        info=$(resp "$ip" $SERVER_PORT INFO replication || true)
        if [ -z "$info" ]; then
            role=down off=- link=-
        else
            role=$(field role <<<"$info")
            off=$(field master_repl_offset <<<"$info")
            link=$(field master_link_status <<<"$info")
        fi
        seen=$(resp "$ip" $SENTINEL_PORT SENTINEL get-master-addr-by-name $MASTER_NAME | paste -sd: - || true)
        # SENTINEL SENTINELS: flat name/value pairs per sentinel; keep the ip and port values.
        others=$(resp "$ip" $SENTINEL_PORT SENTINEL sentinels $MASTER_NAME |
            awk 'p=="ip"{ip=$0} p=="port"{printf "%s%s:%s", sep, ip, $0; sep=","} {p=$0}' || true)
        printf '%-5s %-9s %-16s %-7s %-10s %-5s %s\n' "$i" "$(ns "$i")" "$ip:$SERVER_PORT" "$role" "$off" "${link:--}" \
            "${seen:-sentinel down} / ${others:--}"
    done
}

drill() {
    preflight drill
    local addr old_ip i d pid t0 new info
    addr=$(resp "$(node_ip 1)" $SENTINEL_PORT SENTINEL get-master-addr-by-name $MASTER_NAME ||
        resp "$(node_ip 2)" $SENTINEL_PORT SENTINEL get-master-addr-by-name $MASTER_NAME) ||
        die "no sentinel answers: $0 up"
    old_ip=$(head -n1 <<<"$addr")
    i=$(node_of "$old_ip") || die "the sentinels report the master at '$old_ip', not one of the nodes"
    d=$(node_dir "$i")
    pid_alive "$d/server.pid" || die "the master $old_ip is not running here"
    pid=$(cat "$d/server.pid")
    t0=$(date +%s%N)
    kill -9 "$pid"
    echo "killed the master $old_ip:$SERVER_PORT (pid $pid in netns $(ns "$i"))"
    local other=$(((i % 3) + 1)) deadline=$((SECONDS + 60))
    while [ $SECONDS -lt $deadline ]; do
        new=$(resp "$(node_ip "$other")" $SENTINEL_PORT SENTINEL get-master-addr-by-name $MASTER_NAME | head -n1 || true)
        if [ -n "$new" ] && [ "$new" != "$old_ip" ]; then
            echo "new master $new after $((($(date +%s%N) - t0) / 1000000)) ms (seen by the sentinel of node $other)"
            echo "restarting the old master; the sentinels make it a replica of $new..."
            start server "$i"
            deadline=$((SECONDS + 40))
            while [ $SECONDS -lt $deadline ]; do
                info=$(resp "$(node_ip "$i")" $SERVER_PORT INFO replication || true)
                if [ "$(field role <<<"$info")" = slave ] && [ "$(field master_link_status <<<"$info")" = up ]; then
                    echo "the old master $old_ip is a replica of $(field master_host <<<"$info") after $((($(date +%s%N) - t0) / 1000000)) ms"
                    break
                fi
                sleep 0.2
            done
            status
            return 0
        fi
        sleep 0.1
    done
    die "no failover within 60 s: see $STATE/node*/sentinel.log"
}

down() {
    preflight down
    local i n kind pid
    for i in "${NODES[@]}"; do
        for kind in sentinel server; do
            if pid_alive "$(node_dir "$i")/$kind.pid"; then
                kill "$(cat "$(node_dir "$i")/$kind.pid")" 2>/dev/null || true
            fi
        done
    done
    # Whatever still runs inside our namespaces (these are ours: we created them) goes too.
    sleep 0.3
    for i in "${NODES[@]}"; do
        n=$(ns "$i")
        have_ns "$n" || continue
        for pid in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    done
    for i in "${NODES[@]}"; do
        n=$(ns "$i")
        ip link del "$(veth "$i")" 2>/dev/null || true
        have_ns "$n" && ip netns del "$n"
        rm -rf "/etc/netns/$n"
        rmdir /etc/netns 2>/dev/null || true
    done
    if ip link show "$BRIDGE" >/dev/null 2>&1; then
        if command -v iptables >/dev/null 2>&1; then
            iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
        fi
        ip link del "$BRIDGE"
    fi
    rm -rf "$STATE"
    echo "down: namespaces $(ns 1)..$(ns 3) and bridge $BRIDGE removed, state $STATE deleted"
}

# start_one KIND NODE: the `start` command (after a kill -9, say); waits for the port.
start_one() {
    preflight start
    local kind=${1:-} i=${2:-} port
    case "$kind" in
    server) port=$SERVER_PORT ;;
    sentinel) port=$SENTINEL_PORT ;;
    *) die "usage: $0 start server|sentinel N" ;;
    esac
    [[ "$i" =~ ^[123]$ ]] || die "usage: $0 start server|sentinel N (N is 1, 2 or 3)"
    have_ns "$(ns "$i")" || die "no namespace $(ns "$i"): run $0 up"
    start "$kind" "$i"
    wait_port "$(node_ip "$i")" "$port" ||
        die "the $kind of node $i did not start: see $(node_dir "$i")/$kind.out and $kind.log"
    echo "started the $kind of node $i (pid $(cat "$(node_dir "$i")/$kind.pid"))"
}

case "${1:-}" in
up) up ;;
start) start_one "${2:-}" "${3:-}" ;;
status) status ;;
drill) drill ;;
down) down ;;
*)
    sed -n '2,/^set -euo/p' "$0" | sed -n 's/^# \{0,1\}//p' >&2
    exit 64
    ;;
esac
