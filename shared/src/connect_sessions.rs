//! Hosted connect sessions: a link a user hands its customer, who connects a system on our page
//! so that the user's backend never holds the customer's credentials. The rules live here —
//! which systems, how many attempts, until when, used once, its token fetched once — and the
//! store makes each step one conditional write.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;

use crate::{
    catalog::{self, Deployment},
    connecting,
    connections::{ConnectRequest, ConnectionService, SettingsInput},
    connectors::Credentials,
    entities::Entity,
    error::{ApiError, ErrorCode},
    model::Connection,
    ports::{ConnectSessionStore, StoreError},
    sync::SyncService,
    token,
    webhooks::{AddressPolicy, WebhookService},
};

/// Every connect session id starts with this.
pub const SESSION_PREFIX: &str = "cs_";
/// How long a session lasts when the request does not say.
pub const DEFAULT_MINUTES: u32 = 30;
/// The longest a session may last: a week.
pub const MAX_MINUTES: u32 = 7 * 24 * 60;
/// Credential checks one session may make: systems lock users out after a few failed logons.
pub const MAX_ATTEMPTS: u32 = 5;
/// How long a session's record stays after it expires, so its outcome can still be read.
const KEPT_AFTER_EXPIRY: Duration = Duration::days(7);
/// The longest `externalId`.
const MAX_EXTERNAL_ID: usize = 200;

/// Body of `POST /v1/connect-sessions`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SessionRequest {
    /// The user's own id for its customer; kept in the connection's metadata as `externalId`.
    pub external_id: Option<String>,
    /// The systems the customer may choose from; all that can be connected when omitted.
    pub systems: Option<Vec<String>>,
    /// Fixes the deployment; the customer chooses when omitted.
    pub deployment: Option<Deployment>,
    /// Where the browser goes after connecting, with `connectionId` and `sessionId`.
    pub redirect_url: Option<String>,
    /// A webhook endpoint for the new connection's events alone.
    pub webhook_url: Option<String>,
    /// The new connection's sync settings.
    pub settings: Option<SettingsInput>,
    /// Minutes until the link stops working (default 30, at most a week).
    pub expires_in_minutes: Option<u32>,
    /// A connection whose credentials the customer replaces (re-authentication).
    pub connection_id: Option<String>,
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Waiting for the customer.
    Pending,
    /// Credentials are being checked with the system.
    Verifying,
    /// The connection exists (or took its new credentials); its token not fetched yet.
    Completed,
    /// The user's backend fetched the new connection's token.
    TokenFetched,
}

/// Why the customer's last attempt failed, as the customer was told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionError {
    /// The API's error code.
    pub code: ErrorCode,
    /// The message shown.
    pub message: String,
}

/// A connect session as stored: the secret in its link only as a digest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectSession {
    /// `cs_…`
    pub id: String,
    /// The account the connection is made on.
    pub account_id: String,
    /// SHA-256 (hex) of the link's secret.
    pub secret_digest: String,
    /// See `SessionRequest`.
    pub external_id: Option<String>,
    /// The systems offered; never empty.
    pub systems: Vec<String>,
    /// The deployment, when fixed.
    pub deployment: Option<Deployment>,
    /// See `SessionRequest`.
    pub redirect_url: Option<String>,
    /// See `SessionRequest`.
    pub webhook_url: Option<String>,
    /// The sync settings, as given.
    pub settings: Option<Value>,
    /// The connection made, or the one re-authenticated.
    pub connection_id: Option<String>,
    /// Whether the session replaces an existing connection's credentials.
    pub reauthenticate: bool,
    /// Where it stands.
    pub status: SessionStatus,
    /// Credential checks made.
    pub attempts: u32,
    /// Why the last one failed.
    pub last_error: Option<SessionError>,
    /// The new connection's own webhook endpoint.
    pub webhook_endpoint_id: Option<String>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When the link stops working.
    pub expires_at: DateTime<Utc>,
    /// When the record may go (epoch seconds; the table's TTL attribute).
    pub purge_at: i64,
}

impl ConnectSession {
    /// Whether the link still works at `now`.
    pub fn open(&self, now: DateTime<Utc>) -> bool {
        self.status == SessionStatus::Pending && now < self.expires_at && self.attempts < MAX_ATTEMPTS
    }

    /// Whether the link's secret is this one (constant-time).
    pub fn unlocks(&self, secret: &str) -> bool {
        token::digests_match(&self.secret_digest, &token::digest(secret))
    }

    /// The session as the API shows it: never the secret.
    pub fn view(&self) -> Value {
        json!({
            "id": self.id,
            "status": self.status,
            "externalId": self.external_id,
            "systems": self.systems,
            "deployment": self.deployment,
            "redirectUrl": self.redirect_url,
            "connectionId": self.connection_id,
            "reauthenticate": self.reauthenticate,
            "attempts": self.attempts,
            "lastError": self.last_error,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
        })
    }
}

/// A new session with its link, shown once.
pub struct Created {
    /// The session.
    pub session: ConnectSession,
    /// The path of its page, with the secret: `/connect/{id}/{secret}`.
    pub path: String,
}

/// What a customer's attempt came to.
pub enum Outcome {
    /// Connected (or re-authenticated): the connection.
    Connected(Box<Connection>),
    /// The system or the rules refused; the customer may try again while the session is open.
    Refused(ApiError),
}

/// The connect session operations.
#[derive(Clone)]
pub struct ConnectSessions {
    store: Arc<dyn ConnectSessionStore>,
    connections: ConnectionService,
    webhooks: WebhookService,
    syncs: SyncService,
    policy: AddressPolicy,
}

fn storage(e: StoreError) -> ApiError {
    ApiError::from_store(e, "connect session")
}

impl ConnectSessions {
    /// Wires the service to its ports and the services a connect uses.
    pub fn new(
        store: Arc<dyn ConnectSessionStore>,
        connections: ConnectionService,
        webhooks: WebhookService,
        syncs: SyncService,
        policy: AddressPolicy,
    ) -> Self {
        Self { store, connections, webhooks, syncs, policy }
    }

    /// The connection service the sessions connect through.
    pub fn connections(&self) -> &ConnectionService {
        &self.connections
    }

    /// Checks a request and stores the session; answers it with its link's path.
    pub async fn create(&self, account_id: &str, request: SessionRequest) -> Result<Created, ApiError> {
        let reauthenticate = match &request.connection_id {
            Some(id) => {
                let connection = self.connections.get(account_id, id).await.map_err(|e| match e.code {
                    ErrorCode::NotFound => ApiError::invalid_field("connectionId", "no connection of the account"),
                    _ => e,
                })?;
                if connection.status == crate::model::ConnectionStatus::Disconnected {
                    return Err(ApiError::invalid_field("connectionId", "the connection is disconnected"));
                }
                if request.systems.is_some() || request.deployment.is_some() || request.settings.is_some() {
                    return Err(ApiError::invalid_field(
                        "connectionId",
                        "a re-authentication keeps the connection's system, deployment and settings",
                    ));
                }
                Some(connection)
            }
            None => None,
        };
        let systems = match (&reauthenticate, request.systems) {
            (Some(connection), _) => vec![connection.system.clone()],
            (None, Some(list)) => {
                if list.is_empty() {
                    return Err(ApiError::invalid_field("systems", "name at least one system"));
                }
                for (i, id) in list.iter().enumerate() {
                    let known = catalog::find(id).filter(|s| self.connections.available(s.id));
                    let system = known.ok_or_else(|| {
                        ApiError::invalid_field(format!("systems[{i}]"), "not a system that can be connected")
                    })?;
                    if let Some(deployment) = request.deployment
                        && system.credits(deployment).is_none()
                    {
                        return Err(ApiError::invalid_field(
                            format!("systems[{i}]"),
                            format!("{} is not offered as {}", system.name, deployment.as_str()),
                        ));
                    }
                }
                list
            }
            (None, None) => catalog::systems()
                .iter()
                .filter(|s| self.connections.available(s.id))
                .filter(|s| request.deployment.is_none_or(|d| s.credits(d).is_some()))
                .map(|s| s.id.to_owned())
                .collect(),
        };
        if let Some(external) = &request.external_id
            && (external.is_empty() || external.chars().count() > MAX_EXTERNAL_ID)
        {
            return Err(ApiError::invalid_field("externalId", format!("1 to {MAX_EXTERNAL_ID} characters")));
        }
        let redirect_url = match request.redirect_url {
            Some(url) => Some(
                self.policy.check_url(&url).map_err(|e| ApiError::invalid_field("redirectUrl", e.to_string()))?.into(),
            ),
            None => None,
        };
        if let Some(url) = &request.webhook_url {
            self.webhooks.check_url(url, "webhookUrl").await?;
        }
        let minutes = request.expires_in_minutes.unwrap_or(DEFAULT_MINUTES);
        if !(1..=MAX_MINUTES).contains(&minutes) {
            return Err(ApiError::invalid_field("expiresInMinutes", format!("1 to {MAX_MINUTES}")));
        }
        // Bounds and entity names now, not when the customer connects; whether the system chosen
        // lists the entities is checked then.
        if let Some(settings) = &request.settings {
            settings.clone().resolve(&Entity::ALL)?;
        }
        let settings =
            request.settings.map(|s| serde_json::to_value(s).map_err(|_| ApiError::internal())).transpose()?;
        let secret = token::random_hex();
        let now = Utc::now().trunc_subsecs(3);
        let expires_at = now + Duration::minutes(i64::from(minutes));
        let session = ConnectSession {
            id: format!("{SESSION_PREFIX}{}", ulid::Ulid::new().to_string().to_lowercase()),
            account_id: account_id.to_owned(),
            secret_digest: token::digest(&secret),
            external_id: request.external_id,
            systems,
            // A re-authentication keeps the connection's deployment.
            deployment: reauthenticate.as_ref().map(|c| c.deployment).or(request.deployment),
            redirect_url,
            webhook_url: request.webhook_url,
            settings,
            connection_id: reauthenticate.map(|c| c.id),
            reauthenticate: request.connection_id.is_some(),
            status: SessionStatus::Pending,
            attempts: 0,
            last_error: None,
            webhook_endpoint_id: None,
            created_at: now,
            expires_at,
            purge_at: (expires_at + KEPT_AFTER_EXPIRY).timestamp(),
        };
        self.store.create(&session).await.map_err(storage)?;
        tracing::info!(session = %session.id, "connect session created");
        let path = format!("/connect/{}/{secret}", session.id);
        Ok(Created { session, path })
    }

    /// One session of the account; another account's is a 404.
    pub async fn get(&self, account_id: &str, id: &str) -> Result<ConnectSession, ApiError> {
        self.find(id)
            .await?
            .filter(|s| s.account_id == account_id)
            .ok_or_else(|| ApiError::not_found("connect session"))
    }

    async fn find(&self, id: &str) -> Result<Option<ConnectSession>, ApiError> {
        if !id.starts_with(SESSION_PREFIX) {
            return Ok(None);
        }
        self.store.session(id).await.map_err(storage)
    }

    /// The session a link opens, whatever its state; none when the id or secret is wrong.
    pub async fn unlock(&self, id: &str, secret: &str) -> Result<Option<ConnectSession>, ApiError> {
        Ok(self.find(id).await?.filter(|s| s.unlocks(secret)))
    }

    /// The customer's attempt: one credential check with the system, counted; on success the
    /// connection is made (or its credentials replaced) and the session closes, exactly once
    /// however many attempts race.
    pub async fn attempt(
        &self,
        session: &ConnectSession,
        system: &str,
        deployment: Deployment,
        credentials: Credentials,
    ) -> Result<Outcome, ApiError> {
        if !session.systems.iter().any(|s| s == system) {
            return Ok(Outcome::Refused(ApiError::invalid_field("system", "not offered by this link")));
        }
        if session.deployment.is_some_and(|d| d != deployment) {
            return Ok(Outcome::Refused(ApiError::invalid_field("deployment", "not offered by this link")));
        }
        let claimed = self.store.begin_attempt(&session.id, MAX_ATTEMPTS, Utc::now()).await;
        match claimed {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Ok(Outcome::Refused(ApiError::new(ErrorCode::Conflict, "This link can no longer be used.")));
            }
            Err(e) => return Err(storage(e)),
        }
        let made = match (&session.connection_id, session.reauthenticate) {
            (Some(id), true) => {
                let request = crate::connections::CredentialsRequest { credentials };
                self.connections.replace_credentials(&session.account_id, id, request).await.map(|c| (c, None))
            }
            _ => self.connect(session, system, deployment, credentials).await,
        };
        match made {
            Ok((connection, endpoint)) => {
                self.store.complete(&session.id, &connection.id, endpoint.as_deref()).await.map_err(storage)?;
                tracing::info!(session = %session.id, connection = %connection.id, "connect session completed");
                Ok(Outcome::Connected(Box::new(connection)))
            }
            Err(refused) => {
                let reason = SessionError { code: refused.code, message: refused.message.clone() };
                self.store.fail_attempt(&session.id, &reason).await.map_err(storage)?;
                tracing::info!(session = %session.id, code = ?refused.code, "connect attempt refused");
                Ok(Outcome::Refused(refused))
            }
        }
    }

    /// Connects on the session's account as `POST /v1/connections` would, with the session's
    /// settings and webhook URL; the token issued here is dropped (the user's backend fetches a
    /// fresh one). Answers the connection and its own webhook endpoint's id.
    async fn connect(
        &self,
        session: &ConnectSession,
        system: &str,
        deployment: Deployment,
        credentials: Credentials,
    ) -> Result<(Connection, Option<String>), ApiError> {
        let settings =
            session.settings.clone().map(serde_json::from_value).transpose().map_err(|_| ApiError::internal())?;
        let metadata = session
            .external_id
            .as_ref()
            .map(|id| Map::from_iter([("externalId".to_owned(), Value::String(id.clone()))]));
        let request = ConnectRequest {
            system: system.to_owned(),
            deployment: Some(deployment),
            credentials,
            name: None,
            settings,
            initial_sync: None,
            metadata,
            webhook_url: session.webhook_url.clone(),
        };
        let connected =
            connecting::connect(&self.connections, &self.webhooks, &self.syncs, &session.account_id, request).await?;
        Ok((connected.connection, connected.endpoint.map(|(endpoint, _)| endpoint.id)))
    }

    /// The new connection's token, once: the first fetch issues a fresh one (the connection's
    /// first never left the service) and, when the session made the connection's own webhook
    /// endpoint, a fresh signing secret for it; any later fetch is a 409.
    pub async fn fetch_token(&self, account_id: &str, id: &str) -> Result<Value, ApiError> {
        let session = self.get(account_id, id).await?;
        let Some(connection_id) = session.connection_id.as_deref().filter(|_| !session.reauthenticate) else {
            let why = match session.reauthenticate {
                true => "A re-authentication keeps the connection's token; there is none to fetch.",
                false => "The customer has not connected through this session yet.",
            };
            return Err(ApiError::new(ErrorCode::Conflict, why));
        };
        match self.store.take_token(id).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                return Err(ApiError::new(ErrorCode::Conflict, "The token of this session was fetched already."));
            }
            Err(e) => return Err(storage(e)),
        }
        let (connection, issued) = self.connections.rotate(account_id, connection_id).await?;
        let webhook = match &session.webhook_endpoint_id {
            Some(endpoint) => {
                let (endpoint, secret) = self.webhooks.rotate(account_id, endpoint).await?;
                endpoint.with_secret(&secret)
            }
            None => Value::Null,
        };
        Ok(json!({"connection": connection, "token": issued.plaintext, "webhook": webhook}))
    }
}
