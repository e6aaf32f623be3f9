//! A small W3C WebDriver client for a real headless Chromium, driven
//! through `chromedriver` (Debian's `chromium` and `chromium-driver`): its
//! own process on a free port, its own profile directory, killed on drop.
//!
//! Without `chromium` and `chromedriver` on `PATH`, tests that need them
//! print one skip line and return, unless `TBA_REQUIRE_BROWSER=1` (CI),
//! where a missing browser is a failure.

#![allow(unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;
use serde_json::{Value, json};

use crate::server::http_client;
use crate::support::TempDir;

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// `(chromium, chromedriver)`, or `None` (after one skip line) when either
/// is missing and not required.
fn binaries() -> Option<(PathBuf, PathBuf)> {
    let browser = on_path("chromium");
    let driver = on_path("chromedriver");
    if let (Some(browser), Some(driver)) = (&browser, &driver) {
        return Some((browser.clone(), driver.clone()));
    }
    assert!(
        std::env::var("TBA_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "chromium or chromedriver is not installed, and TBA_REQUIRE_BROWSER=1 requires them"
    );
    eprintln!(
        "skipping the browser test: chromium or chromedriver not found (apt-get install chromium chromium-driver; TBA_REQUIRE_BROWSER=1 makes this a failure)"
    );
    None
}

/// A headless Chromium session, ended and killed on drop.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: TempDir,
}

/// An element found in the page.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver and a headless Chromium session with a window of
    /// `width` x `height`; `None` when browser tests are skipped.
    pub async fn start(width: u32, height: u32) -> Option<Self> {
        let (browser, driver) = binaries()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let profile = TempDir::new("chromium-profile");
        let mut this = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            session: String::new(),
            _profile: profile,
        };
        let started = Instant::now();
        while this.get("/status").await.is_none_or(|v| v["ready"] != true) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": browser,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--no-first-run",
                    format!("--window-size={width},{height}"),
                    format!("--user-data-dir={}", this._profile.path().display()),
                ],
            },
        }}});
        let created = this.command(Method::POST, "/session", capabilities).await;
        this.session = created["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Some(this)
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<(u16, Value)> {
        let request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(
                body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string())),
            ))
            .expect("valid request");
        let response = http_client(false).request(request).await.ok()?;
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .ok()?
            .to_bytes();
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        Some((status, value["value"].clone()))
    }

    async fn get(&self, path: &str) -> Option<Value> {
        self.exchange(Method::GET, path, None).await.map(|(_, v)| v)
    }

    /// A WebDriver command; panics on an error answer.
    async fn command(&self, method: Method, path: &str, body: Value) -> Value {
        let body = (method != Method::GET).then_some(body);
        let (status, value) = self
            .exchange(method.clone(), path, body)
            .await
            .unwrap_or_else(|| panic!("WebDriver {method} {path}: no answer"));
        assert!(status < 400, "WebDriver {method} {path}: {status} {value}");
        value
    }

    /// A WebDriver command whose failure is an answer, not a panic (an
    /// element the page has just replaced is "stale").
    async fn try_command(&self, method: Method, path: &str) -> Option<Value> {
        match self.exchange(method, path, None).await {
            Some((status, value)) if status < 400 => Some(value),
            _ => None,
        }
    }

    fn at(&self, path: &str) -> String {
        format!("/session/{}{path}", self.session)
    }

    /// Opens `url`.
    pub async fn open(&self, url: &str) {
        self.command(Method::POST, &self.at("/url"), json!({"url": url}))
            .await;
    }

    /// The elements matching a CSS selector, now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self
            .command(
                Method::POST,
                &self.at("/elements"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found
            .as_array()
            .expect("elements")
            .iter()
            .map(|reference| {
                // The reference is an object with one member, the W3C
                // element identifier.
                let id = reference.as_object().and_then(|o| o.values().next());
                Element(id.and_then(Value::as_str).expect("element id").to_owned())
            })
            .collect()
    }

    /// Waits (up to 10 s) for a displayed element matching `css`.
    pub async fn wait_for(&self, css: &str) -> Element {
        let started = Instant::now();
        loop {
            for element in self.find_all(css).await {
                if self.is_displayed(&element).await {
                    return element;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "no visible {css}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 10 s) until `check` holds.
    pub async fn wait_until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = Instant::now();
        while !check().await {
            assert!(started.elapsed() < Duration::from_secs(10), "never: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the element is displayed (`false` once the page replaced it).
    pub async fn is_displayed(&self, element: &Element) -> bool {
        self.try_command(
            Method::GET,
            &self.at(&format!("/element/{}/displayed", element.0)),
        )
        .await
            == Some(Value::Bool(true))
    }

    /// An attribute of the first element matching `css`, now; `None` when
    /// there is none (or the page replaced it meanwhile).
    pub async fn attribute_of(&self, css: &str, name: &str) -> Option<String> {
        let element = self.find_all(css).await.into_iter().next()?;
        self.try_command(
            Method::GET,
            &self.at(&format!("/element/{}/attribute/{name}", element.0)),
        )
        .await?
        .as_str()
        .map(str::to_owned)
    }

    pub async fn click(&self, element: &Element) {
        self.command(
            Method::POST,
            &self.at(&format!("/element/{}/click", element.0)),
            json!({}),
        )
        .await;
    }

    /// Empties an input or a text area.
    pub async fn clear(&self, element: &Element) {
        self.command(
            Method::POST,
            &self.at(&format!("/element/{}/clear", element.0)),
            json!({}),
        )
        .await;
    }

    /// Empties the field matching `css`, then types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.wait_for(css).await;
        self.clear(&field).await;
        if !text.is_empty() {
            self.type_text(&field, text).await;
        }
    }

    pub async fn type_text(&self, element: &Element, text: &str) {
        self.command(
            Method::POST,
            &self.at(&format!("/element/{}/value", element.0)),
            json!({"text": text}),
        )
        .await;
    }

    pub async fn text(&self, element: &Element) -> String {
        self.command(
            Method::GET,
            &self.at(&format!("/element/{}/text", element.0)),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// A property of the element (`value` of an input, `open` of a dialog).
    pub async fn property(&self, element: &Element, name: &str) -> Value {
        self.command(
            Method::GET,
            &self.at(&format!("/element/{}/property/{name}", element.0)),
            Value::Null,
        )
        .await
    }

    /// The page's current source.
    pub async fn source(&self) -> String {
        self.command(Method::GET, &self.at("/source"), Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page (through the driver, not the page's own
    /// script) and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.command(
            Method::POST,
            &self.at("/execute/sync"),
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// The browser console's messages since the last call.
    pub async fn console(&self) -> Vec<String> {
        let entries = self
            .command(
                Method::POST,
                &self.at("/se/log"),
                json!({"type": "browser"}),
            )
            .await;
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .map(|e| format!("{} {}", e["level"], e["message"]))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a PNG screenshot of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        let encoded = self
            .command(Method::GET, &self.at("/screenshot"), Value::Null)
            .await;
        let png = decode_base64(encoded.as_str().expect("base64"));
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot directory");
        }
        std::fs::write(path, png).expect("write the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // chromedriver's browser children die with their session's pipe;
        // make sure of it for this profile.
        let _ = Command::new("pkill")
            .arg("-f")
            .arg(format!("user-data-dir={}", self._profile.path().display()))
            .status();
    }
}

/// Standard Base64 (RFC 4648), padding optional.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not Base64: {c}"),
        }
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let produced = chunk.len() * 6 / 8;
        for i in 0..produced {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

#[test]
fn base64_decodes_rfc_4648_vectors() {
    for (encoded, plain) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
    ] {
        assert_eq!(decode_base64(encoded), plain.as_bytes(), "{encoded}");
    }
}
