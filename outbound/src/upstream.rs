//! The HTTP plumbing the real connectors share: one client, per-attempt timeouts, retries with
//! backoff that honour `Retry-After`, and what a failed exchange means in `ConnectorError` terms.
//! Connectors build the request (URL, auth, body); this module decides whether and when to try
//! again, so every system gets the same upstream-failure behaviour. It also decides where
//! requests may go: https to public addresses only (as for webhooks, checked on the addresses
//! actually connected to), so a connection's base URL cannot reach internal services.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{RequestBuilder, StatusCode, header::HeaderMap};

use millwright::{
    connectors::ConnectorError,
    deadline,
    webhooks::{AddressPolicy, Refused},
};

use crate::GuardedResolver;

/// The least time an attempt is worth starting with.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);
/// The largest answer read from a system.
const MAX_ANSWER_BYTES: usize = 32 << 20;

/// How hard a call tries before it gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles after each further one.
    pub backoff: Duration,
    /// The longest wait a `Retry-After` may ask for; longer, and the call reports the system
    /// unavailable instead of waiting.
    pub max_wait: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    /// Within an API request's budget: three attempts, at most 5 s of waiting each, 8 s per
    /// attempt.
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(5),
            timeout: Duration::from_secs(8),
        }
    }
}

/// Whether a request may be sent again after an answer that leaves its effect unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replay {
    /// Reads and function calls that change nothing: any transient failure is retried.
    Safe,
    /// Writes: retried only where the system says it did not act (429, 503).
    Unsafe,
}

/// An answer the system gave, read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON, or an upstream error naming what was expected.
    pub fn json(&self, what: &str) -> Result<serde_json::Value, ConnectorError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| ConnectorError::Upstream(format!("{what}: the answer is not JSON ({e})")))
    }
}

/// The client every connector sends through.
#[derive(Clone)]
pub struct Upstream {
    client: reqwest::Client,
    policy: RetryPolicy,
    addresses: AddressPolicy,
}

/// The seconds a `Retry-After` asks for, as a number or an HTTP date.
fn retry_after(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or_default())
}

/// The address rule that stopped a request, if one did (the resolver refused its host).
fn refusal(e: &reqwest::Error) -> Option<Refused> {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return Some(refused.clone());
        }
        source = cause.source();
    }
    None
}

/// Whether an answer with this status is worth another attempt, for a request of this kind.
fn transient(status: StatusCode, replay: Replay) -> bool {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => true,
        StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT | StatusCode::INTERNAL_SERVER_ERROR => {
            replay == Replay::Safe
        }
        _ => false,
    }
}

/// What a final transient answer means to the caller.
fn give_up(status: StatusCode, detail: String, retry_after: Option<Duration>) -> ConnectorError {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            ConnectorError::Unavailable { reason: detail, retry_after }
        }
        StatusCode::GATEWAY_TIMEOUT => ConnectorError::Timeout,
        _ => ConnectorError::Upstream(detail),
    }
}

impl Upstream {
    /// A client under the address rules with the default retries.
    pub fn new(addresses: AddressPolicy) -> Self {
        Self::with_retries(addresses, RetryPolicy::default())
    }

    /// A client that keeps no cookies (connections never share a session), follows no
    /// redirects, ignores proxy settings of the environment and resolves host names only to
    /// addresses the rules allow.
    pub fn with_retries(addresses: AddressPolicy, policy: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(policy.timeout)
            .dns_resolver(std::sync::Arc::new(GuardedResolver(addresses)))
            .user_agent(concat!("Millwright/", env!("CARGO_PKG_VERSION")))
            .build()
            // Fails closed: a client without these rules (redirects on, no address guard) must
            // never be used instead. Building fails only if the TLS stack cannot start, and then
            // the function cannot start either.
            .expect("the guarded HTTP client could not be built");
        Self { client, policy, addresses }
    }

    /// The client, for connectors to build requests with.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends the request `build` makes, again after transient failures (timeouts, 429, 5xx as
    /// `replay` allows), waiting as `Retry-After` asks or with doubling backoff. Answers the first
    /// answer that is not transient — errors such as 400 or 404 included, for the connector to
    /// read — or what the last failure means.
    pub async fn send(&self, replay: Replay, build: impl Fn() -> RequestBuilder) -> Result<Answer, ConnectorError> {
        self.send_judged(replay, build, |answer| transient(answer.status, replay)).await
    }

    /// `send`, with the caller judging which answers are transient: for systems whose refusals
    /// come as HTTP 500 with a body that says whether trying again can help (SOAP faults).
    pub async fn send_judged(
        &self,
        replay: Replay,
        build: impl Fn() -> RequestBuilder,
        transient: impl Fn(&Answer) -> bool,
    ) -> Result<Answer, ConnectorError> {
        let mut wait = self.policy.backoff;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.policy.attempts;
            let mut request = build().build().map_err(|e| ConnectorError::Upstream(format!("a bad request: {e}")))?;
            // An attempt gets its own timeout, within what the API request has left; with too
            // little left it is not made (nothing was sent, so nothing is uncertain).
            let left = deadline::remaining();
            if left.is_some_and(|l| l < MIN_ATTEMPT) {
                return Err(ConnectorError::Timeout);
            }
            *request.timeout_mut() = Some(left.map_or(self.policy.timeout, |l| l.min(self.policy.timeout)));
            let host = request.url().host_str().unwrap_or_default().to_owned();
            // Address literals never reach the resolver, which checks host names.
            if let Err(refused) = self.addresses.check_url(request.url().as_str()) {
                return Err(ConnectorError::Rejected(format!("{host} {refused}")));
            }
            let sent = self.client.execute(request).await;
            if let Some(refused) = sent.as_ref().err().and_then(refusal) {
                return Err(ConnectorError::Rejected(format!("{host} {refused}")));
            }
            if replay == Replay::Unsafe && sent.as_ref().err().is_none_or(|e| !e.is_connect()) {
                millwright::connectors::note_write();
            }
            // A write that reached the system and got no clear answer may have happened: it is
            // never sent again, and the caller learns the outcome is unknown.
            let unknown = |reason: String, timed_out| ConnectorError::Unknown { reason, timed_out };
            let failure = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    let body = match read_body(response).await {
                        Ok(body) => body,
                        Err(e) if replay == Replay::Unsafe => {
                            return Err(unknown(e.to_string(), e == ConnectorError::Timeout));
                        }
                        Err(e) => return Err(e),
                    };
                    if replay == Replay::Unsafe && uncertain(status) {
                        return Err(unknown(format!("HTTP {status}"), status == StatusCode::GATEWAY_TIMEOUT));
                    }
                    let answer = Answer { status, headers, body };
                    if !transient(&answer) {
                        return Ok(answer);
                    }
                    let asked = retry_after(&answer.headers, Utc::now());
                    let detail = format!("HTTP {status}");
                    if asked.is_some_and(|a| a > self.policy.max_wait) || last {
                        let detail = match asked {
                            Some(a) => format!("{detail}; retry after {} s", a.as_secs()),
                            None => detail,
                        };
                        return Err(give_up(status, detail, asked));
                    }
                    tracing::info!(
                        status = status.as_u16(),
                        attempt,
                        "system answered with a transient error; retrying"
                    );
                    if let Some(asked) = asked {
                        wait = asked;
                    }
                    give_up(status, detail, asked)
                }
                Err(e) if e.is_timeout() && replay == Replay::Unsafe => {
                    return Err(unknown("no answer in time".into(), true));
                }
                Err(e) if e.is_timeout() && last => return Err(ConnectorError::Timeout),
                Err(e) if e.is_timeout() => ConnectorError::Timeout,
                Err(e) if e.is_connect() && !last => ConnectorError::Upstream(format!("cannot connect: {e}")),
                Err(e) => return Err(ConnectorError::Upstream(format!("the request failed: {e}"))),
            };
            // No wait the request has no time for: what the last attempt met is the answer.
            if deadline::remaining().is_some_and(|l| l < wait + MIN_ATTEMPT) {
                return Err(failure);
            }
            tracing::info!(attempt, reason = %failure, "system did not answer; retrying");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(self.policy.max_wait);
            attempt += 1;
        }
    }
}

/// The answer's body, up to `MAX_ANSWER_BYTES`: a system (or a hostile base URL) cannot make a
/// function hold more.
async fn read_body(mut response: reqwest::Response) -> Result<Vec<u8>, ConnectorError> {
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) if body.len() + chunk.len() > MAX_ANSWER_BYTES => {
                return Err(ConnectorError::Upstream(format!(
                    "the answer is larger than {} MiB",
                    MAX_ANSWER_BYTES >> 20
                )));
            }
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(ConnectorError::Timeout),
            Err(e) => return Err(ConnectorError::Upstream(format!("reading the answer failed: {e}"))),
        }
    }
}

/// Whether a write's answer leaves its effect unknown: the system or a gateway before it failed
/// while handling it (500, 502, 504). 429 and 503 say the system did not act.
fn uncertain(status: StatusCode) -> bool {
    matches!(status, StatusCode::INTERNAL_SERVER_ERROR | StatusCode::BAD_GATEWAY | StatusCode::GATEWAY_TIMEOUT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use millwright::connectors::watching_writes;
    use reqwest::header::{HeaderValue, RETRY_AFTER};

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2026-12-01T12:00:00Z").unwrap().with_timezone(&Utc);
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Tue, 01 Dec 2026 12:00:30 GMT"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[tokio::test]
    async fn requests_reach_only_public_https_addresses() {
        let upstream =
            Upstream::with_retries(AddressPolicy::default(), RetryPolicy { attempts: 1, ..Default::default() });
        for (url, why) in [
            ("http://127.0.0.1:9/x", "must use https"),
            ("https://169.254.169.254/latest/meta-data", "private, loopback"),
            ("https://10.1.2.3/sap", "private, loopback"),
            ("https://localhost/sap", "private, loopback"),
        ] {
            let sent = upstream.send(Replay::Safe, || upstream.client().get(url)).await;
            assert!(matches!(&sent, Err(ConnectorError::Rejected(m)) if m.contains(why)), "{url}: {sent:?}");
        }
        let local = Upstream::with_retries(
            AddressPolicy { allow_local: true },
            RetryPolicy { attempts: 1, ..Default::default() },
        );
        // A port that was free a moment ago: nothing listens there.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{closed}/x");
        let refused = local.send(Replay::Safe, || local.client().get(&url)).await;
        assert!(matches!(refused, Err(ConnectorError::Upstream(_))), "the local-dev switch lets 127.0.0.1 through");
    }

    #[tokio::test]
    async fn a_request_stops_in_its_time_and_an_unanswered_write_is_of_unknown_outcome() {
        // A system that takes every connection and never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        let upstream = Upstream::new(AddressPolicy { allow_local: true });
        let time = |millis| std::time::Instant::now() + Duration::from_millis(millis);

        let began = std::time::Instant::now();
        let read = deadline::within(time(2500), upstream.send(Replay::Safe, || upstream.client().get(&url))).await;
        assert!(matches!(read, Err(ConnectorError::Timeout)), "{read:?}");
        assert!(began.elapsed() < Duration::from_secs(3), "stopped within its time, not after 3 × 8 s");

        let send = upstream.send(Replay::Unsafe, || upstream.client().post(&url));
        let (write, wrote) = watching_writes(deadline::within(time(2500), send)).await;
        assert!(matches!(write, Err(ConnectorError::Unknown { timed_out: true, .. })), "{write:?}");
        assert!(wrote, "the write reached the system");

        let send = upstream.send(Replay::Unsafe, || upstream.client().post(&url));
        let (late, wrote) = watching_writes(deadline::within(time(500), send)).await;
        assert!(matches!(late, Err(ConnectorError::Timeout)) && !wrote, "too little time: not sent at all");
    }

    #[test]
    fn writes_are_retried_only_where_the_system_did_not_act() {
        assert!(transient(StatusCode::SERVICE_UNAVAILABLE, Replay::Unsafe));
        assert!(transient(StatusCode::TOO_MANY_REQUESTS, Replay::Unsafe));
        assert!(!transient(StatusCode::BAD_GATEWAY, Replay::Unsafe));
        assert!(transient(StatusCode::BAD_GATEWAY, Replay::Safe));
        assert!(!transient(StatusCode::BAD_REQUEST, Replay::Safe));
        let asked = Some(Duration::from_secs(60));
        assert_eq!(
            give_up(StatusCode::TOO_MANY_REQUESTS, "x".into(), asked),
            ConnectorError::Unavailable { reason: "x".into(), retry_after: asked }
        );
        assert_eq!(give_up(StatusCode::GATEWAY_TIMEOUT, "x".into(), None), ConnectorError::Timeout);
    }
}
