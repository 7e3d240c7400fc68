//! The `sync-runs` function: starting syncs and reporting on them. It checks what a system
//! supports but never calls one, so it holds the connectors' descriptions, not the connectors.

mod routes;

use millwright::{connectors::Connectors, sync::SyncService};
use millwright_aws::{
    config::{Api, Backends},
    http,
};
use std::sync::Arc;

/// What the function keeps between invocations.
pub struct State {
    api: Api,
    /// Sync runs.
    syncs: SyncService,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let state = State {
        syncs: backends.syncs(millwright_connectors::described()),
        api: backends.api(backends.connections(Connectors::default())),
    };
    http::serve(Arc::new(state), routes::route).await
}
