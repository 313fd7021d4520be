# Sourced by .ci/run: makes Debian's headless Chromium and ChromeDriver
# available for the browser tests (tests/tests/browser.rs) and exports
# LINDUNG_TEST_CHROMEDRIVER. Never fails the run: without them the browser
# tests report that they were skipped.

lindung_chromium_ready() {
    [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]
}

if ! lindung_chromium_ready && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "chromium: installing chromium and chromium-driver from Debian's packages"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
        || echo "chromium: install failed"
fi
if lindung_chromium_ready; then
    export LINDUNG_TEST_CHROMEDRIVER="${LINDUNG_TEST_CHROMEDRIVER:-/usr/bin/chromedriver}"
    echo "chromium: ready, LINDUNG_TEST_CHROMEDRIVER=$LINDUNG_TEST_CHROMEDRIVER"
else
    echo "chromium: not available; browser tests will be skipped"
fi
