//! One call's authenticated view of a NetSuite account. Every request carries the account's
//! bearer token, renewed once when NetSuite refuses it (an hour-old token, or one NetSuite
//! dropped, answers 401 like a bad one), and waits for a permit: this process never has more
//! requests in flight to one account than the connection's limit. NetSuite's answer to going over
//! the account's limit anyway (429, other integrations share it) is retried with backoff by the
//! shared client and, past that, reported as the system being busy for a few seconds.

use std::{
    collections::HashMap,
    sync::{Arc, LazyLock, Mutex},
};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Semaphore;
use url::Url;

use millwright::connectors::ConnectorError;
use millwright_outbound::upstream::{Answer, Replay, Upstream};

use crate::{
    account::Account,
    auth,
    errors::{BUSY_WAIT, failure},
};

/// The media type NetSuite's record service speaks.
const JSON: &str = "application/json";

/// Request permits by account fingerprint and limit.
type Permits = HashMap<(String, u32), Arc<Semaphore>>;

/// This process's permits.
static PERMITS: LazyLock<Mutex<Permits>> = LazyLock::new(Default::default);

/// An authenticated session with one account.
pub struct Session<'a> {
    upstream: &'a Upstream,
    /// The account, its key and limit.
    pub account: Account,
    permits: Arc<Semaphore>,
}

/// A request: method, URL, extra headers, JSON body.
pub struct Call<'b> {
    /// GET, POST, PATCH.
    pub method: Method,
    /// The whole URL.
    pub url: Url,
    /// Headers beyond authentication and content negotiation.
    pub headers: &'b [(&'static str, String)],
    /// The JSON body, if any.
    pub body: Option<&'b Value>,
    /// Whether it may be sent again after an unclear failure.
    pub replay: Replay,
}

impl<'a> Session<'a> {
    /// A session for the account, sharing this process's permits for it.
    pub fn new(upstream: &'a Upstream, account: Account) -> Self {
        let key = (account.fingerprint.clone(), account.calls_at_once);
        let permits = PERMITS
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(account.calls_at_once as usize)))
            .clone();
        Self { upstream, account, permits }
    }

    /// A URL under the REST domain, e.g. `services/rest/record/v1/purchaseOrder/4711`.
    pub fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url =
            self.account.base.join(path).map_err(|e| ConnectorError::Upstream(format!("building a URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a call with a token, and once more with a new one if NetSuite refuses the token.
    /// Answers whatever NetSuite answered last, errors included.
    pub async fn send(&self, call: &Call<'_>) -> Result<Answer, ConnectorError> {
        let _permit = self.permits.acquire().await.map_err(|_| ConnectorError::Upstream("permits closed".into()))?;
        let token = auth::token(self.upstream, &self.account, None).await?;
        let answer = self.attempt(call, &token).await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(account = %self.account.id, "NetSuite refused the access token; asking for a new one");
        let renewed = auth::token(self.upstream, &self.account, Some(&token)).await?;
        self.attempt(call, &renewed).await
    }

    /// Sends a call and answers a success; an error answer becomes what it means.
    pub async fn ok(&self, call: &Call<'_>) -> Result<Answer, ConnectorError> {
        let answer = self.send(call).await?;
        if answer.status.is_success() { Ok(answer) } else { Err(failure(&answer)) }
    }

    async fn attempt(&self, call: &Call<'_>, token: &str) -> Result<Answer, ConnectorError> {
        let sent = self
            .upstream
            .send(call.replay, || {
                let request = self
                    .upstream
                    .client()
                    .request(call.method.clone(), call.url.clone())
                    .bearer_auth(token)
                    .header(reqwest::header::ACCEPT, JSON);
                let request = call.headers.iter().fold(request, |r, (name, value)| r.header(*name, value));
                match call.body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await;
        match sent {
            Err(ConnectorError::Unavailable { reason, retry_after: None }) => {
                Err(ConnectorError::Unavailable { reason, retry_after: Some(BUSY_WAIT) })
            }
            other => other,
        }
    }
}
