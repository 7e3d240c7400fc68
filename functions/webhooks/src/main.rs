//! The `webhooks` function: webhook endpoints, their delivery logs and redeliveries. It holds no
//! connector: connections are only looked up.

mod routes;

use millwright::{connectors::Connectors, webhooks::WebhookService};
use millwright_aws::{
    config::{Api, Backends},
    http,
};
use std::sync::Arc;

/// What the function keeps between invocations.
pub struct State {
    api: Api,
    /// Webhook endpoints and deliveries.
    webhooks: WebhookService,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let state = State { webhooks: backends.webhooks(), api: backends.api(backends.connections(Connectors::default())) };
    http::serve(Arc::new(state), routes::route).await
}
