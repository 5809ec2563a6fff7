#!/usr/bin/env bash
# A throwaway certificate authority and certificates signed by it, for the TLS tests and for
# `deploy/picket-ha up --tls`, as Redis's utils/gen-test-certs.sh makes them (OpenSSL CLI):
#
#   DIR/ca.{crt,key}       the self-signed CA
#   DIR/redis.{crt,key}    a certificate without usage restrictions (servers and their clients)
#   DIR/server.{crt,key}   a certificate for TLS servers only (extendedKeyUsage serverAuth)
#   DIR/client.{crt,key}   a certificate for TLS clients only (extendedKeyUsage clientAuth)
#
# Every certificate names localhost, 127.0.0.1 and ::1 and the extra host names given after
# DIR (subjectAltName), so clients that check the host name (redis-py >= 6) accept them.
# Keys are RSA 2048, or Ed25519 with --ed25519 (whose signatures draw no randomness: the
# simulation's handshakes then replay byte for byte from a seed).
# Usage: tools/gen-test-certs.sh [--ed25519] DIR [HOSTNAME...]
set -euo pipefail
alg=rsa
if [ "${1:-}" = "--ed25519" ]; then
    alg=ed25519
    shift
fi
if [ $# -lt 1 ]; then
    echo "usage: $0 [--ed25519] DIR [HOSTNAME...]" >&2
    exit 2
fi
dir=$1
shift
command -v openssl >/dev/null || { echo "$0: openssl is not installed" >&2; exit 1; }
mkdir -p "$dir"
san="DNS:localhost,IP:127.0.0.1,IP:::1"
for h in "$@"; do san="$san,DNS:$h"; done

genkey() {
    if [ "$alg" = ed25519 ]; then
        openssl genpkey -algorithm ed25519 -out "$1" 2>/dev/null
    else
        openssl genrsa -out "$1" 2048 2>/dev/null
    fi
}

genkey "$dir/ca.key"
openssl req -x509 -new -nodes -sha256 -key "$dir/ca.key" -days 3650 \
    -subj '/O=Picket Test/CN=Certificate Authority' \
    -addext 'basicConstraints=critical,CA:TRUE' \
    -addext 'keyUsage=critical,keyCertSign,cRLSign' \
    -out "$dir/ca.crt"

cat > "$dir/openssl.cnf" <<_END_
[ any_cert ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
subjectAltName = $san

[ server_cert ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = $san

[ client_cert ]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = $san
_END_

cert() {
    local name=$1 cn=$2 ext=$3
    genkey "$dir/$name.key"
    openssl req -new -sha256 -subj "/O=Picket Test/CN=$cn" -key "$dir/$name.key" |
        openssl x509 -req -sha256 -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
            -CAserial "$dir/ca.txt" -CAcreateserial -days 3650 \
            -extfile "$dir/openssl.cnf" -extensions "$ext" -out "$dir/$name.crt" 2>/dev/null
}
cert redis "Generic-cert" any_cert
cert server "Server-only" server_cert
cert client "Client-only" client_cert
chmod 600 "$dir"/*.key
