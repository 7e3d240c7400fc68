//! The harness of the black-box tests: a client of the running local stack (scripts/dev,
//! started by scripts/test) and the operator tool that opens accounts.
//!
//! Needs `MILLWRIGHT_API_URL`, `MILLWRIGHT_ADMIN_BIN` (opens accounts), `MILLWRIGHT_STACK_LOG`
//! (the stack's captured output) and the stack's AWS settings (`.local/stack.env`).

use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use std::process::Command;

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
}

impl Answer {
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
        Self { base: env("MILLWRIGHT_API_URL"), http: Client::new() }
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
        let res = req.send().await.expect("the stack answers");
        let status = res.status();
        let request_id =
            res.headers().get("x-request-id").expect("X-Request-Id on every response").to_str().unwrap().to_owned();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        assert!(status.as_u16() < 500, "{path} answered {status}: {body}");
        Answer { status, request_id, body }
    }

    /// GET with a bearer credential.
    pub async fn get(&self, path: &str, bearer: &str) -> Answer {
        self.call(Method::GET, path, Some(bearer), None).await
    }

    /// POST a JSON body with a bearer credential.
    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(bearer), Some(&body.to_string())).await
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

/// Opens an account through the operator tool and returns its key.
pub fn account(credits: u32) -> String {
    let out = Command::new(env("MILLWRIGHT_ADMIN_BIN"))
        .args(["account", "create", "--credits", &credits.to_string()])
        .output()
        .expect("millwright-admin runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
