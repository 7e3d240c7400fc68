//! The UpKeep connector: REST API v2 with a session token from the user's email and password.
//! Syncs read each list in `updatedAt` order from a lower bound; work orders and purchase orders
//! are created, updated and moved through their statuses in UpKeep. Parts serve twice, as
//! materials and as their stock; root locations stand for sites, which UpKeep does not have.

pub mod assumed;
pub mod mapping;
pub mod session;

use std::collections::BTreeSet;

use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::Method;
use serde_json::Value;

use millwright::{
    capabilities::{Capabilities, EntityCapabilities, FieldRule, Operation, StateRule},
    connectors::{Changes, Connector, ConnectorError, Credentials, key_of},
    entities::{Entity, Record},
};
use millwright_outbound::{tokens::Tokens, upstream::Upstream};

use assumed::{ORDER_BY, PAGE_SIZE, PO_STATUS_FIELD, UPDATED_AFTER};
use mapping::{Lineage, PO_STATUSES, WO_STATUSES, path, record, statuses, updated_at, upkeep_status};
use session::Session;

/// The most pages of locations read to find sites.
const MAX_LOCATION_PAGES: usize = 50;

/// The UpKeep connector; `standard()` registers it as `upkeep`.
pub struct UpKeep {
    upstream: Upstream,
    tokens: Tokens,
}

impl UpKeep {
    /// A connector that sends every request through `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream, tokens: Tokens::default() }
    }

    fn session(&self, credentials: &Credentials) -> Result<Session<'_>, ConnectorError> {
        Session::new(&self.upstream, &self.tokens, credentials)
    }
}

/// Whether a key is an UpKeep id: letters and digits, one URL path segment.
fn is_id(key: &str) -> bool {
    !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Where a feed carries on: changed at or after `from`, less the objects already read at that
/// instant (`seen`), `skip` on within it when a whole page shared it. As a cursor:
/// `<from> <skip> <id,id,…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct After {
    from: DateTime<Utc>,
    skip: usize,
    seen: BTreeSet<String>,
}

impl After {
    fn parse(cursor: &str) -> Result<Self, ConnectorError> {
        let foreign = || ConnectorError::Upstream("not a position this connector gave".into());
        let mut parts = cursor.splitn(3, ' ');
        let from = DateTime::parse_from_rfc3339(parts.next().unwrap_or_default()).map_err(|_| foreign())?.to_utc();
        let skip = parts.next().and_then(|s| s.parse().ok()).ok_or_else(foreign)?;
        let seen: BTreeSet<String> =
            parts.next().unwrap_or_default().split(',').filter(|k| !k.is_empty()).map(String::from).collect();
        if seen.iter().all(|k| is_id(k)) { Ok(Self { from, skip, seen }) } else { Err(foreign()) }
    }

    /// The position after a page read from `at` (`from` and `skip` of the read): past the last
    /// object's instant, or on within it when the whole page was that instant.
    fn following(at: Option<&Self>, from: Option<DateTime<Utc>>, read: &[(DateTime<Utc>, String)]) -> Option<Self> {
        let (last, _) = read.last()?;
        let at_last: BTreeSet<String> = read.iter().filter(|(t, _)| t == last).map(|(_, id)| id.clone()).collect();
        Some(match at {
            Some(a) if Some(*last) == from => {
                Self { from: a.from, skip: a.skip + read.len(), seen: a.seen.iter().cloned().chain(at_last).collect() }
            }
            _ if Some(*last) == from => Self { from: *last, skip: read.len(), seen: at_last },
            _ => Self { from: *last, skip: 0, seen: at_last },
        })
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seen: Vec<&str> = self.seen.iter().map(String::as_str).collect();
        write!(f, "{} {} {}", self.from.to_rfc3339_opts(SecondsFormat::Millis, true), self.skip, seen.join(","))
    }
}

impl Session<'_> {
    /// A page of a list, with a query.
    async fn list(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<Value>, ConnectorError> {
        let found = self.call(Method::GET, self.url(path, query)?, None).await?;
        found.as_array().cloned().ok_or_else(|| ConnectorError::Upstream(format!("{path}: the answer has no results")))
    }

    /// Every location, to find sites.
    async fn lineage(&self) -> Result<Lineage, ConnectorError> {
        let mut all = Vec::new();
        for page in 0..MAX_LOCATION_PAGES {
            let query = [("limit", PAGE_SIZE.to_string()), ("offset", (page * PAGE_SIZE).to_string())];
            let rows = self.list("locations", &query).await?;
            let short = rows.len() < PAGE_SIZE;
            all.extend(rows);
            if short {
                break;
            }
        }
        Ok(Lineage::of(&all))
    }

    /// The record of an object of `entity` as UpKeep serves it now.
    async fn one(&self, entity: Entity, key: &str) -> Result<Option<Record>, ConnectorError> {
        let list = path(entity).ok_or(ConnectorError::Unsupported)?;
        if !is_id(key) {
            return Ok(None);
        }
        let object = match self.call(Method::GET, self.url(&format!("{list}/{key}"), &[])?, None).await {
            Ok(object) => object,
            Err(ConnectorError::NotFound) => return Ok(None),
            Err(e) => return Err(e),
        };
        match entity {
            Entity::Sites if !mapping::is_root(&object) => Ok(None),
            Entity::Locations => Ok(Some(record(entity, &object, &self.lineage().await?))),
            _ => Ok(Some(record(entity, &object, &Lineage::default()))),
        }
    }

    /// Sends a write and answers the record of the object it left.
    async fn write(
        &self,
        entity: Entity,
        method: Method,
        key: Option<&str>,
        body: Value,
    ) -> Result<Record, ConnectorError> {
        let list = path(entity).ok_or(ConnectorError::Unsupported)?;
        let url = match key {
            Some(key) => self.url(&format!("{list}/{key}"), &[])?,
            None => self.url(list, &[])?,
        };
        let object = self.call(method, url, Some(&body)).await?;
        Ok(record(entity, &object, &Lineage::default()))
    }
}

/// The entity of a write: work orders and purchase orders.
fn writable(entity: Entity) -> Result<Entity, ConnectorError> {
    match entity {
        Entity::WorkOrders | Entity::PurchaseOrders => Ok(entity),
        _ => Err(ConnectorError::Unsupported),
    }
}

/// The body of a write of `entity`.
fn body(entity: Entity, unified: &Record) -> Result<Value, ConnectorError> {
    let body = match entity {
        Entity::WorkOrders => mapping::work_order_body(unified)?,
        _ => mapping::purchase_order_body(unified)?,
    };
    Ok(Value::Object(body))
}

/// What UpKeep supports: work orders and purchase orders read, created, updated and moved
/// through their statuses; assets, materials and inventories (parts), vendors, sites and
/// locations read.
pub fn capabilities() -> Capabilities {
    use Operation::*;
    let wo_fields = ["title", "instructions", "severity", "categoryName", "dueAt", "assetKey", "locationKey"];
    Capabilities(vec![
        EntityCapabilities {
            entity: Entity::PurchaseOrders,
            operations: vec![List, Get, Create, Update, ChangeStatus],
            creatable: FieldRule::list(&[
                ("title", true),
                ("description", false),
                ("vendorKey", false),
                ("orderDate", false),
                ("dueAt", false),
                ("customFields", false),
                ("lineItems", false),
                ("lineItems[].materialKey", true),
                ("lineItems[].quantity", true),
            ]),
            updatable: vec!["title", "description", "vendorKey", "orderDate", "dueAt", "customFields", "lineItems"],
            statuses: statuses(&PO_STATUSES),
            // UpKeep is not known to lock an approved order against changes, so none is refused
            // here; approval, decline and fulfilment move one way.
            rules: vec![StateRule::Transitions {
                allowed: [
                    ("pending_approval", vec!["approved", "rejected"]),
                    ("approved", vec!["received"]),
                    ("rejected", vec![]),
                    ("received", vec![]),
                ]
                .into_iter()
                .collect(),
            }],
        },
        EntityCapabilities {
            entity: Entity::WorkOrders,
            operations: vec![List, Get, Create, Update, ChangeStatus],
            creatable: wo_fields.iter().map(|&field| FieldRule { field, required: field == "title" }).collect(),
            updatable: wo_fields.to_vec(),
            statuses: statuses(&WO_STATUSES),
            rules: Vec::new(),
        },
        EntityCapabilities::read_only(Entity::Assets, Vec::new()),
        EntityCapabilities::read_only(Entity::Materials, Vec::new()),
        EntityCapabilities::read_only(Entity::Inventories, Vec::new()),
        EntityCapabilities::read_only(Entity::Vendors, Vec::new()),
        EntityCapabilities::read_only(Entity::Sites, Vec::new()),
        EntityCapabilities::read_only(Entity::Locations, Vec::new()),
    ])
}

#[async_trait]
impl Connector for UpKeep {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        let session = self.session(credentials)?;
        // A real login, then the cheapest read.
        session.token(None).await?;
        session.list("work-orders", &[("limit", "1".into())]).await.map(|_| ())
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn changes(
        &self,
        credentials: &Credentials,
        entity: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        let list = path(entity).ok_or(ConnectorError::Unsupported)?;
        let session = self.session(credentials)?;
        let after = cursor.map(After::parse).transpose()?;
        let from = after.as_ref().map(|a| a.from).or(since);
        let mut query = vec![("limit", PAGE_SIZE.to_string()), (ORDER_BY.0, ORDER_BY.1.to_owned())];
        if let Some(from) = from {
            // The bound is exclusive: a millisecond less keeps the mark's own instant in.
            let bound = (from - Duration::milliseconds(1)).to_rfc3339_opts(SecondsFormat::Millis, true);
            query.push((UPDATED_AFTER, bound));
        }
        query.push(("offset", after.as_ref().map_or(0, |a| a.skip).to_string()));
        let rows = session.list(list, &query).await?;
        let read: Vec<(DateTime<Utc>, String)> = rows
            .iter()
            .map(|row| {
                let id = row.get("id").and_then(Value::as_str).filter(|id| is_id(id));
                match (updated_at(row), id) {
                    (Some(t), Some(id)) => Ok((t, id.to_owned())),
                    _ => Err(ConnectorError::Upstream(format!("{list}: an object without its id or updatedAt"))),
                }
            })
            .collect::<Result<_, _>>()?;
        // A short page is the last; an empty one ends the feed whatever else.
        let next = if rows.len() < PAGE_SIZE {
            None
        } else {
            After::following(after.as_ref(), from, &read).map(|a| a.to_string())
        };
        let lineage = if entity == Entity::Locations { session.lineage().await? } else { Lineage::default() };
        let seen = after.map(|a| a.seen).unwrap_or_default();
        let records = rows
            .iter()
            .zip(&read)
            .filter(|(_, (t, id))| !(Some(*t) == from && seen.contains(id)))
            .filter(|(row, _)| entity != Entity::Sites || mapping::is_root(row))
            .map(|(row, _)| record(entity, row, &lineage))
            .collect();
        Ok(Changes { records, next })
    }

    async fn get(
        &self,
        credentials: &Credentials,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        self.session(credentials)?.one(entity, key).await
    }

    async fn create(
        &self,
        credentials: &Credentials,
        entity: Entity,
        unified: &Record,
        _: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        let entity = writable(entity)?;
        self.session(credentials)?.write(entity, Method::POST, None, body(entity, unified)?).await
    }

    async fn update(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        patch: &Record,
    ) -> Result<Record, ConnectorError> {
        let entity = writable(entity)?;
        let key = key_of(current);
        if !is_id(key) {
            return Err(ConnectorError::NotFound);
        }
        self.session(credentials)?.write(entity, Method::PATCH, Some(key), body(entity, patch)?).await
    }

    async fn change_status(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        status: &str,
    ) -> Result<Record, ConnectorError> {
        let entity = writable(entity)?;
        let key = key_of(current);
        let list = if entity == Entity::WorkOrders { &WO_STATUSES } else { &PO_STATUSES };
        let Some(status) = upkeep_status(list, status) else { return Err(ConnectorError::Unsupported) };
        if !is_id(key) {
            return Err(ConnectorError::NotFound);
        }
        let field = if entity == Entity::WorkOrders { "status" } else { PO_STATUS_FIELD };
        let body = Value::Object([(field.to_owned(), Value::from(status))].into_iter().collect());
        self.session(credentials)?.write(entity, Method::PATCH, Some(key), body).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().to_utc()
    }

    #[test]
    fn positions_go_past_the_last_instant_or_on_within_it() {
        let read =
            vec![(at("2024-08-06T09:00:00.100Z"), "A".to_owned()), (at("2024-08-06T09:00:00.200Z"), "B".to_owned())];
        let next = After::following(None, None, &read).unwrap();
        assert_eq!(next.to_string(), "2024-08-06T09:00:00.200Z 0 B");
        assert_eq!(After::parse(&next.to_string()).unwrap(), next);
        // A whole page at the instant it started from: on within it.
        let same = vec![(next.from, "C".to_owned()), (next.from, "D".to_owned())];
        let within = After::following(Some(&next), Some(next.from), &same).unwrap();
        assert_eq!(within.to_string(), "2024-08-06T09:00:00.200Z 2 B,C,D");
        for bad in ["", "x 0 A", "2024-08-06T09:00:00Z x A", "2024-08-06T09:00:00Z 0 a/b"] {
            assert!(After::parse(bad).is_err(), "{bad}");
        }
        assert!(is_id("Wo4Bn7Cx1M") && !is_id("a/b") && !is_id(""));
    }

    #[test]
    fn every_entity_has_a_list_and_writes_are_work_and_purchase_orders() {
        for entity in capabilities().listable() {
            assert!(path(entity).is_some(), "{entity:?}");
        }
        assert_eq!(capabilities().listable().len(), 8);
        assert!(writable(Entity::Assets).is_err());
    }
}
