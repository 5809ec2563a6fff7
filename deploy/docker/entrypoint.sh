#!/bin/sh
# picket-entrypoint server|sentinel TEMPLATE [--directive value ...]
#
# Copies the read-only config TEMPLATE (mounted by compose.yaml) to /data the first time, then
# runs the program on the copy. The copy is what the programs rewrite: the sentinel keeps its
# state in its config file (it must be writable), and CONFIG REWRITE keeps a server's role
# after a failover. Later starts reuse the copy, so a restarted container resumes where it was.
# Delete the volume (docker compose down -v) to start over from the templates.
# PICKET_DATA overrides /data (for running the same configs outside a container).
set -eu
kind=${1:?usage: picket-entrypoint server|sentinel TEMPLATE [args...]}
template=${2:?usage: picket-entrypoint server|sentinel TEMPLATE [args...]}
shift 2
case "$kind" in
server | sentinel) ;;
*) echo "picket-entrypoint: unknown kind '$kind' (server or sentinel)" >&2; exit 64 ;;
esac
data=${PICKET_DATA:-/data}
conf="$data/$kind.conf"
if [ ! -f "$conf" ]; then
    cp "$template" "$conf"
    echo "picket-entrypoint: $conf created from $template"
fi
exec "picket-$kind" "$conf" "$@"
