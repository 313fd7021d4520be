# Sourced by .ci/run: makes a PostgreSQL server reachable on 127.0.0.1:5432
# (trust auth) and exports LINDUNG_TEST_POSTGRES_URL for the backend tests.
# Never fails the run: when PostgreSQL cannot be had, the variable stays unset
# and the PostgreSQL tests report that they were skipped.

lindung_pg_url="postgres://postgres@127.0.0.1:5432/postgres"

lindung_pg_ready() {
    command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h 127.0.0.1 -p 5432 -U postgres
}

lindung_pg_start() {
    if ! command -v pg_ctlcluster >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        echo "postgres: installing PostgreSQL from Debian's packages"
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
            || echo "postgres: install failed"
    fi
    if command -v pg_ctlcluster >/dev/null 2>&1; then
        local version
        version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
        if [ -n "$version" ]; then
            echo "postgres: starting cluster $version/main"
            pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || true
            # Trust auth on loopback for the test user, as on the reference machine.
            for _ in $(seq 1 30); do lindung_pg_ready && break; sleep 1; done
        fi
    fi
}

if ! lindung_pg_ready; then
    lindung_pg_start
fi
if lindung_pg_ready && psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    export LINDUNG_TEST_POSTGRES_URL="${LINDUNG_TEST_POSTGRES_URL:-$lindung_pg_url}"
    echo "postgres: ready, LINDUNG_TEST_POSTGRES_URL=$LINDUNG_TEST_POSTGRES_URL"
else
    echo "postgres: not available; PostgreSQL backend tests will be skipped"
fi
