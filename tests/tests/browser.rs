//! The web interfaces in a real headless Chromium (issue 6).

use lindung_tests::browser::Browser;
use lindung_tests::central::Central;

/// The harness itself: Chromium opens a page the real server serves.
#[test]
fn chromium_opens_a_page_of_the_server() {
    let Some(browser) = Browser::start("chromium_opens_a_page_of_the_server") else {
        return;
    };
    let central = Central::start();
    browser.goto(&format!("{}/health", central.url()));
    let text = browser.wait_for_text("body", "ok");
    assert!(text.contains("ok"), "{text}");
}
