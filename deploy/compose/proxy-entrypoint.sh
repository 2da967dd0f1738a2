#!/bin/sh
# proxy-entrypoint — the certificate of the TLS proxy: cert.pem and key.pem
# from the mounted directory (TLS_CERT_DIR on the host) when both are there,
# else a fresh self-signed one for TLS_SERVER_NAME (and 127.0.0.1), valid 30
# days, made at each start and never stored in the image.
set -eu
src=/etc/nginx/tls-provided
dst=/etc/nginx/tls
mkdir -p "$dst"
chmod 700 "$dst"
if [ -s "$src/cert.pem" ] && [ -s "$src/key.pem" ]; then
  cp "$src/cert.pem" "$dst/cert.pem"
  cp "$src/key.pem" "$dst/key.pem"
else
  name=${TLS_SERVER_NAME:-localhost}
  echo "proxy-entrypoint: no certificate in $src; making a self-signed one for $name" >&2
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name,IP:127.0.0.1" \
    -keyout "$dst/key.pem" -out "$dst/cert.pem" 2>/dev/null
fi
chmod 600 "$dst/key.pem"

# nginx resolves the upstream `edge` per request (a variable in proxy_pass)
# through the container network's DNS server, caching an answer 5 s: an edge
# recreated with a new address (an upgrade, a restart) is found again.
ns=$(awk '$1 == "nameserver" { print $2; exit }' /etc/resolv.conf)
[ -n "$ns" ] || { echo "proxy-entrypoint: no nameserver in /etc/resolv.conf" >&2; exit 1; }
case $ns in *:*) ns="[$ns]" ;; esac
echo "resolver $ns valid=5s ipv6=off;" >/etc/nginx/conf.d/3minapi-resolver.conf
exec "$@"
