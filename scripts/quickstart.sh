#!/usr/bin/env bash
# Lindung quick start: the whole loop on one machine, on the embedded SQLite default.
#
#   ./scripts/quickstart.sh
#
# 1. builds lindung-server and lindung-agent (skip with LINDUNG_BIN_DIR=path/to/binaries);
# 2. starts the server on 127.0.0.1:${LINDUNG_DEMO_PORT:-8080} with its data in
#    ${LINDUNG_DEMO_DIR:-.lindung-demo}/server.sqlite;
# 3. adds a demo officer for Kabupaten Solok Selatan (1311), the first time;
# 4. adds a demo staff login for the dashboard (`staf`, password
#    ${LINDUNG_DEMO_STAFF_PASSWORD:-demo-staf-lindung}), the first time;
# 5. initialises a demo agent in ${LINDUNG_DEMO_DIR}/agent and enrols it, the first time;
# 6. prints what to do next, and keeps the server running until Ctrl-C.
#
# Running it again reuses the same data: nothing is created twice.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

demo_dir=${LINDUNG_DEMO_DIR:-$PWD/.lindung-demo}
port=${LINDUNG_DEMO_PORT:-8080}
passphrase=${LINDUNG_DEMO_PASSPHRASE:-demo-lindung-2026}
staff_password=${LINDUNG_DEMO_STAFF_PASSWORD:-demo-staf-lindung}
if [[ -z "${LINDUNG_BIN_DIR:-}" ]]; then
    echo "Membangun / building lindung-server and lindung-agent…" >&2
    cargo build --quiet -p lindung-server -p lindung-agent
    bin_dir=$PWD/target/debug
else
    bin_dir=$LINDUNG_BIN_DIR
fi
server=$bin_dir/lindung-server
agent=$bin_dir/lindung-agent
mkdir -p "$demo_dir"
export LINDUNG_DATABASE="sqlite://$demo_dir/server.sqlite"

if [[ -z "$("$server" officer list --json | tr -d '[:space:][]')" ]]; then
    "$server" officer add "Petugas Demo" --region 1311 > /dev/null
fi
officer=$("$server" officer list --json | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
if ! "$server" staff list --json | grep -q '"login": "staf"'; then
    LINDUNG_STAFF_PASSWORD="$staff_password" "$server" staff add "Staf Demo" --login staf --role staff > /dev/null
fi

"$server" serve --listen "127.0.0.1:$port" > "$demo_dir/server.out" 2> "$demo_dir/server.log" &
server_pid=$!
stop() {
    kill -TERM "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
    echo "Server dihentikan. / Server stopped." >&2
}
trap 'stop; exit 0' INT TERM
trap stop EXIT
for _ in $(seq 1 100); do
    grep -q "listening on" "$demo_dir/server.out" 2> /dev/null && break
    if ! kill -0 "$server_pid" 2> /dev/null; then
        echo "Server gagal mulai / the server did not start:" >&2
        cat "$demo_dir/server.log" >&2
        exit 1
    fi
    sleep 0.1
done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$demo_dir/server.out")

export LINDUNG_DATA_DIR="$demo_dir/agent" LINDUNG_PASSPHRASE="$passphrase"
if [[ ! -e "$LINDUNG_DATA_DIR/agent.db" ]]; then
    "$agent" init --officer "Petugas Demo" > /dev/null
fi
if ! "$agent" status --json | grep -q '"server_url"'; then
    code=$("$server" enroll-code --officer "$officer" --json | sed -n 's/.*"code":"\([^"]*\)".*/\1/p')
    "$agent" enroll --server "$url" --code "$code" > /dev/null
fi

cat <<EOF
Lindung berjalan / is running: server $url (data: $demo_dir)

Berikutnya / next, in another terminal:
  export LINDUNG_DATA_DIR="$LINDUNG_DATA_DIR" LINDUNG_PASSPHRASE="$passphrase"
  $agent register --nik 1311014101900001 --name "Siti Aminah" --village 1311012001 --category "Ketua RT" --payer APBD --consent formulir
  $agent sync
  LINDUNG_DATABASE="$LINDUNG_DATABASE" $server stats

Di peramban / in a browser:
  dasbor staf / staff dashboard: $url/login  (login: staf, kata sandi / password: $staff_password)
  layar petugas / the officer's screens: LINDUNG_DATA_DIR="$LINDUNG_DATA_DIR" $agent serve
      then http://127.0.0.1:7878/ (kata sandi / passphrase: $passphrase)

Ctrl-C menghentikan server / stops the server.
EOF
wait "$server_pid"
