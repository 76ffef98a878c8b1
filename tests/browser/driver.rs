//! The WebDriver client the browser tests share: chromedriver started on a reserved port, a
//! headless Chromium session, and the few calls the tests make (go to, find, read, type,
//! click), each waiting for the dashboard to render.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common;

pub const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(cmd: &str) -> String {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = std::path::Path::new(dir).join(cmd);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!("{cmd} not found on PATH: run scripts/setup.sh (make test does)");
}

impl Driver {
    pub async fn start() -> Driver {
        Driver::start_with(&["--window-size=1200,900"]).await
    }

    /// A browser with extra Chromium switches (a phone's window, JavaScript off).
    pub async fn start_with(extra: &[&str]) -> Driver {
        // reqwest is built without a default rustls provider (the server installs ring's).
        panoptes::outbound::install_crypto_provider();
        let port = common::reserved_port();
        let child = Command::new(which("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = http.get(format!("{base}/status")).send().await
                && let Ok(v) = r.json::<Value>().await
                && v["value"]["ready"] == true
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let mut args: Vec<String> = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(String::from)
        .collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": which("chromium"), "args": args}
        }}});
        let v: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {v}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            http,
            _profile: profile,
        }
    }

    pub async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let req = self.http.request(method.clone(), url);
        let req = if method == reqwest::Method::GET {
            req
        } else {
            req.json(&body)
        };
        req.send()
            .await
            .expect("webdriver call")
            .json()
            .await
            .expect("webdriver json")
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    /// Waits for an element to exist; returns its WebDriver id.
    pub async fn find(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self
                .call(
                    reqwest::Method::POST,
                    "/element",
                    json!({"using": "css selector", "value": css}),
                )
                .await;
            if let Some(id) = v["value"][ELEMENT_KEY].as_str() {
                return id.to_string();
            }
            if Instant::now() > deadline {
                let page = self.call(reqwest::Method::GET, "/source", json!({})).await;
                panic!("no element {css} within 20 s; page:\n{}", page["value"]);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's visible text. Views re-render as they poll, so an element found a moment
    /// ago may be gone ("stale"): find it again until the read succeeds.
    pub async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let id = self.find(css).await;
            let v = self
                .call(
                    reqwest::Method::GET,
                    &format!("/element/{id}/text"),
                    json!({}),
                )
                .await;
            if let Some(t) = v["value"].as_str() {
                return t.to_string();
            }
            assert!(Instant::now() < deadline, "cannot read {css}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The address the browser shows.
    pub async fn url(&self) -> String {
        let v = self.call(reqwest::Method::GET, "/url", json!({})).await;
        v["value"].as_str().unwrap_or_default().to_string()
    }

    /// Waits until the address is `expected` (client-side navigation is asynchronous).
    pub async fn wait_url(&self, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let url = self.url().await;
            if url == expected {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the browser is at {url}, not {expected}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The browser's back button.
    pub async fn back(&self) {
        self.call(reqwest::Method::POST, "/back", json!({})).await;
    }

    /// Waits until the element's text contains `needle` (the page refreshes itself).
    pub async fn wait_text(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let t = self.text(css).await;
            if t.contains(needle) {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {needle:?}; last text: {t}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            json!({}),
        )
        .await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({"text": text}),
        )
        .await;
    }

    /// Clicks the element, finding it again if a re-render replaced it in between.
    pub async fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let id = self.find(css).await;
            let v = self
                .call(
                    reqwest::Method::POST,
                    &format!("/element/{id}/click"),
                    json!({}),
                )
                .await;
            if v["value"].is_null() {
                return;
            }
            assert!(Instant::now() < deadline, "cannot click {css}: {v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matches `css` right now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        let v = self
            .call(
                reqwest::Method::POST,
                "/elements",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v["value"].as_array().is_some_and(|a| !a.is_empty())
    }

    pub async fn screenshot(&self, name: &str) {
        let v = self
            .call(reqwest::Method::GET, "/screenshot", json!({}))
            .await;
        if let Some(b64) = v["value"].as_str() {
            use base64::Engine;
            if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64) {
                // Into the repository: the README shows them, so they follow the dashboard.
                let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
                let _ = std::fs::create_dir_all(&dir);
                let _ = std::fs::write(dir.join(name), png);
            }
        }
    }
}
