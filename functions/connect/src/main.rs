//! The `connect` function: the system catalogue, connecting systems, listing and changing
//! connections (their credentials too), the credit pool and the account's keys.

mod routes;

use millwright::{
    connect_sessions::ConnectSessions, ports::IdempotencyStore, sync::SyncService, webhooks::WebhookService,
};
use millwright_aws::{
    config::{Api, Backends},
    http,
};
use std::sync::Arc;

/// What the function keeps between invocations.
pub struct State {
    api: Api,
    /// Idempotency keys of connects.
    idempotency: Arc<dyn IdempotencyStore>,
    /// A new connection's first sync.
    syncs: SyncService,
    /// A connection's webhook settings.
    webhooks: WebhookService,
    /// Hosted connect sessions.
    sessions: ConnectSessions,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let connectors = millwright_connectors::standard(backends.policy());
    let connections = backends.connections(connectors.clone());
    let state = State {
        idempotency: backends.idempotency(),
        syncs: backends.syncs(connectors.clone()),
        webhooks: backends.webhooks(),
        sessions: backends.connect_sessions(connections.clone(), connectors),
        api: backends.api(connections),
    };
    http::serve(Arc::new(state), routes::route).await
}
