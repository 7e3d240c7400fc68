//! A connect with what comes with it, the same from the API and from the hosted connect page:
//! the connection's own webhook endpoint (made first, so it hears the connection's very first
//! event, and taken away again when the connect fails) and its first full sync.

use crate::{
    connections::{ConnectRequest, ConnectionService, new_connection_id},
    error::ApiError,
    model::Connection,
    sync::{SyncRun, SyncService},
    token::IssuedToken,
    webhooks::{Endpoint, Secret, WebhookService},
};

/// A connection just made.
pub struct Connected {
    /// The connection.
    pub connection: Connection,
    /// Its token, shown once.
    pub token: IssuedToken,
    /// Its own webhook endpoint and signing secret, when the request named `webhookUrl`.
    pub endpoint: Option<(Endpoint, Secret)>,
    /// The runs of its first sync, when one started.
    pub initial: Option<Vec<SyncRun>>,
}

/// Checks the credentials with the system, charges the credits and makes the connection, its
/// token, its own webhook endpoint when asked and its first sync.
pub async fn connect(
    connections: &ConnectionService,
    webhooks: &WebhookService,
    syncs: &SyncService,
    account: &str,
    mut request: ConnectRequest,
) -> Result<Connected, ApiError> {
    let id = new_connection_id();
    let hook = match request.webhook_url.take() {
        Some(url) => webhooks.for_connection(account, &id, Some(url)).await?,
        None => None,
    };
    let (connection, token) = match connections.connect_as(account, &id, request).await {
        Ok(made) => made,
        Err(e) => {
            if hook.is_some() {
                webhooks.for_connection(account, &id, None).await?;
            }
            return Err(e);
        }
    };
    let endpoint = hook.and_then(|(endpoint, secret)| Some((endpoint, secret?)));
    let initial = syncs.initial(&connection).await;
    Ok(Connected { connection, token, endpoint, initial })
}
