//! The `disconnect` function: ending connections and rotating their tokens. It never calls a
//! customer system, so it holds no connector.

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
    /// Erasing a connection's synced data.
    syncs: SyncService,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let state = State {
        syncs: backends.syncs(Connectors::default()),
        api: backends.api(backends.connections(Connectors::default())),
    };
    http::serve(Arc::new(state), routes::route).await
}
