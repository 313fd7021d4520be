# shellcheck shell=bash
# cargo-deb for the packaging test (tests/tests/packaging.rs), pinned so the
# `--profile dev` check behaves the same on every machine. Without it the test
# says it is skipped.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "== installing cargo-deb 3.8.0"
    cargo install cargo-deb --version 3.8.0 --locked --quiet ||
        echo "cargo-deb could not be installed: the packaging test will be skipped"
fi
