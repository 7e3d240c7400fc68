//! `WebhookTransport` on reqwest: a 10 s timeout, no redirects, no proxies, and a resolver that
//! only hands the connection addresses the address rules allow — the check happens on the very
//! addresses connected to, so DNS that changes its answer after the endpoint was configured
//! reaches nothing internal.

use async_trait::async_trait;
use reqwest::Client;
use std::{sync::Arc, time::Duration};

use millwright::{
    ports::{PostError, WebhookTransport},
    webhooks::AddressPolicy,
};

use crate::GuardedResolver;

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Sends webhooks over HTTPS (HTTP to 127.0.0.1 in local-dev mode).
pub struct HttpTransport {
    client: Client,
    policy: AddressPolicy,
}

impl HttpTransport {
    /// A transport under the given address rules.
    pub fn new(policy: AddressPolicy) -> Self {
        let client = Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(policy)))
            .build()
            .expect("the TLS backend initialises");
        Self { client, policy }
    }
}

#[async_trait]
impl WebhookTransport for HttpTransport {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<u16, PostError> {
        // Address literals never reach the resolver: `check_url` checks them.
        let url = self.policy.check_url(url).map_err(|e| PostError::Refused(e.to_string()))?;
        let mut request = self.client.post(url).body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => Err(PostError::Timeout),
            Err(e) => Err(PostError::Failed(describe(&e))),
        }
    }
}

/// The error with its causes, which hold the useful part ("connection refused", the refusal).
fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
