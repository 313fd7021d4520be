# Sourced by .ci/run: installs schemathesis (the `st` command) from PyPI
# for the OpenAPI test (tests/tests/schema.rs). Never fails the run: without
# it that test reports that it was skipped.

if ! command -v st >/dev/null 2>&1; then
    echo "schemathesis: installing from PyPI"
    if ! command -v pip3 >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pip >/dev/null; } \
            || echo "schemathesis: python3-pip install failed"
    fi
    if command -v pip3 >/dev/null 2>&1; then
        pip3 install --quiet schemathesis >/dev/null 2>&1 \
            || pip3 install --quiet --break-system-packages schemathesis >/dev/null 2>&1 \
            || echo "schemathesis: pip install failed"
    fi
fi
if command -v st >/dev/null 2>&1; then
    echo "schemathesis: ready ($(st --version 2>/dev/null | head -n 1))"
else
    echo "schemathesis: not available; the OpenAPI test will be skipped"
fi
