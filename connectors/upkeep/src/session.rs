//! One call's view of an UpKeep account: where its API is, and a session token — obtained by
//! logging in with the user's email and password (`POST /auth`), kept in the process until it
//! nears its `expiresAt`, and obtained anew once when UpKeep refuses it. Answers come in
//! UpKeep's envelopes (`{success, result}`, `{success, results}`, `{success: false, message}`),
//! read here into what they carry or what their failure means.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use url::Url;

use millwright::{
    connectors::{ConnectorError, Credentials},
    error::ErrorCode,
};
use millwright_outbound::{
    tokens::{self, Tokens},
    upstream::{Answer, Replay, Upstream},
};

/// The API's address when the credentials name none.
const DEFAULT_BASE: &str = "https://api.onupkeep.com/api/v2/";
/// A session's life when UpKeep's answer does not say.
const DEFAULT_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);
/// The longest message of UpKeep's passed on.
const MAX_MESSAGE: usize = 500;

/// An authenticated view of one UpKeep account.
pub struct Session<'a> {
    upstream: &'a Upstream,
    tokens: &'a Tokens,
    base: Url,
    email: String,
    password: String,
    key: String,
}

/// What an error answer means: UpKeep's `message` is the reason.
pub fn failure(answer: &Answer) -> ConnectorError {
    let body = serde_json::from_slice::<Value>(&answer.body).ok();
    let said = body.as_ref().and_then(|b| b.get("message").or_else(|| b.get("error"))).and_then(Value::as_str);
    let reason = answer.status.canonical_reason().unwrap_or("no reason given");
    let message: String =
        said.map(str::trim).filter(|s| !s.is_empty()).unwrap_or(reason).chars().take(MAX_MESSAGE).collect();
    match answer.status {
        StatusCode::UNAUTHORIZED => ConnectorError::Rejected(message),
        StatusCode::FORBIDDEN => ConnectorError::Forbidden(message),
        StatusCode::NOT_FOUND => ConnectorError::NotFound,
        StatusCode::BAD_REQUEST | StatusCode::UNPROCESSABLE_ENTITY => {
            ConnectorError::Rule { code: ErrorCode::InvalidRequest, message, field: None }
        }
        status => ConnectorError::Upstream(format!("HTTP {}: {message}", status.as_u16())),
    }
}

/// The base URL: `baseUrl` when given (it must be http or https, with no query), else UpKeep's.
fn base_url(credentials: &Credentials) -> Result<Url, ConnectorError> {
    let text = credentials.text("baseUrl").unwrap_or(DEFAULT_BASE).trim();
    let mut url = Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none())
        .ok_or_else(|| {
            ConnectorError::Rejected(
                "baseUrl must be UpKeep's API address, such as https://api.onupkeep.com/api/v2".into(),
            )
        })?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

impl<'a> Session<'a> {
    /// A session for the credentials' user.
    pub fn new(upstream: &'a Upstream, tokens: &'a Tokens, credentials: &Credentials) -> Result<Self, ConnectorError> {
        let base = base_url(credentials)?;
        let field = |name: &str| {
            credentials
                .text(name)
                .map(str::to_owned)
                .ok_or_else(|| ConnectorError::Rejected(format!("{name} is required")))
        };
        let (email, password) = (field("email")?, field("password")?);
        let key = tokens::key(&[base.as_str(), &email, &password]);
        Ok(Self { upstream, tokens, base, email, password, key })
    }

    /// A URL under the API with a query.
    pub fn url(&self, path: &str, query: &[(&str, String)]) -> Result<Url, ConnectorError> {
        let mut url = self.base.join(path).map_err(|e| ConnectorError::Upstream(format!("building a URL: {e}")))?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Logs in afresh (or takes the session held); `stale` is one UpKeep just refused.
    pub async fn token(&self, stale: Option<&str>) -> Result<Arc<str>, ConnectorError> {
        if let Some(stale) = stale {
            self.tokens.forget(&self.key, Some(stale));
        }
        if let Some(token) = self.tokens.get(&self.key) {
            return Ok(token);
        }
        let url = self.url("auth", &[])?;
        let body = json!({"email": self.email, "password": self.password});
        let asked = Instant::now();
        let answer = self.upstream.send(Replay::Safe, || self.upstream.client().post(url.clone()).json(&body)).await?;
        if !answer.status.is_success() {
            // A refused login is the credentials', whatever status UpKeep chose for it.
            return Err(match failure(&answer) {
                ConnectorError::Rule { message, .. } | ConnectorError::Forbidden(message) => {
                    ConnectorError::Rejected(message)
                }
                ConnectorError::NotFound => {
                    ConnectorError::Rejected("no UpKeep API answers at baseUrl (HTTP 404)".into())
                }
                other => other,
            });
        }
        let result = answer.json("the login")?;
        let result = result.get("result").unwrap_or(&Value::Null);
        let token = result
            .get("sessionToken")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ConnectorError::Upstream("the login answered without a sessionToken".into()))?;
        let expires =
            result.get("expiresAt").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let lifetime = expires.and_then(|t| (t.to_utc() - Utc::now()).to_std().ok()).unwrap_or(DEFAULT_LIFETIME);
        Ok(self.tokens.put(&self.key, token, asked, lifetime))
    }

    /// Sends a call with the session token, and once more with a new one if UpKeep refuses it;
    /// answers what the envelope carries (`result` or `results`), or what its failure means.
    pub async fn call(&self, method: Method, url: Url, body: Option<&Value>) -> Result<Value, ConnectorError> {
        let replay = if method == Method::GET { Replay::Safe } else { Replay::Unsafe };
        let token = self.token(None).await?;
        let mut answer = self.attempt(&method, &url, body, replay, &token).await?;
        if answer.status == StatusCode::UNAUTHORIZED {
            tracing::info!("UpKeep refused the session token; logging in again");
            let renewed = self.token(Some(&token)).await?;
            answer = self.attempt(&method, &url, body, replay, &renewed).await?;
        }
        if !answer.status.is_success() {
            return Err(failure(&answer));
        }
        let envelope = answer.json("UpKeep")?;
        if envelope.get("success").and_then(Value::as_bool) == Some(false) {
            return Err(failure(&Answer { status: StatusCode::BAD_REQUEST, ..answer }));
        }
        Ok(envelope.get("result").or_else(|| envelope.get("results")).cloned().unwrap_or(Value::Null))
    }

    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        body: Option<&Value>,
        replay: Replay,
        token: &str,
    ) -> Result<Answer, ConnectorError> {
        self.upstream
            .send(replay, || {
                let mut value = reqwest::header::HeaderValue::from_str(token)
                    .unwrap_or(reqwest::header::HeaderValue::from_static(""));
                value.set_sensitive(true);
                let request = self
                    .upstream
                    .client()
                    .request(method.clone(), url.clone())
                    .header("session-token", value)
                    .header(reqwest::header::ACCEPT, "application/json");
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn upkeep_errors_map_by_status_with_its_message() {
        assert_eq!(
            failure(&answer(401, r#"{"success":false,"message":"Invalid session token"}"#)),
            ConnectorError::Rejected("Invalid session token".into())
        );
        assert!(matches!(
            failure(&answer(400, r#"{"success":false,"message":"title is required"}"#)),
            ConnectorError::Rule { code: ErrorCode::InvalidRequest, message, .. } if message == "title is required"
        ));
        assert_eq!(failure(&answer(404, r#"{"success":false,"message":"Not found"}"#)), ConnectorError::NotFound);
        assert_eq!(failure(&answer(502, "<html>")), ConnectorError::Upstream("HTTP 502: Bad Gateway".into()));
        assert!(
            matches!(failure(&answer(403, r#"{"success":false,"error":"plan"}"#)), ConnectorError::Forbidden(m) if m == "plan")
        );
    }

    #[test]
    fn the_base_url_defaults_to_upkeeps() {
        let c = |v: Value| Credentials(v.as_object().cloned().unwrap());
        assert_eq!(base_url(&c(json!({}))).unwrap().as_str(), DEFAULT_BASE);
        assert_eq!(
            base_url(&c(json!({"baseUrl": "http://127.0.0.1:8095/api/v2"}))).unwrap().as_str(),
            "http://127.0.0.1:8095/api/v2/"
        );
        assert!(base_url(&c(json!({"baseUrl": "ftp://x"}))).is_err());
    }
}
