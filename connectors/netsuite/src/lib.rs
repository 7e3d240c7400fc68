//! The Oracle NetSuite connector. It authenticates machine to machine — OAuth 2.0 client
//! credentials, with a client assertion signed by the private key of the certificate mapped to
//! the integration record — and reads through SuiteQL: reference data (vendors, inventory items,
//! their stock by location, subsidiaries as sites, locations) as rows, purchase orders as a feed
//! of ids in change order, each then read whole from the REST record service with its lines and
//! custom fields. Purchase orders are created and updated (closing lines included) through the
//! record service. NetSuite holds no maintenance work orders or assets, so neither is offered.

pub mod account;
pub mod assumed;
pub mod auth;
pub mod errors;
pub mod mapping;
mod session;
pub mod suiteql;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};

use millwright::{
    capabilities::{Capabilities, EntityCapabilities, FieldRule, Operation, StateRule},
    connectors::{Changes, Connector, ConnectorError, Credentials, key_of},
    entities::{Entity, Record},
};
use millwright_outbound::upstream::{Replay, Upstream};

use assumed::{EXTERNAL_ID_COLUMN, IDEMPOTENCY_HEADER};
use mapping::{LOCKED, PURCHASE_ORDERS, is_id, po_body, po_statuses};
use session::{Call, Session};
use suiteql::{Position, quoted};

/// The record service's purchase orders.
const PURCHASE_ORDER: &str = "services/rest/record/v1/purchaseOrder";
/// Unknown properties in a write body are an error, not silently dropped: a field this
/// connector names wrongly shows at once.
const STRICT_NAMES: (&str, &str) = ("x-netsuite-propertynamevalidation", "Error");

/// The NetSuite connector; `standard()` registers it as `netsuite`.
pub struct NetSuite {
    upstream: Upstream,
}

impl NetSuite {
    /// A connector that sends every request through `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    /// A session with the account the credentials name, or the first thing wrong with them.
    fn session(&self, credentials: &Credentials) -> Result<Session<'_>, ConnectorError> {
        Ok(Session::new(&self.upstream, account::account(credentials)?))
    }
}

/// An RFC 9562 version 8 UUID derived from a create's reference, for
/// `X-NetSuite-Idempotency-Key`: the same reference always gives the same key.
fn idempotency_key(reference: &str) -> String {
    let mut bytes: [u8; 16] = Sha256::digest(reference.as_bytes())[..16].try_into().unwrap_or_default();
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

impl Session<'_> {
    /// A purchase order with its lines; none when NetSuite has none under `id`.
    async fn purchase_order(&self, id: &str) -> Result<Option<Record>, ConnectorError> {
        let url = self.url(&format!("{PURCHASE_ORDER}/{id}"), &[("expandSubResources", "true")])?;
        let answer =
            self.send(&Call { method: Method::GET, url, headers: &[], body: None, replay: Replay::Safe }).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => {
                let po = answer.json("purchaseOrder")?;
                let po =
                    po.as_object().ok_or_else(|| ConnectorError::Upstream("purchaseOrder: not a record".into()))?;
                Ok(Some(mapping::purchase_order(po)))
            }
            _ => Err(errors::failure(&answer)),
        }
    }

    /// The purchase order a write just made or changed, read back.
    async fn written(&self, id: &str) -> Result<Record, ConnectorError> {
        self.purchase_order(id).await?.ok_or_else(|| {
            ConnectorError::Upstream(format!("purchase order {id} was written but NetSuite does not serve it"))
        })
    }

    /// Purchase orders read whole, in the feed's order; ones gone since the feed listed them are
    /// left out. Up to the connection's limit are read at once.
    async fn purchase_orders(&self, ids: Vec<String>) -> Result<Vec<Record>, ConnectorError> {
        let at_once = self.account.calls_at_once as usize;
        let read: Vec<_> =
            stream::iter(ids).map(|id| async move { self.purchase_order(&id).await }).buffered(at_once).collect().await;
        read.into_iter().filter_map(Result::transpose).collect()
    }
}

/// Refuses entities NetSuite does not serve.
fn unsupported<T>() -> Result<T, ConnectorError> {
    Err(ConnectorError::Unsupported)
}

/// What NetSuite supports: purchase orders read, created and updated (lines closed among it);
/// vendors, materials (inventory items), inventories, sites (subsidiaries) and locations read.
pub fn capabilities() -> Capabilities {
    use Operation::*;
    Capabilities(vec![
        EntityCapabilities {
            entity: Entity::PurchaseOrders,
            operations: vec![List, Get, Create, Update],
            creatable: FieldRule::list(&[
                ("vendorKey", true),
                ("siteKey", true),
                ("locationKey", false),
                ("currencyKey", false),
                ("orderDate", false),
                ("dueAt", false),
                ("title", false),
                ("customFields", false),
                ("lineItems", true),
                ("lineItems[].materialKey", true),
                ("lineItems[].quantity", true),
                ("lineItems[].price", false),
                ("lineItems[].description", false),
            ]),
            updatable: vec!["title", "dueAt", "orderDate", "locationKey", "customFields", "lineItems"],
            statuses: po_statuses(),
            rules: vec![StateRule::Frozen {
                statuses: LOCKED.to_vec(),
                operations: vec![Update],
                description: "NetSuite's approval workflow locks an approved purchase order",
            }],
        },
        EntityCapabilities::read_only(Entity::Materials, Vec::new()),
        EntityCapabilities::read_only(Entity::Inventories, Vec::new()),
        EntityCapabilities::read_only(Entity::Vendors, Vec::new()),
        EntityCapabilities::read_only(Entity::Sites, Vec::new()),
        EntityCapabilities::read_only(Entity::Locations, Vec::new()),
    ])
}

#[async_trait]
impl Connector for NetSuite {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        let session = self.session(credentials)?;
        // A real token exchange, then the cheapest read that needs what syncs need.
        auth::forget(&session.account);
        suiteql::run(&session, &PURCHASE_ORDERS.feed(None, None), 1).await.map(|_| ())
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn calls_at_once(&self, credentials: &Credentials) -> Option<u32> {
        Some(account::calls_at_once(credentials).unwrap_or(account::DEFAULT_CALLS_AT_ONCE))
    }

    async fn changes(
        &self,
        credentials: &Credentials,
        entity: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        let (table, feed) = match entity {
            Entity::PurchaseOrders => (&PURCHASE_ORDERS, None),
            _ => match mapping::feed(entity) {
                Some(feed) => (&feed.table, Some(feed)),
                None => return unsupported(),
            },
        };
        let session = self.session(credentials)?;
        let after = cursor.map(Position::parse).transpose()?;
        let page = suiteql::run(&session, &table.feed(since, after.as_ref()), table.page).await?;
        // An empty page ends the feed whatever NetSuite says, so a sync cannot loop.
        let next = match page.rows.last() {
            Some(last) if page.more => Some(
                table
                    .position(last)
                    .ok_or_else(|| ConnectorError::Upstream(format!("{}: a row without its position", table.name)))?
                    .to_string(),
            ),
            _ => None,
        };
        let records = match feed {
            Some(feed) => page.rows.iter().map(feed.record).collect(),
            None => {
                let ids = page.rows.iter().filter_map(|row| suiteql::text(row, "id").map(str::to_owned)).collect();
                session.purchase_orders(ids).await?
            }
        };
        Ok(Changes { records, next })
    }

    async fn get(
        &self,
        credentials: &Credentials,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        if entity == Entity::PurchaseOrders {
            return if is_id(key) { self.session(credentials)?.purchase_order(key).await } else { Ok(None) };
        }
        let Some(feed) = mapping::feed(entity) else { return unsupported() };
        let Some(conditions) = mapping::key_conditions(feed, key) else { return Ok(None) };
        let session = self.session(credentials)?;
        let page = suiteql::run(&session, &feed.table.query(&conditions), 1).await?;
        Ok(page.rows.first().map(feed.record))
    }

    async fn create(
        &self,
        credentials: &Credentials,
        entity: Entity,
        body: &Record,
        reference: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        if entity != Entity::PurchaseOrders {
            return unsupported();
        }
        let mut body = po_body(body)?;
        let mut headers = vec![(STRICT_NAMES.0, STRICT_NAMES.1.to_owned())];
        if let Some(reference) = reference {
            body.insert("externalId".into(), reference.into());
            headers.push((IDEMPOTENCY_HEADER, idempotency_key(reference)));
        }
        let session = self.session(credentials)?;
        let url = session.url(PURCHASE_ORDER, &[])?;
        let body = Value::Object(body);
        let call = Call { method: Method::POST, url, headers: &headers, body: Some(&body), replay: Replay::Unsafe };
        let answer = session.ok(&call).await?;
        let id = answer
            .header("location")
            .and_then(|l| l.rsplit('/').next())
            .filter(|id| is_id(id))
            .ok_or_else(|| ConnectorError::Upstream("NetSuite created the purchase order without saying where".into()))?
            .to_owned();
        session.written(&id).await
    }

    async fn created(
        &self,
        credentials: &Credentials,
        entity: Entity,
        reference: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        let (Entity::PurchaseOrders, Some(reference)) = (entity, quoted(reference)) else { return Ok(None) };
        let session = self.session(credentials)?;
        let found =
            suiteql::run(&session, &PURCHASE_ORDERS.query(&[format!("t.{EXTERNAL_ID_COLUMN} = {reference}")]), 1)
                .await?;
        match found.rows.first().and_then(|row| suiteql::text(row, "id")) {
            Some(id) => session.purchase_order(id).await,
            None => Ok(None),
        }
    }

    async fn update(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        patch: &Record,
    ) -> Result<Record, ConnectorError> {
        let key = key_of(current);
        if entity != Entity::PurchaseOrders {
            return unsupported();
        }
        if !is_id(key) {
            return Err(ConnectorError::NotFound);
        }
        let body = Value::Object(po_body(patch)?);
        let session = self.session(credentials)?;
        let url = session.url(&format!("{PURCHASE_ORDER}/{key}"), &[])?;
        let headers = [(STRICT_NAMES.0, STRICT_NAMES.1.to_owned())];
        session
            .ok(&Call { method: Method::PATCH, url, headers: &headers, body: Some(&body), replay: Replay::Unsafe })
            .await?;
        session.written(key).await
    }
}

/// A test fixture key (see tests/fixtures/netsuite/README.md).
#[cfg(test)]
fn fixture(name: &str) -> String {
    let path = format!("{}/../../tests/fixtures/netsuite/{name}.pem", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_uuids_of_the_reference() {
        let key = idempotency_key("MW0123456789");
        assert_eq!(key.len(), 36);
        assert_eq!(key, idempotency_key("MW0123456789"));
        assert_ne!(key, idempotency_key("MW0123456780"));
        let parts: Vec<&str> = key.split('-').collect();
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [8, 4, 4, 4, 12]);
        assert!(parts[2].starts_with('8'), "version 8: {key}");
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'), "RFC variant: {key}");
    }

    #[test]
    fn only_what_netsuite_holds_is_offered() {
        let offered = capabilities().listable();
        assert_eq!(
            offered,
            [
                Entity::PurchaseOrders,
                Entity::Materials,
                Entity::Inventories,
                Entity::Vendors,
                Entity::Sites,
                Entity::Locations
            ]
        );
        for entity in offered.iter().filter(|e| **e != Entity::PurchaseOrders) {
            assert!(mapping::feed(*entity).is_some(), "{entity:?} has a feed");
        }
    }
}
