//! Connecting, listing, disconnecting and re-keying customer systems: the rules of credits and
//! tokens, written against the ports so that every step is one atomic store call.

use chrono::{SubsecRound, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;

use crate::{
    catalog::{self, Deployment},
    connectors::{Connectors, Credentials},
    entities::Entity,
    error::{ApiError, ErrorCode},
    model::{Connection, ConnectionStatus, Settings, TokenRecord},
    patch::present,
    ports::{ConnectionStore, Disconnected, Schedules, SecretStore, StoreError},
    records::connector_error,
    sync::SyncMessage,
    token::{self, IssuedToken, TokenKind},
};

/// Body of `POST /v1/connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectRequest {
    /// Catalogue id.
    pub system: String,
    /// Cloud or on-premises; cloud when omitted.
    #[serde(default)]
    pub deployment: Option<Deployment>,
    /// What the system needs to let us in.
    pub credentials: Credentials,
    /// A label.
    #[serde(default)]
    pub name: Option<String>,
    /// Sync settings; defaults apply to what is omitted.
    #[serde(default)]
    pub settings: Option<SettingsInput>,
    /// Whether a full sync of the connection's entities starts at once (default true; systems
    /// read live, such as the sandbox, never need one).
    #[serde(default)]
    pub initial_sync: Option<bool>,
    /// The user's own data about the connection.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// A webhook endpoint for this connection's events alone, made with it.
    #[serde(default)]
    pub webhook_url: Option<String>,
}

/// Body of `PATCH /v1/connections/{id}`: what is present changes, the rest stays.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConnectionPatch {
    /// A new label; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<Option<String>>,
    /// Settings to change; those omitted keep their value.
    #[serde(default)]
    pub settings: Option<SettingsInput>,
    /// Replaces the metadata as a whole.
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Points the connection's own webhook endpoint at this URL (making it if need be); `null`
    /// deletes it. Applied by the webhook service once the rest is stored.
    #[serde(default, deserialize_with = "present")]
    pub webhook_url: Option<Option<String>>,
}

/// The most metadata a connection keeps: keys, and bytes as JSON.
const MAX_METADATA_KEYS: usize = 50;
const MAX_METADATA_BYTES: usize = 4096;

/// Metadata within bounds (400 otherwise).
fn check_metadata(metadata: &Map<String, Value>) -> Result<(), ApiError> {
    if metadata.len() > MAX_METADATA_KEYS {
        return Err(ApiError::invalid_field("metadata", format!("at most {MAX_METADATA_KEYS} keys")));
    }
    if metadata.keys().any(|k| k.is_empty() || k.chars().count() > 40) {
        return Err(ApiError::invalid_field("metadata", "keys are 1 to 40 characters"));
    }
    let size = serde_json::to_string(metadata).map(|t| t.len()).unwrap_or(usize::MAX);
    if size > MAX_METADATA_BYTES {
        return Err(ApiError::invalid_field("metadata", format!("at most {MAX_METADATA_BYTES} bytes as JSON")));
    }
    Ok(())
}

/// Every credential the catalogue says the system requires is there (400 naming the missing).
fn check_credentials(system: &catalog::System, credentials: &Credentials) -> Result<(), ApiError> {
    let missing: Vec<_> =
        system.credentials.iter().filter(|f| f.required && credentials.text(f.name).is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let mut err = ApiError::new(ErrorCode::InvalidRequest, format!("{} needs more credentials.", system.name));
    for f in missing {
        err = err.with_field(format!("credentials.{}", f.name), "required");
    }
    Err(err)
}

/// Body of `PUT /v1/connections/{id}/credentials`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// The new credentials, as `POST /v1/connections` takes them.
    pub credentials: Credentials,
}

/// A name within bounds (400 otherwise).
fn check_name(name: Option<&String>) -> Result<(), ApiError> {
    match name {
        Some(n) if n.chars().count() > 200 => Err(ApiError::invalid_field("name", "at most 200 characters")),
        _ => Ok(()),
    }
}

/// Sync settings as a caller may send them.
#[derive(Debug, Clone, Default, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SettingsInput {
    /// Which entities to sync.
    pub sync_entities: Option<Vec<String>>,
    /// Minutes between scheduled syncs (1–1440, default 60).
    pub sync_interval_minutes: Option<u32>,
    /// Days of history a full sync takes (1–3650, default 365).
    pub historical_days: Option<u32>,
}

impl SettingsInput {
    /// Applies defaults and bounds; the error names the field. `listable` is what the system can
    /// list: the default entities, and the only ones that may be named.
    pub fn resolve(self, listable: &[Entity]) -> Result<Settings, ApiError> {
        let sync_entities = match self.sync_entities {
            None => listable.iter().map(|e| e.path().to_owned()).collect(),
            Some(named) => {
                check_entities(&named, listable)?;
                named
            }
        };
        let sync_interval_minutes = self.sync_interval_minutes.unwrap_or(60);
        if !(1..=1440).contains(&sync_interval_minutes) {
            return Err(ApiError::invalid_field("settings.syncIntervalMinutes", "must be from 1 to 1440"));
        }
        let historical_days = self.historical_days.unwrap_or(365);
        if !(1..=3650).contains(&historical_days) {
            return Err(ApiError::invalid_field("settings.historicalDays", "must be from 1 to 3650"));
        }
        Ok(Settings { sync_entities, sync_interval_minutes, historical_days })
    }
}

/// Each named entity must exist (400) and be one the system can list (422), once.
fn check_entities(named: &[String], listable: &[Entity]) -> Result<(), ApiError> {
    for (i, name) in named.iter().enumerate() {
        let field = format!("settings.syncEntities[{i}]");
        let Some(entity) = Entity::from_path(name) else {
            let known: Vec<_> = Entity::ALL.iter().map(|e| e.path()).collect();
            return Err(ApiError::invalid_field(
                field,
                format!("unknown entity \"{name}\"; one of {}", known.join(", ")),
            ));
        };
        if !listable.contains(&entity) {
            let can: Vec<_> = listable.iter().map(|e| e.path()).collect();
            let why = format!("this system cannot list {name}; it syncs {}", can.join(", "));
            return Err(ApiError::new(
                ErrorCode::EntityNotSyncable,
                format!("\"{name}\" cannot be synced from this system."),
            )
            .with_field(field, why));
        }
        if named[..i].contains(name) {
            return Err(ApiError::invalid_field(field, format!("\"{name}\" is named twice")));
        }
    }
    Ok(())
}

/// Every connection id starts with this.
const CONNECTION_PREFIX: &str = "conn_";

/// A new connection id.
pub fn new_connection_id() -> String {
    format!("{CONNECTION_PREFIX}{}", ulid::Ulid::new().to_string().to_lowercase())
}

/// The name of the secret that holds a connection's credentials.
pub fn secret_name(account_id: &str, connection_id: &str) -> String {
    format!("connections/{account_id}/{connection_id}/credentials")
}

/// A connection's credentials as stored at connect; none once it is disconnected.
pub async fn credentials(
    secrets: &dyn SecretStore,
    account_id: &str,
    connection_id: &str,
) -> Result<Option<Credentials>, StoreError> {
    let Some(text) = secrets.get(&secret_name(account_id, connection_id)).await? else {
        return Ok(None);
    };
    let map = serde_json::from_str(&text)
        .map_err(|_| StoreError::Backend("stored credentials are not a JSON object".into()))?;
    Ok(Some(Credentials(map)))
}

/// The connection operations, over whichever store, secret store and connectors it is given.
#[derive(Clone)]
pub struct ConnectionService {
    store: Arc<dyn ConnectionStore>,
    secrets: Arc<dyn SecretStore>,
    schedules: Arc<dyn Schedules>,
    connectors: Connectors,
}

fn backend(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound => ApiError::not_found("connection"),
        StoreError::InsufficientCredits => {
            ApiError::new(ErrorCode::InsufficientCredits, "The credit pool cannot pay for this connection.")
        }
        StoreError::Conflict(m) => ApiError::new(ErrorCode::Conflict, m),
        StoreError::Backend(m) => {
            tracing::error!(error = %m, "storage failure");
            ApiError::internal()
        }
    }
}

impl ConnectionService {
    /// Wires the service to its ports.
    pub fn new(
        store: Arc<dyn ConnectionStore>,
        secrets: Arc<dyn SecretStore>,
        schedules: Arc<dyn Schedules>,
        connectors: Connectors,
    ) -> Self {
        Self { store, secrets, schedules, connectors }
    }

    /// Whether a system can be connected here (its connector is in this build).
    pub fn available(&self, system: &str) -> bool {
        self.connectors.get(system).is_some()
    }

    /// The catalogue with what each system's connector can do.
    pub fn offerings(&self) -> Vec<catalog::Offering> {
        catalog::offerings(&self.connectors)
    }

    /// Deletes what a connection keeps outside the connections table: its credentials and its
    /// schedule. Failures are logged; a repeated disconnect tries again.
    async fn release(&self, account_id: &str, id: &str) {
        if let Err(e) = self.secrets.delete(&secret_name(account_id, id)).await {
            tracing::error!(error = %e, connection = %id, "could not delete the connection's secret");
        }
        if let Err(e) = self.schedules.delete(id).await {
            tracing::error!(error = %e, connection = %id, "could not delete the connection's schedule");
        }
    }

    /// Checks the credentials with the system, stores them, then charges the pool and writes the
    /// connection and its token in one transaction. Nothing is charged and no secret is left
    /// behind when any step fails. Returns the connection and its token, shown this once.
    pub async fn connect(
        &self,
        account_id: &str,
        request: ConnectRequest,
    ) -> Result<(Connection, IssuedToken), ApiError> {
        self.connect_as(account_id, &new_connection_id(), request).await
    }

    /// `connect`, under an id chosen beforehand (`new_connection_id`), so that what must exist
    /// before the connection's first event — its own webhook endpoint — can name it.
    pub async fn connect_as(
        &self,
        account_id: &str,
        id: &str,
        request: ConnectRequest,
    ) -> Result<(Connection, IssuedToken), ApiError> {
        let system = catalog::find(&request.system).ok_or_else(|| {
            ApiError::invalid_field("system", format!("unknown system \"{}\"; see GET /v1/systems", request.system))
        })?;
        let deployment = request.deployment.unwrap_or(Deployment::Cloud);
        let credits = system.credits(deployment).ok_or_else(|| {
            ApiError::invalid_field("deployment", format!("{} is not offered as {}", system.name, deployment.as_str()))
        })?;
        let connector = self.connectors.get(system.id).ok_or_else(|| {
            ApiError::new(ErrorCode::SystemNotAvailable, format!("{} cannot be connected yet.", system.name))
                .with_field("system", "see \"available\" in GET /v1/systems")
        })?;
        let credentials = request.credentials;
        check_credentials(&system, &credentials)?;
        let settings = request.settings.unwrap_or_default().resolve(&connector.capabilities().listable())?;
        check_name(request.name.as_ref())?;
        let metadata = request.metadata.unwrap_or_default();
        check_metadata(&metadata)?;
        connector.verify(&credentials).await.map_err(|e| connector_error(system.id, e))?;
        // Data read live needs no copy; everything else starts with a full one.
        let initial_sync_pending = match request.initial_sync.unwrap_or(true) && !connector.live_reads() {
            true => settings.sync_entities.clone(),
            false => Vec::new(),
        };

        let id = id.to_owned();
        let issued = token::issue(if system.is_sandbox() { TokenKind::Sandbox } else { TokenKind::Connection });
        let now = Utc::now().trunc_subsecs(3);
        let connection = Connection {
            id: id.clone(),
            account_id: account_id.to_owned(),
            system: system.id.to_owned(),
            deployment,
            tier: system.tier,
            credits,
            status: ConnectionStatus::Active,
            name: request.name,
            metadata,
            created_at: now,
            disconnected_at: None,
            status_changed_at: now,
            settings,
            last_sync: Default::default(),
            initial_sync_pending,
            data_deletion: None,
        };
        let record = TokenRecord {
            digest: issued.digest.clone(),
            account_id: account_id.to_owned(),
            connection_id: Some(id.clone()),
            system: Some(system.id.to_owned()),
        };
        let serialized = serde_json::to_string(&credentials.0).map_err(|_| ApiError::internal())?;
        self.secrets.put(&secret_name(account_id, &id), &serialized).await.map_err(backend)?;
        let scheduled = SyncMessage::Scheduled { account_id: account_id.to_owned(), connection_id: id.clone() };
        let stored = match self.schedules.create(&id, connection.settings.sync_interval_minutes, &scheduled).await {
            Ok(()) => self.store.insert_charged(&connection, &record).await,
            Err(e) => Err(e),
        };
        if let Err(e) = stored {
            self.release(account_id, &id).await;
            return Err(backend(e));
        }
        tracing::info!(connection = %id, system = system.id, credits, "connected");
        Ok((connection, issued))
    }

    /// One connection of the account; another account's is a 404.
    pub async fn get(&self, account_id: &str, id: &str) -> Result<Connection, ApiError> {
        if !id.starts_with(CONNECTION_PREFIX) {
            return Err(ApiError::not_found("connection"));
        }
        self.store.connection(account_id, id).await.map_err(backend)?.ok_or_else(|| ApiError::not_found("connection"))
    }

    /// Changes a connection's name, settings or metadata; a new interval moves its schedule.
    /// A disconnected connection changes no more (409).
    pub async fn update(&self, account_id: &str, id: &str, patch: ConnectionPatch) -> Result<Connection, ApiError> {
        let mut connection = self.get(account_id, id).await?;
        if patch.name.is_none() && patch.settings.is_none() && patch.metadata.is_none() && patch.webhook_url.is_none() {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "The update changes nothing."));
        }
        if connection.status == ConnectionStatus::Disconnected {
            return Err(ApiError::new(ErrorCode::Conflict, "The connection is disconnected; it cannot change."));
        }
        if let Some(name) = patch.name {
            check_name(name.as_ref())?;
            connection.name = name;
        }
        if let Some(metadata) = patch.metadata {
            check_metadata(&metadata)?;
            connection.metadata = metadata;
        }
        let interval = connection.settings.sync_interval_minutes;
        if let Some(change) = patch.settings {
            let current = &connection.settings;
            let merged = SettingsInput {
                sync_entities: Some(change.sync_entities.unwrap_or_else(|| current.sync_entities.clone())),
                sync_interval_minutes: change.sync_interval_minutes.or(Some(current.sync_interval_minutes)),
                historical_days: change.historical_days.or(Some(current.historical_days)),
            };
            let listable = self.connectors.capabilities(&connection.system).map(|c| c.listable());
            connection.settings = merged.resolve(&listable.unwrap_or_default())?;
        }
        // The schedule first: a connection never shows an interval its schedule does not keep
        // (a failure after it leaves the old settings shown; repeating the update mends it).
        if connection.settings.sync_interval_minutes != interval {
            let message = SyncMessage::Scheduled { account_id: account_id.to_owned(), connection_id: id.to_owned() };
            let moved = self.schedules.update(id, connection.settings.sync_interval_minutes, &message).await;
            moved.map_err(|e| match e {
                StoreError::NotFound => ApiError::new(ErrorCode::Conflict, "The connection has no schedule to change."),
                other => backend(other),
            })?;
        }
        self.store.save_settings(&connection).await.map_err(backend)?;
        tracing::info!(connection = %id, "connection updated");
        Ok(connection)
    }

    /// Replaces a connection's credentials once its system accepts them (400 and nothing
    /// changed otherwise). An `auth_required` connection is `active` again — same token, same
    /// data, no new credits — with a `connection.status_changed` event.
    pub async fn replace_credentials(
        &self,
        account_id: &str,
        id: &str,
        request: CredentialsRequest,
    ) -> Result<Connection, ApiError> {
        let connection = self.get(account_id, id).await?;
        if connection.status == ConnectionStatus::Disconnected {
            return Err(ApiError::new(ErrorCode::Conflict, "The connection is disconnected; it takes no credentials."));
        }
        let system = catalog::find(&connection.system).ok_or_else(ApiError::internal)?;
        let credentials = request.credentials;
        check_credentials(&system, &credentials)?;
        let connector = self.connectors.get(system.id).ok_or_else(|| {
            ApiError::new(ErrorCode::SystemNotAvailable, format!("{} cannot be connected yet.", system.name))
        })?;
        connector.verify(&credentials).await.map_err(|e| connector_error(system.id, e))?;
        let serialized = serde_json::to_string(&credentials.0).map_err(|_| ApiError::internal())?;
        self.secrets.replace(&secret_name(account_id, id), &serialized).await.map_err(backend)?;
        if self.store.restore_auth(account_id, id).await.map_err(backend)? {
            tracing::info!(connection = %id, "credentials replaced; active again");
        } else {
            tracing::info!(connection = %id, "credentials replaced");
        }
        self.get(account_id, id).await
    }

    /// A page of the account's connections and the position after it.
    pub async fn list(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<Connection>, Option<String>), ApiError> {
        self.store.connections(account_id, after, limit).await.map_err(backend)
    }

    /// Every connection of the account that holds credits now.
    pub async fn holding_credits(&self, account_id: &str) -> Result<Vec<Connection>, ApiError> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, next) = self.list(account_id, after.as_deref(), crate::page::MAX_LIMIT).await?;
            all.extend(page.into_iter().filter(|c| c.status != ConnectionStatus::Disconnected));
            match next {
                Some(n) => after = Some(n),
                None => return Ok(all),
            }
        }
    }

    /// Disconnects: the token dies and the credits return in one transaction, exactly once;
    /// then the credentials and the schedule go. Repeating it changes nothing and answers the same.
    pub async fn disconnect(&self, account_id: &str, id: &str) -> Result<Disconnected, ApiError> {
        let outcome = self.store.disconnect(account_id, id, Utc::now()).await.map_err(backend)?;
        // Also on a repeat: what failed to go before goes now. Runs in flight see the status and stop.
        self.release(account_id, id).await;
        if let Disconnected::Now(c) = &outcome {
            tracing::info!(connection = %id, credits = c.credits, "disconnected");
        }
        Ok(outcome)
    }

    /// Records that a disconnected connection's synced data is to be deleted (409 before
    /// disconnect); asking again changes nothing. Answers the connection, with `dataDeletion`.
    pub async fn request_data_deletion(&self, account_id: &str, id: &str) -> Result<Connection, ApiError> {
        self.get(account_id, id).await?;
        self.store.request_data_deletion(account_id, id, Utc::now().trunc_subsecs(3)).await.map_err(backend)
    }

    /// Issues a new token for a connection; the old one fails from the next request on.
    pub async fn rotate(&self, account_id: &str, id: &str) -> Result<(Connection, IssuedToken), ApiError> {
        let current = self.get(account_id, id).await?;
        let issued =
            token::issue(if current.system == catalog::SANDBOX { TokenKind::Sandbox } else { TokenKind::Connection });
        let record = TokenRecord {
            digest: issued.digest.clone(),
            account_id: account_id.to_owned(),
            connection_id: Some(id.to_owned()),
            system: Some(current.system.clone()),
        };
        let connection = self.store.rotate_token(account_id, id, &record).await.map_err(backend)?;
        tracing::info!(connection = %id, "token rotated");
        Ok((connection, issued))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entities: Option<&[&str]>) -> SettingsInput {
        SettingsInput {
            sync_entities: entities.map(|e| e.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn default_entities_are_what_the_system_can_list() {
        let listable = [Entity::Vendors, Entity::PurchaseOrders];
        let resolved = settings(None).resolve(&listable).unwrap();
        assert_eq!(resolved.sync_entities, ["vendors", "purchase-orders"]);
        assert_eq!((resolved.sync_interval_minutes, resolved.historical_days), (60, 365));
        let chosen = settings(Some(&["purchase-orders"])).resolve(&listable).unwrap();
        assert_eq!(chosen.sync_entities, ["purchase-orders"]);
    }

    #[test]
    fn an_entity_the_system_cannot_list_is_refused_by_name() {
        let listable = [Entity::Vendors, Entity::PurchaseOrders];
        let err = settings(Some(&["vendors", "materials"])).resolve(&listable).unwrap_err();
        assert_eq!((err.code, err.code.status()), (ErrorCode::EntityNotSyncable, 422));
        assert_eq!(err.details[0].field.as_deref(), Some("settings.syncEntities[1]"));
        assert!(err.message.contains("materials") && err.details[0].message.contains("vendors, purchase-orders"));
        let unknown = settings(Some(&["spaceships"])).resolve(&listable).unwrap_err();
        assert_eq!(
            (unknown.code, unknown.details[0].field.as_deref()),
            (ErrorCode::InvalidRequest, Some("settings.syncEntities[0]"))
        );
        let twice = settings(Some(&["vendors", "vendors"])).resolve(&listable).unwrap_err();
        assert_eq!(
            (twice.code, twice.details[0].field.as_deref()),
            (ErrorCode::InvalidRequest, Some("settings.syncEntities[1]"))
        );
    }
}
