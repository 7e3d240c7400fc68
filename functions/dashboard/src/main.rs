//! The `dashboard` function: the hosted connect page, on which a user's customers connect their
//! systems without the user ever holding their credentials, and the platform team's dashboard.
//! Server-rendered HTML over the domain services, with its stylesheet and one small script
//! compiled in.

mod assets;
mod connect_page;
mod console;
mod form;
mod guides;
mod page;
mod routes;

use millwright::{
    connect_sessions::ConnectSessions,
    ports::{AccountStore, RecordStore},
    sign_in::SignIns,
    sync::SyncService,
    webhooks::WebhookService,
};
use millwright_aws::{config::Backends, http};
use std::sync::Arc;

/// What the function keeps between invocations.
pub struct State {
    /// Connect sessions, and through them the connection service.
    sessions: ConnectSessions,
    /// Dashboard sign-ins.
    sign_ins: SignIns,
    /// Sync now, and the runs a connection's page lists.
    syncs: SyncService,
    /// Webhook endpoints and deliveries.
    webhooks: WebhookService,
    /// Credit pools, and the branding of the connect page.
    accounts: Arc<dyn AccountStore>,
    /// The synced copy, for the data browser.
    records: Arc<dyn RecordStore>,
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let connectors = millwright_connectors::standard(backends.policy());
    let state = State {
        sessions: backends.connect_sessions(backends.connections(connectors.clone()), connectors.clone()),
        sign_ins: backends.sign_ins(),
        syncs: backends.syncs(connectors),
        webhooks: backends.webhooks(),
        accounts: backends.store(),
        records: backends.records(),
    };
    http::serve(Arc::new(state), routes::route).await
}
