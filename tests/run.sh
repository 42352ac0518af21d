#!/usr/bin/env bash
# Runs every test of the project: installs what the tests need (moto server, PostgreSQL, the ASL
# validator, cargo-lambda), starts the servers on 127.0.0.1 only, runs the whole cargo test suite
# and the validators on the committed definition, then stops the servers.
#
#   bash tests/run.sh                 # everything
#   bash tests/run.sh -- --test integration deploy::  # extra arguments go to `cargo test`
#
# A service that cannot be installed or started fails the run; no test is ever skipped for it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
state="$root/.services"
mkdir -p "$state"
log() { printf '[tests/run.sh] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

cargo_args=()
if [[ "${1:-}" == "--" ]]; then shift; cargo_args=("$@"); fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_for() { # wait_for WHAT SECONDS COMMAND...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 10))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.1
  done
  die "$what did not start within ${seconds}s (see $state/*.log)"
}

pids=()
cleanup() {
  for pid in "${pids[@]:-}"; do [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true; done
  if [[ -n "${pgdata:-}" && -d "${pgdata:-}" ]]; then
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pgdata"
  fi
}
trap cleanup EXIT

# --- Python tools: moto server, cargo-lambda (one virtualenv) ---------------------------------------
venv="$state/venv"
if [[ ! -x "$venv/bin/moto_server" || ! -x "$venv/bin/cargo-lambda" ]]; then
  log "installing moto[server] and cargo-lambda into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]>=5.1,<6' 'cargo-lambda>=1.9,<2' \
    || die "pip install failed; PyPI must be reachable"
fi
export PATH="$venv/bin:$PATH"

# --- the aarch64 standard library, for the arm64 Lambda build ------------------------------------
# Where rustup cannot download it, the deploy test checks deploy's error for a missing one instead.
if ! rustup target list --installed 2>/dev/null | grep -qx aarch64-unknown-linux-gnu; then
  log "installing the aarch64-unknown-linux-gnu standard library"
  rustup target add aarch64-unknown-linux-gnu >&2 \
    || log "warning: rustup could not install aarch64-unknown-linux-gnu; the arm64 build test checks deploy's error instead"
fi

# --- asl-validator from npm ------------------------------------------------------------------------
node_dir="$state/node"
if [[ ! -x "$node_dir/node_modules/.bin/asl-validator" ]]; then
  log "installing asl-validator@4 into $node_dir"
  mkdir -p "$node_dir"
  (cd "$node_dir" && npm install --silent --no-audit --no-fund asl-validator@4 >/dev/null) \
    || die "npm install asl-validator@4 failed; node and the npm registry must be reachable"
fi
export ASL_VALIDATOR="$node_dir/node_modules/.bin/asl-validator"

# --- PostgreSQL (Debian's package), a throwaway cluster on 127.0.0.1 --------------------------------
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [[ -z "$pgbin" || ! -x "$pgbin/initdb" ]]; then
  log "installing postgresql (Debian)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || die "apt-get install postgresql failed"
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
fi
id postgres >/dev/null 2>&1 || useradd --system --home /var/lib/postgresql postgres
pgdata=$(mktemp -d /tmp/cm-etl-pg.XXXXXX)
chown postgres "$pgdata"
pgport=$(free_port)
runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 >"$state/postgres-init.log" 2>&1 \
  || die "initdb failed (see $state/postgres-init.log)"
# TLS on, with a throwaway CA: a server certificate for 127.0.0.1 signed by it, and a second CA
# that signed nothing (the tests check both verify and refuse).
tls="$pgdata/tls"
mkdir -p "$tls"
openssl_quiet() { openssl "$@" >/dev/null 2>&1 || die "openssl $1 failed"; }
for ca in ca other-ca; do
  openssl_quiet req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=cm-etl test $ca" \
    -keyout "$tls/$ca.key" -out "$tls/$ca.pem"
done
openssl_quiet req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$tls/server.key" -out "$tls/server.csr"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$tls/san.ext"
openssl_quiet x509 -req -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" -CAcreateserial \
  -days 2 -extfile "$tls/san.ext" -out "$tls/server.pem"
chown -R postgres "$tls" && chmod 600 "$tls/server.key"
runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w -t 30 \
  -o "-h 127.0.0.1 -p $pgport -k $pgdata -F -c ssl=on -c ssl_cert_file=$tls/server.pem -c ssl_key_file=$tls/server.key" \
  start >/dev/null || { cat "$pgdata/server.log" >&2; die "PostgreSQL did not start"; }
export TEST_DATABASE_CA="$tls/ca.pem" TEST_DATABASE_OTHER_CA="$tls/other-ca.pem"
runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U postgres cm_etl_test
# Every test connects as the tool does by default: TLS, the chain to the throwaway CA and the host
# name (127.0.0.1, in the certificate's SANs) verified. mktemp's path needs no percent-encoding.
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pgport/cm_etl_test?sslrootcert=$TEST_DATABASE_CA"
log "PostgreSQL on 127.0.0.1:$pgport"

# --- moto server on 127.0.0.1, with real Step Functions execution and Docker-free Lambda ------------
moto_port=$(free_port)
moto_server -H 127.0.0.1 -p "$moto_port" >"$state/moto.log" 2>&1 &
pids+=($!)
wait_for "moto server" 30 curl -sf "http://127.0.0.1:$moto_port/moto-api/"
curl -sf -X POST "http://127.0.0.1:$moto_port/moto-api/config" -H 'Content-Type: application/json' \
  -d '{"lambda":{"use_docker":false},"stepfunctions":{"execute_state_machine":true}}' >/dev/null \
  || die "could not configure moto server"
export MOTO_PORT=$moto_port
export MOTO_ENDPOINT="http://127.0.0.1:$moto_port"
log "moto server on $MOTO_ENDPOINT"

# The SDK must never reach for real credentials or a real endpoint from a test.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ENDPOINT_URL || true

# --- the tests ---------------------------------------------------------------------------------------
# `--workspace` would win over a `-p PACKAGE` given after `--`, so it is only the default.
scope=(--workspace)
for arg in "${cargo_args[@]}"; do
  case "$arg" in -p|--package|-p*|--package=*) scope=() ;; esac
done
log "cargo test ${scope[*]:-} ${cargo_args[*]:-}"
cargo test "${scope[@]}" "${cargo_args[@]}"

if [[ ${#cargo_args[@]} -eq 0 ]]; then
  for def in definitions/*.json; do
    # Beside the definition, synth's proven figures: not a state machine.
    [[ $def == *.bounds.json ]] && continue
    log "asl-validator $def"
    "$ASL_VALIDATOR" --json-path "$def"
  done
fi
log "all tests passed"
