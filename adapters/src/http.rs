//! HTTP glue for the API functions: turns a Lambda HTTP event into an `ApiRequest`, runs the
//! function's router, and renders every outcome — including every error — as the API's JSON with
//! an `X-Request-Id`. Logs are JSON and carry no headers or bodies, so no secret reaches them.

use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::{
    borrow::Cow,
    collections::HashMap,
    future::Future,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};
use tracing_subscriber::filter::LevelFilter;

use crate::metering;
use millwright::{
    error::{ApiError, ErrorCode},
    limits::{self, Usage},
};

/// The largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 1 << 20;
/// The longest path segment (an id or a record key) the API accepts; DynamoDB keys are bounded
/// too (1,024 bytes for a sort key), and a longer one must be a 400, not a storage error.
pub const MAX_SEGMENT_BYTES: usize = 512;
/// The longest query parameter value (a cursor, a filter).
pub const MAX_QUERY_VALUE_BYTES: usize = 1024;
/// Kept back from the invocation's deadline to answer (and store what must be stored).
const ANSWER_MARGIN: Duration = Duration::from_millis(2500);

/// The parts of a request the routers use.
pub struct ApiRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Non-empty path segments: `/v1/connections/c1` → `["v1", "connections", "c1"]`.
    pub segments: Vec<String>,
    /// Query parameters (first value of each).
    pub query: HashMap<String, String>,
    /// Headers, by lowercase name.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// `req_…`, echoed in `X-Request-Id` and in error bodies.
    pub request_id: String,
}

/// Never prints the body (credentials travel in it), the Authorization header's value, the
/// cookies (a dashboard session) nor a connect link's secret.
impl std::fmt::Debug for ApiRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: std::collections::BTreeMap<_, _> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), if k == "authorization" || k == "cookie" { "<redacted>" } else { v.as_str() }))
            .collect();
        f.debug_struct("ApiRequest")
            .field("method", &self.method)
            .field("path", &loggable(&format!("/{}", self.segments.join("/"))))
            .field("query", &self.query)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .field("request_id", &self.request_id)
            .finish()
    }
}

impl ApiRequest {
    /// The path segments as `&str`s, for matching.
    pub fn path(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// A header (names are lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A query parameter.
    pub fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }

    /// The origin the caller reached the API at (`https://api.example.com`), for links to it.
    pub fn origin(&self) -> String {
        let scheme = self.header("x-forwarded-proto").unwrap_or("https");
        format!("{scheme}://{}", self.header("host").unwrap_or("localhost"))
    }

    /// A cookie the browser sent.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        let header = self.header("cookie")?;
        header.split(';').filter_map(|pair| pair.trim().split_once('=')).find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A 400 for a path segment or query value longer than the API takes, before any route
    /// looks at it.
    fn oversized(&self) -> Option<ApiError> {
        if self.segments.iter().any(|s| s.len() > MAX_SEGMENT_BYTES) {
            return Some(ApiError::new(
                ErrorCode::InvalidRequest,
                format!("A path segment (an id or a key) is longer than {MAX_SEGMENT_BYTES} bytes."),
            ));
        }
        let (name, _) = self.query.iter().find(|(_, v)| v.len() > MAX_QUERY_VALUE_BYTES)?;
        Some(ApiError::invalid_field(name.clone(), format!("longer than {MAX_QUERY_VALUE_BYTES} bytes")))
    }

    /// Parses the JSON body; a missing, oversized or malformed body is a 4xx naming the field.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.len() > MAX_BODY_BYTES {
            return Err(ApiError::new(
                ErrorCode::PayloadTooLarge,
                format!("The body is larger than {MAX_BODY_BYTES} bytes."),
            ));
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "A JSON request body is required."));
        }
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = inner.to_string();
            let err = ApiError::new(ErrorCode::InvalidRequest, format!("The request body is not valid: {message}"));
            if inner.is_syntax() || inner.is_eof() || path == "." {
                err.with_detail(message)
            } else {
                err.with_field(path, message)
            }
        })
    }
}

/// A successful answer: a status, a body and the headers beyond the usual ones.
#[derive(Debug)]
pub struct Reply {
    /// 200, 201, 202, 303…
    pub status: u16,
    content: Content,
    headers: Vec<(&'static str, String)>,
}

/// What a reply carries.
#[derive(Debug)]
enum Content {
    /// The API's JSON.
    Json(Value),
    /// Text of a type: JSON rendered at build time, a page, a stylesheet.
    Text(&'static str, Cow<'static, str>),
    /// Nothing (a redirect).
    Empty,
}

impl Reply {
    /// A status with a body.
    pub fn new(status: u16, body: Value) -> Self {
        Self { status, content: Content::Json(body), headers: Vec::new() }
    }

    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Self::new(200, body)
    }

    /// 200 with a JSON document rendered at build time: nothing is parsed or serialised.
    pub fn rendered(text: &'static str) -> Self {
        Self::text(200, "application/json", text)
    }

    /// 201 with a body.
    pub fn created(body: Value) -> Self {
        Self::new(201, body)
    }

    /// 202 with a body: the work is queued.
    pub fn accepted(body: Value) -> Self {
        Self::new(202, body)
    }

    /// A status with text of a content type (an HTML page, an embedded stylesheet).
    pub fn text(status: u16, content_type: &'static str, text: impl Into<Cow<'static, str>>) -> Self {
        Self { status, content: Content::Text(content_type, text.into()), headers: Vec::new() }
    }

    /// 303 See Other: after a form, the browser asks for `location` with a GET.
    pub fn see_other(location: impl Into<String>) -> Self {
        Self { status: 303, content: Content::Empty, headers: vec![("location", location.into())] }
    }

    /// The reply with one more header (`set-cookie` may come several times).
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// The answer of a route that matches no known path.
pub fn no_route() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "No such endpoint; see GET /v1/openapi.json.")
}

/// When the request must be answered: the invocation's deadline less the margin to answer.
fn answer_by(event: &Request) -> Instant {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let left = event
        .lambda_context_ref()
        .map(|c| Duration::from_millis(c.deadline).saturating_sub(now))
        .filter(|left| !left.is_zero())
        .unwrap_or(Duration::from_secs(29));
    Instant::now() + left.saturating_sub(ANSWER_MARGIN)
}

/// A path as logs show it: the secret of a connect link (`/connect/{session}/{secret}`) is not.
fn loggable(path: &str) -> String {
    match path.strip_prefix("/connect/").and_then(|rest| rest.split_once('/')) {
        Some((session, _)) => format!("/connect/{session}/<secret>"),
        None => path.to_owned(),
    }
}

fn request_id(event: &Request) -> String {
    let raw = event.lambda_context_ref().map(|c| c.request_id.replace('-', "")).unwrap_or_default();
    if raw.is_empty() { format!("req_{}", ulid::Ulid::new().to_string().to_lowercase()) } else { format!("req_{raw}") }
}

fn parse(event: &Request) -> ApiRequest {
    ApiRequest {
        method: event.method().as_str().to_owned(),
        segments: event.raw_http_path().split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        query: event
            .query_string_parameters_ref()
            .map(|q| q.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect())
            .unwrap_or_default(),
        headers: event
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
            .collect(),
        body: event.body().as_ref().to_vec(),
        request_id: request_id(event),
    }
}

fn render(request_id: &str, outcome: Result<Reply, ApiError>, usage: Option<Usage>) -> Response<Body> {
    let reply = outcome.unwrap_or_else(|e| {
        let reply = Reply::new(e.code.status(), e.body(request_id));
        match e.retry_after {
            Some(seconds) => reply.with_header("retry-after", seconds.to_string()),
            None => reply,
        }
    });
    let (content_type, body) = match reply.content {
        Content::Json(value) => (Some("application/json"), Body::Text(value.to_string())),
        Content::Text(content_type, text) => (Some(content_type), Body::Text(text.into_owned())),
        Content::Empty => (None, Body::Empty),
    };
    let response = Response::builder().status(reply.status).header("x-request-id", request_id);
    let response = content_type.into_iter().fold(response, |r, t| r.header("content-type", t));
    let headers = usage.into_iter().flat_map(Usage::headers).map(|(n, v)| (n, v.to_string()));
    headers
        .chain(reply.headers)
        .fold(response, |r, (name, value)| r.header(name, value))
        .body(body)
        .unwrap_or_else(|_| Response::builder().status(500).body(Body::Empty).expect("an empty 500 is valid"))
}

/// Sets up JSON logs at the level `RUST_LOG` names (`error`, `warn`, `info` — the default —,
/// `debug`, `trace`). A level, not a directive list: directives need a regex engine at start-up
/// and in the binary, and one level is all the functions need.
pub fn init_logging() {
    let level = std::env::var("RUST_LOG").ok().and_then(|l| l.trim().parse().ok()).unwrap_or(LevelFilter::INFO);
    tracing_subscriber::fmt().json().with_max_level(level).with_current_span(false).with_target(false).init();
}

/// Serves a function: each event goes through `route` with the shared state, and whatever it
/// returns — a reply or an error — leaves as the API's JSON.
pub async fn serve<S, F, Fut>(state: Arc<S>, route: F) -> Result<(), lambda_http::Error>
where
    S: Send + Sync + 'static,
    F: Fn(Arc<S>, ApiRequest) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<Reply, ApiError>> + Send,
{
    lambda_http::run(service_fn(move |event: Request| {
        let state = state.clone();
        async move {
            let started = Instant::now();
            metering::take();
            let request = parse(&event);
            let (id, method, path) =
                (request.request_id.clone(), request.method.clone(), loggable(event.raw_http_path()));
            let (outcome, usage) = match request.oversized() {
                Some(refused) => (Err(refused), None),
                None => limits::tracking(millwright::deadline::within(answer_by(&event), route(state, request))).await,
            };
            let status = outcome.as_ref().map_or_else(|e| e.code.status(), |r| r.status);
            let (millis, aws_calls) = (started.elapsed().as_millis() as u64, metering::take());
            tracing::info!(request_id = %id, %method, %path, status, millis, aws_calls, "request");
            Ok::<_, std::convert::Infallible>(render(&id, outcome, usage))
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_carries_secrets_never_prints_them() {
        let request = ApiRequest {
            method: "POST".into(),
            segments: vec!["v1".into(), "connections".into()],
            query: HashMap::new(),
            headers: HashMap::from([
                ("authorization".into(), "Bearer mw_acct_secret".into()),
                ("cookie".into(), "__Host-mw_session=sessionsecret".into()),
            ]),
            body: br#"{"credentials":{"password":"hunter2"}}"#.to_vec(),
            request_id: "req_1".into(),
        };
        let connect: millwright::connections::ConnectRequest =
            serde_json::from_str(r#"{"system":"sandbox","credentials":{"password":"hunter2"}}"#).unwrap();
        let link = ApiRequest {
            segments: vec!["connect".into(), "cs_1".into(), "linksecret".into()],
            method: "GET".into(),
            query: HashMap::new(),
            headers: HashMap::new(),
            body: Vec::new(),
            request_id: "req_2".into(),
        };
        let printed = format!("{request:?} {connect:?} {link:?}");
        for secret in ["mw_acct_secret", "hunter2", "sessionsecret", "linksecret"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("/connect/cs_1/<secret>"), "{printed}");
        assert!(printed.contains("password"), "the field names remain: {printed}");
    }
}
