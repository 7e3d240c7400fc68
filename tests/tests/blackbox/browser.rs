//! A real browser for the page tests: headless Chromium (Debian's `chromium`), driven over
//! WebDriver by its ChromeDriver, one fresh profile per test, with axe-core loaded into pages to
//! check their accessibility. `scripts/test` installs all three (`MILLWRIGHT_CHROMIUM`,
//! `MILLWRIGHT_CHROMEDRIVER`, `MILLWRIGHT_AXE_JS`). With `MILLWRIGHT_SCREENSHOTS` set to a
//! folder, pages the tests name are saved there (the README's screenshots).

use millwright_blackbox::env;
use serde_json::Value;
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};
use thirtyfour::prelude::*;
use tokio::sync::Semaphore;

/// Browsers open at once: each is a few processes, on two cores beside the whole stack.
static OPEN: Semaphore = Semaphore::const_new(2);

/// How long a page may take to show what a test waits for.
const PAGE_PATIENCE: Duration = Duration::from_secs(60);

/// One browser, closed (with its driver) when dropped, even by a failing test.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    _open: tokio::sync::SemaphorePermit<'static>,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The driver's process group: ChromeDriver and the Chromium it started.
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.chromedriver.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with a phone-or-laptop sized window.
    pub async fn open() -> Self {
        let permit = OPEN.acquire().await.unwrap();
        let port = free_port();
        let chromedriver = {
            use std::os::unix::process::CommandExt;
            Command::new(env("MILLWRIGHT_CHROMEDRIVER"))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .expect("chromedriver starts")
        };
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary(&env("MILLWRIGHT_CHROMIUM")).unwrap();
        // As root in a closed network: no sandbox, and nothing that phones home.
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
        ] {
            caps.add_arg(arg).unwrap();
        }
        let server = format!("http://127.0.0.1:{port}");
        let mut tries = 0;
        let driver = loop {
            match WebDriver::new(&server, caps.clone()).await {
                Ok(driver) => break driver,
                Err(e) if tries < 100 => {
                    tries += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("no WebDriver session: {e}"),
            }
        };
        Self { driver, chromedriver, _open: permit }
    }

    /// Opens a URL of the stack (a path) or any URL.
    pub async fn goto(&self, target: &str) {
        let url =
            if target.starts_with('/') { format!("{}{target}", env("MILLWRIGHT_API_URL")) } else { target.into() };
        self.driver.goto(url).await.unwrap();
    }

    /// The element a CSS selector finds, waiting for it to appear.
    pub async fn find(&self, css: &str) -> WebElement {
        self.driver
            .query(By::Css(css))
            .wait(PAGE_PATIENCE, Duration::from_millis(100))
            .first()
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    /// Types into a field (found by CSS), replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks an element and waits for the page it leads to.
    pub async fn click(&self, css: &str) {
        let before = self.driver.find(By::Css("html")).await.unwrap();
        self.find(css).await.click().await.unwrap();
        // The old document goes stale once the next one has loaded.
        let waited = tokio::time::timeout(PAGE_PATIENCE, async {
            while before.is_present().await.unwrap_or(false) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        waited.unwrap_or_else(|_| panic!("clicking {css} led to no new page"));
    }

    /// The text of the page's `<main>` (or body).
    pub async fn text(&self) -> String {
        self.find("body").await.text().await.unwrap()
    }

    /// The main heading.
    pub async fn heading(&self) -> String {
        self.find("h1").await.text().await.unwrap()
    }

    /// The page's current URL.
    pub async fn url(&self) -> url::Url {
        self.driver.current_url().await.unwrap()
    }

    /// Runs axe-core on the page; fails on any serious or critical violation, naming each.
    pub async fn accessible(&self, page: &str) {
        let axe = std::fs::read_to_string(env("MILLWRIGHT_AXE_JS")).expect("axe-core is installed");
        let script = format!(
            "{axe}\n;const done = arguments[arguments.length - 1];\
             axe.run(document, {{resultTypes: ['violations']}}).then(r => done(r.violations.map(v => \
             ({{id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html)}})))).catch(e => done({{error: String(e)}}));"
        );
        let found = self.driver.execute_async(script, Vec::<Value>::new()).await.unwrap();
        let violations = found.json().as_array().unwrap_or_else(|| panic!("axe failed on {page}: {}", found.json()));
        let grave: Vec<&Value> =
            violations.iter().filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical"))).collect();
        assert!(grave.is_empty(), "axe-core on {page}: {}", serde_json::to_string_pretty(&grave).unwrap());
    }

    /// Whether the page fits a phone's width (390 CSS pixels) without scrolling sideways; the
    /// window is laptop-sized again afterwards.
    pub async fn fits_a_phone(&self, page: &str) {
        self.driver.set_window_rect(0, 0, 390, 844).await.unwrap();
        // The widths, and what sticks out: the innermost elements past the right edge, outside
        // the tables' own scrolling boxes.
        let script = "const w = window.innerWidth; \
            const past = e => e.getBoundingClientRect().right > w + 0.5 && !e.closest('.scroll'); \
            const out = [...document.querySelectorAll('body *')].filter(e => past(e) && ![...e.children].some(past)); \
            return [document.documentElement.scrollWidth, w, out.map(e => e.outerHTML.slice(0, 160))];";
        let widths = self.driver.execute(script, Vec::<Value>::new()).await.unwrap().json().clone();
        self.driver.set_window_rect(0, 0, 1280, 900).await.unwrap();
        assert!(widths[0].as_u64() <= widths[1].as_u64(), "{page} scrolls sideways at phone width: {widths}");
    }

    /// Saves the page as `name`.png when screenshots are asked for.
    pub async fn screenshot(&self, name: &str) {
        if let Ok(dir) = std::env::var("MILLWRIGHT_SCREENSHOTS") {
            std::fs::create_dir_all(&dir).unwrap();
            self.driver.screenshot(&std::path::Path::new(&dir).join(format!("{name}.png"))).await.unwrap();
        }
    }

    /// Signs in to the dashboard with an account key.
    pub async fn sign_in(&self, key: &str) {
        self.goto("/dashboard").await;
        assert_eq!(self.heading().await, "Sign in to Millwright");
        self.fill("#key", key).await;
        self.click("button[type=submit]").await;
        assert_eq!(self.heading().await, "Overview", "{}", self.text().await);
    }

    /// Ends the WebDriver session (the drop then ends the processes).
    pub async fn close(self) {
        let _ = self.driver.clone().quit().await;
    }
}
