//! The `entities` function: data calls of one connection in the unified model.

mod routes;

use millwright::records::RecordService;
use millwright_aws::{
    config::{Api, Backends},
    http,
};
use std::sync::Arc;

/// What the function keeps between invocations.
pub struct State {
    api: Api,
    /// Data calls, through the connectors and the synced copy.
    records: RecordService,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let connectors = millwright_connectors::standard(backends.policy());
    let state = State {
        records: backends.record_service(connectors.clone()),
        api: backends.api(backends.connections(connectors)),
    };
    http::serve(Arc::new(state), routes::route).await
}
