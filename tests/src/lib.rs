//! The harness of the black-box tests: a client of the running local stack (scripts/dev,
//! started by scripts/test) and the operator tool that opens accounts.
//!
//! Needs `MILLWRIGHT_API_URL`, `MILLWRIGHT_ADMIN_BIN` (opens accounts), `MILLWRIGHT_STACK_LOG`
//! (the stack's captured output) and the stack's AWS settings (`.local/stack.env`).

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::{
    future::Future,
    process::Command,
    time::{Duration, Instant},
};

/// How long a test waits for what goes through queues, streams and schedules before it fails:
/// well beyond the slowest honest path on two loaded cores (a sync run waiting out its system's
/// Retry-After, a delivery retried after a receiver's timeout, a schedule's first firing).
pub const PATIENCE: Duration = Duration::from_secs(300);

/// How long one request may take: beyond API Gateway's 30 s, so a hung stack fails the test
/// with a message instead of hanging the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(90);

/// Polls `check` (every `every`) until it answers `Ok`, and answers that; fails naming `what`
/// and the last thing it saw (the `Err`) when `PATIENCE` runs out first.
pub async fn wait_for<T, F, Fut>(what: &str, every: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(found) => return found,
            Err(seen) if start.elapsed() > PATIENCE => {
                panic!("{what}: not seen within {PATIENCE:?}; last seen: {seen}")
            }
            Err(_) => tokio::time::sleep(every).await,
        }
    }
}

/// The line the functions logged for a request (by its `X-Request-Id`), once it is in the
/// stack's captured output.
pub async fn log_line(request_id: &str) -> Value {
    wait_for(&format!("the log line of {request_id}"), Duration::from_millis(100), move || async move {
        let log = std::fs::read_to_string(env("MILLWRIGHT_STACK_LOG")).map_err(|e| e.to_string())?;
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| l["fields"]["request_id"] == request_id)
            .ok_or_else(|| "no such line yet".to_owned())
    })
    .await
}

/// A setting the test run needs; panics with the fix when it is missing.
pub fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run these tests through scripts/test"))
}

/// A client of the API under test.
pub struct Api {
    base: String,
    http: Client,
}

/// One response, decoded.
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The `X-Request-Id` header.
    pub request_id: String,
    /// The JSON body.
    pub body: Value,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// A header as a number.
    pub fn number(&self, name: &str) -> Option<u64> {
        self.headers.get(name)?.to_str().ok()?.parse().ok()
    }

    /// Asserts an error answer: its status, code, and the request id in header and body.
    pub fn error(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["error"]["code"], code, "{}", self.body);
        assert_eq!(self.body["error"]["requestId"], self.request_id.as_str());
        assert!(self.request_id.starts_with("req_"));
        self
    }
}

impl Api {
    /// The API at `MILLWRIGHT_API_URL`.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        Self { base: env("MILLWRIGHT_API_URL"), http: client() }
    }

    /// Sends a request; asserts it got a JSON answer with `X-Request-Id` and no 5xx.
    pub async fn call(&self, method: Method, path: &str, bearer: Option<&str>, body: Option<&str>) -> Answer {
        self.send(method, path, bearer, body, None).await
    }

    /// Like `call`, with an `Idempotency-Key`.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        bearer: Option<&str>,
        body: Option<&str>,
        idempotency_key: Option<&str>,
    ) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base));
        if let Some(k) = idempotency_key {
            req = req.header("idempotency-key", k);
        }
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_owned());
        }
        let answer = Self::read(req).await;
        assert!(answer.status.as_u16() < 500, "{path} answered {}: {}", answer.status, answer.body);
        answer
    }

    /// Sends a request whose answer may rightly be a 5xx (a connected system failing: 502, 503,
    /// 504); still asserts a JSON answer with `X-Request-Id`, and never a 500.
    pub async fn call_upstream(&self, method: Method, path: &str, bearer: &str, body: Option<Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(bearer);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let answer = Self::read(req).await;
        assert_ne!(answer.status.as_u16(), 500, "{path} answered 500: {}", answer.body);
        answer
    }

    /// A write with an Idempotency-Key whose answer may rightly be a 5xx (see `call_upstream`).
    pub async fn write_once(&self, method: Method, path: &str, bearer: &str, body: &Value, key: &str) -> Answer {
        let req = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(bearer);
        let answer = Self::read(req.header("idempotency-key", key).json(body)).await;
        assert_ne!(answer.status.as_u16(), 500, "{path} answered 500: {}", answer.body);
        answer
    }

    async fn read(req: reqwest::RequestBuilder) -> Answer {
        let res = req.send().await.expect("the stack answers");
        let status = res.status();
        let request_id =
            res.headers().get("x-request-id").expect("X-Request-Id on every response").to_str().unwrap().to_owned();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        Answer { status, request_id, body, headers }
    }

    /// GET with a bearer credential.
    pub async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::GET, path, Some(bearer), None).await
    }

    /// POST a JSON body with a bearer credential.
    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(bearer), Some(&body.to_string())).await
    }

    /// PATCH a JSON body with a bearer credential.
    pub async fn patch(&self, path: &str, bearer: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(bearer), Some(&body.to_string())).await
    }

    /// Connects a sandbox with an API key and returns (connection id, token).
    pub async fn connect_sandbox(&self, key: &str, api_key: &str) -> (String, String) {
        let a = self
            .post(
                "/v1/connections",
                key,
                json!({"system": "sandbox", "deployment": "cloud", "credentials": {"apiKey": api_key}}),
            )
            .await;
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
        (a.body["connection"]["id"].as_str().unwrap().to_owned(), a.body["token"].as_str().unwrap().to_owned())
    }

    /// `GET /v1/credits`, checking available + used = total.
    pub async fn credits(&self, key: &str) -> Value {
        let a = self.get("/v1/credits", key).await;
        assert_eq!(a.status, StatusCode::OK);
        let b = a.body;
        assert_eq!(b["available"].as_u64().unwrap() + b["used"].as_u64().unwrap(), b["total"].as_u64().unwrap());
        b
    }
}

/// An HTTP client that gives up on an answer that never comes.
pub fn client() -> Client {
    Client::builder().timeout(REQUEST_TIMEOUT).build().expect("a client")
}

/// Opens an account through the operator tool and returns its key.
pub fn account(credits: u32) -> String {
    opened(credits).1
}

/// Opens an account through the operator tool: its id and key.
fn opened(credits: u32) -> (String, String) {
    let out = admin(&["account", "create", "--credits", &credits.to_string()]);
    let said = String::from_utf8(out.stderr).unwrap();
    let id = said.split_whitespace().find(|w| w.starts_with("acct_")).expect("the tool names the account").to_owned();
    (id, String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

/// Opens an account whose credentials may each make `requests` per rate-limit window.
pub fn account_limited(credits: u32, requests: u32) -> String {
    let (id, key) = opened(credits);
    admin(&["account", "limit", "--account", &id, "--requests", &requests.to_string()]);
    key
}

/// Runs the operator tool; asserts it succeeded.
fn admin(args: &[&str]) -> std::process::Output {
    let out = Command::new(env("MILLWRIGHT_ADMIN_BIN")).args(args).output().expect("millwright-admin runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The body of `POST /v1/connections` that connects a stand-in, from
/// `infra/local/demo-connections.json`, pointed at the stand-in this test run started
/// (`MILLWRIGHT_STANDIN_SAP_S4HANA`, …) and signed in as `user`: each stand-in keeps one copy of
/// its sample data per user, so concurrent tests never see each other's changes.
pub fn demo_connection(system: &str, user: &str) -> Value {
    let demo: Value = serde_json::from_str(include_str!("../../infra/local/demo-connections.json")).unwrap();
    let mut body = demo[system].clone();
    let credentials = &mut body["credentials"];
    let base = credentials["baseUrl"].as_str().unwrap().to_owned();
    let origin = env(&format!("MILLWRIGHT_STANDIN_{}", system.to_uppercase()));
    let path = base.splitn(4, '/').nth(3).map(|p| format!("/{p}")).unwrap_or_default();
    credentials["baseUrl"] = json!(format!("{origin}{path}"));
    if credentials.get("apiKey").is_some() {
        credentials["apiKey"] = json!(format!("demo-{user}"));
    } else if credentials.get("email").is_some() {
        // UpKeep: the user (its email) is the tenant.
        credentials["email"] = json!(format!("{}@demo.example", user.to_lowercase()));
    } else if credentials.get("certificateId").is_some() {
        // NetSuite: the integration (client id) is the tenant.
        credentials["clientId"] = json!(format!("demo-{user}"));
    } else {
        credentials["username"] = json!(user);
    }
    body
}

/// A stand-in's control surface (`/_standin/…`): its request log, faults to inject, changes
/// made inside the system, and the requests it refused as off-spec.
pub struct StandIn {
    origin: String,
    http: Client,
}

impl StandIn {
    /// The stand-in of a system in this test run.
    pub fn of(system: &str) -> Self {
        Self { origin: env(&format!("MILLWRIGHT_STANDIN_{}", system.to_uppercase())), http: client() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self.http.request(method, format!("{}/_standin/{path}", self.origin));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("the stand-in answers");
        assert!(res.status().is_success(), "stand-in {path}: {}", res.status());
        res.json().await.unwrap_or(Value::Null)
    }

    /// The requests a tenant made, oldest first.
    pub async fn requests(&self, tenant: &str) -> Vec<Value> {
        let log = self.call(Method::GET, &format!("requests?tenant={tenant}"), None).await;
        log["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Forgets a tenant's requests.
    pub async fn clear(&self, tenant: &str) {
        self.call(Method::DELETE, &format!("requests?tenant={tenant}"), None).await;
    }

    /// Answers the next matching requests of a tenant with these responses instead.
    pub async fn faults(&self, tenant: &str, matching: &str, responses: Value) {
        self.call(Method::POST, "faults", Some(json!({"tenant": tenant, "match": matching, "responses": responses})))
            .await;
    }

    /// `faults`, for requests of one method only.
    pub async fn faults_on(&self, tenant: &str, method: &str, matching: &str, responses: Value) {
        let body = json!({"tenant": tenant, "method": method, "match": matching, "responses": responses});
        self.call(Method::POST, "faults", Some(body)).await;
    }

    /// Gives a user of the system a new password, as its administrator would.
    pub async fn password(&self, tenant: &str, password: &str) {
        self.call(Method::POST, "password", Some(json!({"tenant": tenant, "password": password}))).await;
    }

    /// A control endpoint of the stand-in's own (`POST /_standin/{path}`).
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.call(Method::POST, path, Some(body)).await
    }

    /// `GET /_standin/{path}`.
    pub async fn get(&self, path: &str) -> Value {
        self.call(Method::GET, path, None).await
    }

    /// Changes a record inside the system, as one of its users would.
    pub async fn touch(&self, body: Value) -> Value {
        self.call(Method::POST, "touch", Some(body)).await
    }

    /// The requests of a tenant the stand-in refused because they break the vendor's spec.
    pub async fn violations(&self, tenant: &str) -> Vec<Value> {
        let all = self.call(Method::GET, "violations", None).await;
        all["violations"].as_array().into_iter().flatten().filter(|v| v["tenant"] == tenant).cloned().collect()
    }
}

/// Polls a run until it ends; answers every status it was seen in, and the run.
pub async fn follow(api: &Api, token: &str, id: &str) -> (Vec<String>, Value) {
    let seen = &std::cell::RefCell::new(Vec::<String>::new());
    let run = wait_for(&format!("the end of run {id}"), Duration::from_millis(100), move || async move {
        let a = api.get(&format!("/v1/syncs/{id}"), token).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.body);
        let status = a.body["sync"]["status"].as_str().unwrap().to_owned();
        let mut seen = seen.borrow_mut();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "succeeded" || status == "failed" { Ok(a.body["sync"].clone()) } else { Err(status) }
    })
    .await;
    (seen.take(), run)
}

/// Follows the first sync a connect answered (`initialSync`) to its end: every run succeeds.
pub async fn first_sync_succeeds(api: &Api, token: &str, connected: &Value) {
    let ids = connected["initialSync"]["syncIds"].as_array().unwrap_or_else(|| panic!("no first sync: {connected}"));
    assert!(!ids.is_empty(), "{connected}");
    for id in ids {
        let (_, run) = follow(api, token, id.as_str().unwrap()).await;
        assert_eq!(run["status"], "succeeded", "{run}");
    }
}

/// A run's counts: fetched, created, updated, deleted.
pub fn counts(run: &Value) -> [u64; 4] {
    ["fetched", "created", "updated", "deleted"].map(|k| run["counts"][k].as_u64().unwrap())
}
