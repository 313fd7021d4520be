//! A real headless browser for the web-interface tests: Debian's `chromium`
//! driven over WebDriver by its `chromedriver` (no tool that downloads a
//! browser of its own).
//!
//! [`Browser::start`] returns `None`, after printing why, when ChromeDriver
//! is not installed: the browser tests then say they were skipped. `.ci/run`
//! installs `chromium` and `chromium-driver` when they are missing.
//! `LINDUNG_TEST_CHROMEDRIVER` names another driver binary.
//!
//! The calls are synchronous (each one blocks on a small runtime of its own)
//! so that tests read like what an officer does: go to a page, fill a field,
//! press a button, read what the page says. Every wait polls with a bound;
//! nothing sleeps for a fixed time.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};

/// How long a wait for an element or a text may take before the test fails.
const WAIT: Duration = Duration::from_secs(15);

/// The window size the interfaces must be usable at (issue 6).
pub const WINDOW: (u32, u32) = (1366, 768);

/// The Tab key, for [`Browser::keys`].
pub const TAB: &str = "\u{E004}";
/// The Enter key, for [`Browser::keys`].
pub const ENTER: &str = "\u{E007}";

/// A headless Chromium session.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").finish_non_exhaustive()
    }
}

/// The ChromeDriver binary to use, if one is installed.
fn chromedriver() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("LINDUNG_TEST_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let default = Path::new("/usr/bin/chromedriver");
    default.exists().then(|| default.to_path_buf())
}

/// The Chromium binary ChromeDriver starts.
fn chromium() -> PathBuf {
    std::env::var_os("LINDUNG_TEST_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port on 127.0.0.1")
}

/// Where screenshots go: `target/screenshots/` (CI keeps it as an artifact).
pub fn screenshot_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/<test> -> target/screenshots
    let target = exe
        .ancestors()
        .nth(3)
        .expect("test runs from target/<profile>/deps");
    target.join("screenshots")
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium at 1366×768, or returns
    /// `None` (and says so) when they are not installed.
    pub fn start(test: &str) -> Option<Browser> {
        let Some(driver_path) = chromedriver() else {
            eprintln!(
                "{test}: SKIPPED, no ChromeDriver (install Debian's chromium and \
                 chromium-driver, or set LINDUNG_TEST_CHROMEDRIVER)"
            );
            return None;
        };
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", driver_path.display()));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let mut browser = Browser {
            runtime,
            client: None,
            driver,
            _profile: profile,
        };
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--hide-scrollbars",
                    format!("--window-size={},{}", WINDOW.0, WINDOW.1),
                    format!("--user-data-dir={}", browser._profile.path().display()),
                ],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("an object literal")
        };
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        let client = loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = browser.runtime.block_on(
                ClientBuilder::new(connector)
                    .capabilities(capabilities.clone())
                    .connect(&url),
            );
            match attempt {
                Ok(client) => break client,
                Err(e) if started.elapsed() < WAIT => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("ChromeDriver at {url} did not start a session: {e}"),
            }
        };
        browser.client = Some(client);
        Some(browser)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("a session until dropped")
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.runtime
            .block_on(self.client().goto(url))
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.runtime
            .block_on(self.client().current_url())
            .expect("the current URL")
            .to_string()
    }

    /// Waits until the current URL contains `fragment` (after a click that
    /// submits a form: the next step must not race the navigation).
    pub fn wait_for_url(&self, fragment: &str) -> String {
        let started = Instant::now();
        loop {
            let url = self.url();
            if url.contains(fragment) {
                return url;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "the page is still {url}, not one with {fragment:?}\n{}",
                    self.body_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the element `css` to be present, and returns it.
    pub fn find(&self, css: &str) -> Element {
        let client = self.client();
        self.runtime
            .block_on(
                client
                    .wait()
                    .at_most(WAIT)
                    .every(Duration::from_millis(50))
                    .for_element(Locator::Css(css)),
            )
            .unwrap_or_else(|e| {
                panic!(
                    "no element {css:?} on {} within {WAIT:?}: {e}\n{}",
                    self.url(),
                    self.body_text()
                )
            })
    }

    /// Whether an element `css` is on the page now (no waiting).
    pub fn has(&self, css: &str) -> bool {
        self.runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .map(|found| !found.is_empty())
            .unwrap_or(false)
    }

    /// Clears the field `css` and types `text` into it, key by key.
    pub fn fill(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.runtime
            .block_on(async {
                element.clear().await?;
                element.send_keys(text).await
            })
            .unwrap_or_else(|e| panic!("typing into {css:?}: {e}"));
    }

    /// Chooses the file at `path` in the file input `css`, as a person
    /// picking it in the file dialog.
    pub fn choose_file(&self, css: &str, path: &std::path::Path) {
        let element = self.find(css);
        let path = path.to_str().expect("a UTF-8 path");
        self.runtime
            .block_on(element.send_keys(path))
            .unwrap_or_else(|e| panic!("choosing {path:?} in {css:?}: {e}"));
    }

    /// The bytes the page's own session downloads from `href` (a same-origin
    /// GET with the page's cookies, as the browser makes for a download link).
    pub fn download(&self, href: &str) -> Vec<u8> {
        let script = format!(
            "var x = new XMLHttpRequest(); x.open('GET', {href:?}, false);\n\
             x.overrideMimeType('text/plain; charset=x-user-defined'); x.send();\n\
             if (x.status !== 200) {{ return null; }}\n\
             var out = []; for (var i = 0; i < x.responseText.length; i++) {{\n\
             out.push(x.responseText.charCodeAt(i) & 0xff); }} return out;"
        );
        let value = self.script(&script);
        value
            .as_array()
            .unwrap_or_else(|| panic!("downloading {href}: {value}"))
            .iter()
            .map(|b| u8::try_from(b.as_u64().unwrap_or(0)).unwrap_or(0))
            .collect()
    }

    /// Chooses the option with value `value` in the `<select>` `css`.
    pub fn select(&self, css: &str, value: &str) {
        let element = self.find(css);
        self.runtime
            .block_on(element.select_by_value(value))
            .unwrap_or_else(|e| panic!("choosing {value:?} in {css:?}: {e}"));
    }

    /// Clicks the element `css`.
    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.runtime
            .block_on(element.click())
            .unwrap_or_else(|e| panic!("clicking {css:?}: {e}"));
    }

    /// Clicks the element `css`, which asks for confirmation (`confirm()`),
    /// and accepts the question.
    pub fn click_and_confirm(&self, css: &str) {
        self.click(css);
        let started = Instant::now();
        loop {
            match self.runtime.block_on(self.client().accept_alert()) {
                Ok(()) => return,
                Err(e) if started.elapsed() > WAIT => {
                    panic!("no confirmation after clicking {css:?}: {e}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// Types `keys` into whatever has the keyboard focus, as a person at
    /// the keyboard would (WebDriver key codes such as [`TAB`] and
    /// [`ENTER`] included).
    pub fn keys(&self, keys: &str) {
        self.runtime
            .block_on(async {
                let element = self.client().active_element().await?;
                element.send_keys(keys).await
            })
            .unwrap_or_else(|e| panic!("typing {keys:?}: {e}"));
    }

    /// The `id` of the element with the keyboard focus ("" when it has none).
    pub fn focused_id(&self) -> String {
        self.script("return document.activeElement ? document.activeElement.id : '';")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The visible text of the element `css`.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.runtime
            .block_on(element.text())
            .unwrap_or_else(|e| panic!("reading {css:?}: {e}"))
    }

    /// The current value of the form field `css`.
    pub fn value(&self, css: &str) -> String {
        let element = self.find(css);
        self.runtime
            .block_on(element.prop("value"))
            .unwrap_or_else(|e| panic!("reading the value of {css:?}: {e}"))
            .unwrap_or_default()
    }

    /// All the visible text of the page.
    pub fn body_text(&self) -> String {
        let client = self.client();
        self.runtime
            .block_on(async {
                let body = client.find(Locator::Css("body")).await?;
                body.text().await
            })
            .unwrap_or_default()
    }

    /// Waits until the element `css` shows `needle` (case-sensitive), and
    /// returns its text.
    pub fn wait_for_text(&self, css: &str, needle: &str) -> String {
        let started = Instant::now();
        loop {
            let text = if self.has(css) {
                self.runtime
                    .block_on(async {
                        let element = self.client().find(Locator::Css(css)).await?;
                        element.text().await
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            if text.contains(needle) {
                return text;
            }
            if started.elapsed() > WAIT {
                panic!(
                    "{css:?} on {} did not show {needle:?} within {WAIT:?}; it shows {text:?}",
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs a script in the page and returns its result.
    pub fn script(&self, script: &str) -> serde_json::Value {
        self.runtime
            .block_on(self.client().execute(script, Vec::new()))
            .unwrap_or_else(|e| panic!("running {script:?}: {e}"))
    }

    /// Saves a PNG of the window as `target/screenshots/NAME.png` and
    /// returns its path. With `LINDUNG_UPDATE_SCREENSHOTS=1` it also
    /// replaces `docs/screenshots/NAME.png`, the copy the README links.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self
            .runtime
            .block_on(self.client().screenshot())
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG for {name}");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).expect("the screenshot is written");
        if std::env::var_os("LINDUNG_UPDATE_SCREENSHOTS").is_some() {
            let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            std::fs::create_dir_all(&docs).expect("docs/screenshots");
            std::fs::write(docs.join(format!("{name}.png")), &png).expect("docs screenshot");
        }
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
