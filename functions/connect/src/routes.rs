//! The `connect` function's endpoints.

use millwright::{
    accounts,
    auth::require_account,
    branding, connecting,
    connections::ConnectionPatch,
    error::ApiError,
    idempotency::{self, Begun},
    model::Account,
    page,
};
use millwright_aws::http::{ApiRequest, Reply, no_route};
use serde_json::{Value, json};
use std::sync::Arc;

use crate::State;

/// The API's OpenAPI document, rendered from `openapi.yaml` and the data model by
/// `scripts/admin openapi` (a test of the admin tool keeps it current).
const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// Dispatches one request.
pub async fn route(services: Arc<State>, request: ApiRequest) -> Result<Reply, ApiError> {
    match (request.method.as_str(), request.path().as_slice()) {
        ("GET", ["v1", "systems"]) => {
            Ok(Reply::ok(json!({"data": services.api.connections.offerings(), "nextCursor": null})))
        }
        ("GET", ["v1", "openapi.json"]) => Ok(Reply::rendered(OPENAPI)),
        ("GET", ["v1", "credits"]) => credits(&services, &request).await,
        ("GET", ["v1", "account"]) => {
            let caller = services.api.caller(&request).await?;
            let account = account_of(&services, require_account(&caller)?).await?;
            Ok(Reply::ok(json!({"account": {
                "id": account.id, "createdAt": account.created_at, "branding": account.branding,
            }})))
        }
        ("PUT", ["v1", "account", "branding"]) => {
            let caller = services.api.caller(&request).await?;
            let account = require_account(&caller)?;
            let branding = branding::set(services.api.accounts.as_ref(), account, request.json()?).await?;
            Ok(Reply::ok(json!({"branding": branding})))
        }
        ("GET" | "POST", ["v1", "account", "keys"]) | ("DELETE", ["v1", "account", "keys", _]) => {
            keys(&services, &request).await
        }
        ("POST", ["v1", "connections"]) => connect(&services, &request).await,
        ("GET", ["v1", "connections"]) => list(&services, &request).await,
        ("GET", ["v1", "connections", id]) => {
            let caller = services.api.caller(&request).await?;
            let connection = services.api.connections.get(require_account(&caller)?, id).await?;
            Ok(Reply::ok(json!({"connection": connection})))
        }
        ("PATCH", ["v1", "connections", id]) => update(&services, &request, id).await,
        ("POST", ["v1", "connect-sessions"] | ["v1", "connect-sessions", _, "token"])
        | ("GET", ["v1", "connect-sessions", _]) => sessions(&services, &request).await,
        ("PUT", ["v1", "connections", id, "credentials"]) => {
            let caller = services.api.caller(&request).await?;
            let account = require_account(&caller)?;
            let connection = services.api.connections.replace_credentials(account, id, request.json()?).await?;
            Ok(Reply::ok(json!({"connection": connection})))
        }
        _ => Err(no_route()),
    }
}

/// Connects, once per `Idempotency-Key` when one is given: a retry with the same key and body
/// answers 200 with the connection it made, without its token or webhook secret (shown once,
/// never stored: rotate them if that first answer was lost), and charges nothing again.
async fn connect(services: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account = require_account(&caller)?;
    let Some(key) = request.header("idempotency-key") else {
        return connect_now(services, account, request).await.map(Reply::created);
    };
    let fingerprint = idempotency::fingerprint(&json!(["connect", request.json::<Value>()?]));
    let scope = format!("{account}#connect");
    match idempotency::begin(services.idempotency.as_ref(), &scope, key, &fingerprint).await? {
        Begun::Replay(_, body) => Ok(Reply::ok(body)),
        Begun::Run(claimed) => {
            let made = connect_now(services, account, request).await.map(|body| (201, body));
            let shown_once = |body: &Value| {
                let mut kept = body.clone();
                kept["token"] = Value::Null;
                kept["webhook"] = Value::Null;
                kept
            };
            let (status, body) = claimed.finish(made, shown_once, false).await?;
            Ok(Reply::new(status, body))
        }
    }
}

/// Connects (`connecting::connect`); answers the 201 body.
async fn connect_now(services: &State, account: &str, request: &ApiRequest) -> Result<Value, ApiError> {
    let api = &services.api;
    let made =
        connecting::connect(&api.connections, &services.webhooks, &services.syncs, account, request.json()?).await?;
    let webhook = made.endpoint.map_or(Value::Null, |(endpoint, secret)| endpoint.with_secret(&secret));
    let initial_sync =
        made.initial.map(|runs| json!({"mode": "full", "syncIds": runs.iter().map(|r| &r.id).collect::<Vec<_>>()}));
    Ok(json!({
        "connection": made.connection, "token": made.token.plaintext, "initialSync": initial_sync, "webhook": webhook,
    }))
}

/// The account's connect sessions: create one (its URL shown this once), read one, fetch the
/// token of the connection it made (once).
async fn sessions(services: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account = require_account(&caller)?;
    let sessions = &services.sessions;
    match (request.method.as_str(), request.path().as_slice()) {
        ("POST", [.., "connect-sessions"]) => {
            let created = sessions.create(account, request.json()?).await?;
            let url = format!("{}{}", request.origin(), created.path);
            let session = &created.session;
            Ok(Reply::created(json!({"id": session.id, "url": url, "expiresAt": session.expires_at})))
        }
        ("POST", [.., id, "token"]) => Ok(Reply::ok(sessions.fetch_token(account, id).await?)),
        (_, [.., id]) => Ok(Reply::ok(json!({"connectSession": sessions.get(account, id).await?.view()}))),
        _ => Err(no_route()),
    }
}

/// Changes a connection, and its own webhook endpoint when the body names `webhookUrl` (whose
/// address is checked before anything changes).
async fn update(services: &State, request: &ApiRequest, id: &str) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account = require_account(&caller)?;
    let patch: ConnectionPatch = request.json()?;
    let hook = patch.webhook_url.clone();
    if let Some(Some(url)) = &hook {
        services.webhooks.check_url(url, "webhookUrl").await?;
    }
    let connection = services.api.connections.update(account, id, patch).await?;
    let mut reply = json!({"connection": connection});
    if let Some(url) = hook {
        reply["webhook"] = match services.webhooks.for_connection(account, id, url).await? {
            Some((endpoint, Some(secret))) => endpoint.with_secret(&secret),
            Some((endpoint, None)) => json!({"webhookEndpoint": endpoint.view()}),
            None => Value::Null,
        };
    }
    Ok(Reply::ok(reply))
}

/// The account's keys: list, issue another, revoke one.
async fn keys(services: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account = require_account(&caller)?;
    let store = services.api.accounts.as_ref();
    match (request.method.as_str(), request.path().as_slice()) {
        ("POST", _) => {
            let (key, secret) = accounts::add_key(store, account).await?;
            Ok(Reply::created(json!({"key": key, "secret": secret})))
        }
        ("DELETE", [.., id]) => {
            accounts::revoke_key(store, account, id).await?;
            Ok(Reply::ok(json!({"id": id, "deleted": true})))
        }
        _ => Ok(Reply::ok(json!({"data": accounts::keys(store, account).await?, "nextCursor": null}))),
    }
}

async fn list(services: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account = require_account(&caller)?;
    let limit = page::limit(request.query("limit"))?;
    let after = request.query("cursor").map(page::decode_cursor).transpose()?;
    let (data, next) = services.api.connections.list(account, after.as_deref(), limit).await?;
    Ok(Reply::ok(json!({"data": data, "nextCursor": next.as_deref().map(page::encode_cursor)})))
}

/// The caller's account.
async fn account_of(services: &State, account_id: &str) -> Result<Account, ApiError> {
    let found = services.api.accounts.account(account_id).await.map_err(|e| ApiError::from_store(e, "account"))?;
    found.ok_or_else(|| ApiError::not_found("account"))
}

async fn credits(services: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let caller = services.api.caller(request).await?;
    let account_id = require_account(&caller)?;
    let account = account_of(services, account_id).await?;
    let holding = services.api.connections.holding_credits(account_id).await?;
    let used: u32 = holding.iter().map(|c| c.credits).sum();
    let connections: Vec<_> = holding
        .iter()
        .map(|c| json!({"id": c.id, "system": c.system, "deployment": c.deployment, "credits": c.credits}))
        .collect();
    Ok(Reply::ok(json!({
        "total": account.credits_total,
        "available": account.credits_available,
        "used": used,
        "connections": connections,
    })))
}
