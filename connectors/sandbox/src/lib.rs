//! The sandbox: a system with realistic, deterministic sample data (see `data`), so users can
//! build an integration before they touch a real SAP. Its writes are validated the way a real
//! system validates them and answer what the write would have produced, but change nothing:
//! every user shares the same sample.

pub mod data;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use millwright::{
    capabilities::{Capabilities, EntityCapabilities, FieldRule, Operation, StateRule, Status},
    connectors::{Changes, Connector, ConnectorError, Credentials, ListQuery, Page, key_of},
    entities::{Entity, Record},
    error::ErrorCode,
};

/// The sample records of an entity whose keys sort after `key` (all when none).
fn after(entity: Entity, key: Option<&str>) -> impl Iterator<Item = &'static Record> {
    let records = data::records(entity);
    let start = key.map_or(0, |a| records.partition_point(|r| r["key"].as_str().is_some_and(|k| k <= a)));
    records[start..].iter()
}

/// A sample record's `updatedAt`.
fn updated_at(record: &Record) -> Option<DateTime<Utc>> {
    record["updatedAt"].as_str().and_then(|u| DateTime::parse_from_rfc3339(u).ok()).map(|u| u.with_timezone(&Utc))
}

/// Up to `limit` of the matching records, and the last one's key when more follow.
fn take_page<'a>(mut matching: impl Iterator<Item = &'a Record>, limit: usize) -> (Vec<Record>, Option<String>) {
    let page: Vec<Record> = matching.by_ref().take(limit).cloned().collect();
    let next = matching.next().and(page.last()).and_then(|r| r["key"].as_str()).map(str::to_owned);
    (page, next)
}

/// The sandbox's connector.
pub struct Sandbox;

/// Records per page of the sandbox's change feed: small, so syncs of the sample take several pages.
const CHANGES_PAGE: usize = 25;

/// The API key the sandbox rejects, as documented.
pub const REJECTED_API_KEY: &str = "invalid";

fn statuses(list: &[(&'static str, &'static str)]) -> Vec<Status> {
    list.iter().map(|&(key, name)| Status { key, name }).collect()
}

fn read_only(entity: Entity, list: &[(&'static str, &'static str)]) -> EntityCapabilities {
    EntityCapabilities::read_only(entity, statuses(list))
}

/// What the sandbox supports: full lifecycles for purchase orders, work orders and assets;
/// the master data is read-only.
pub fn capabilities() -> Capabilities {
    use Operation::*;
    Capabilities(vec![
        EntityCapabilities {
            entity: Entity::PurchaseOrders,
            operations: vec![List, Get, Create, Update, ChangeStatus, Delete],
            creatable: FieldRule::list(&[
                ("vendorKey", true),
                ("siteKey", true),
                ("currencyKey", true),
                ("lineItems", true),
                ("lineItems[].materialKey", true),
                ("lineItems[].quantity", true),
                ("lineItems[].price", false),
                ("lineItems[].description", false),
                ("title", false),
                ("description", false),
                ("dueAt", false),
                ("notes", false),
                ("customFields", false),
            ]),
            updatable: vec!["title", "description", "dueAt", "notes", "customFields"],
            statuses: statuses(&data::PO_STATUSES),
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["approved", "completed", "cancelled"],
                    operations: vec![Update, Delete],
                    description: "A purchase order cannot change once it is approved, completed or cancelled",
                },
                StateRule::Transitions {
                    allowed: BTreeMap::from([
                        ("draft", vec!["pending_approval", "cancelled"]),
                        ("pending_approval", vec!["approved", "draft", "cancelled"]),
                        ("approved", vec!["completed", "cancelled"]),
                        ("completed", vec![]),
                        ("cancelled", vec![]),
                    ]),
                },
                StateRule::SoftDelete,
            ],
        },
        EntityCapabilities {
            entity: Entity::WorkOrders,
            operations: vec![List, Get, Create, Update, ChangeStatus],
            creatable: FieldRule::list(&[
                ("title", true),
                ("siteKey", true),
                ("assetKey", false),
                ("locationKey", false),
                ("instructions", false),
                ("severity", false),
                ("dueAt", false),
                ("customFields", false),
            ]),
            updatable: vec!["title", "instructions", "severity", "dueAt", "scheduledAt", "notes", "customFields"],
            statuses: statuses(&data::WO_STATUSES),
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["completed", "cancelled"],
                    operations: vec![Update],
                    description: "A closed work order cannot change",
                },
                StateRule::Transitions {
                    allowed: BTreeMap::from([
                        ("open", vec!["in_progress", "on_hold", "cancelled"]),
                        ("in_progress", vec!["on_hold", "completed", "cancelled"]),
                        ("on_hold", vec!["in_progress", "cancelled"]),
                        ("completed", vec![]),
                        ("cancelled", vec![]),
                    ]),
                },
            ],
        },
        EntityCapabilities {
            entity: Entity::Assets,
            operations: vec![List, Get, Create, Update, ChangeStatus, Delete],
            creatable: FieldRule::list(&[
                ("name", true),
                ("siteKey", true),
                ("locationKey", false),
                ("description", false),
                ("categoryName", false),
                ("criticality", false),
                ("makeName", false),
                ("modelName", false),
                ("serialNumber", false),
                ("customFields", false),
            ]),
            updatable: vec!["name", "description", "criticality", "serialNumber", "notes", "customFields"],
            statuses: statuses(&data::ASSET_STATUSES),
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["decommissioned"],
                    operations: vec![Update, ChangeStatus],
                    description: "A decommissioned asset cannot change",
                },
                StateRule::SoftDelete,
            ],
        },
        read_only(Entity::Materials, &data::ACTIVE_STATUSES),
        read_only(Entity::Inventories, &data::ACTIVE_STATUSES),
        read_only(Entity::Vendors, &data::VENDOR_STATUSES),
        read_only(Entity::Sites, &data::ACTIVE_STATUSES),
        read_only(Entity::Locations, &data::ACTIVE_STATUSES),
    ])
}

fn rule(code: ErrorCode, field: Option<String>, message: String) -> ConnectorError {
    ConnectorError::Rule { code, message, field }
}

fn reference(entity: Entity, body: &Record, field: &str) -> Result<(), ConnectorError> {
    match body.get(field).and_then(Value::as_str) {
        Some(k) if data::find(entity, k).is_none() => Err(rule(
            ErrorCode::InvalidRequest,
            Some(field.into()),
            format!("{} \"{k}\" does not exist", entity.singular()),
        )),
        _ => Ok(()),
    }
}

/// A key for a record the sandbox pretends to create: stable for the same body.
fn new_key(prefix: &str, body: &Record) -> String {
    let digest = Sha256::digest(Value::Object(body.clone()).to_string().as_bytes());
    format!("{prefix}-SBX-{}", hex::encode(&digest[..5]).to_uppercase())
}

fn current(entity: Entity, key: &str) -> Result<Record, ConnectorError> {
    data::find(entity, key).filter(|r| r["deletedAt"].is_null()).cloned().ok_or(ConnectorError::NotFound)
}

fn touched(mut record: Record) -> Record {
    record.insert("updatedAt".into(), data::timestamp(Utc::now()).into());
    record
}

/// Validates a new purchase order like an ERP: the vendor must take orders, every material
/// must exist and be in stock; answers the order the ERP would store.
fn create_purchase_order(body: &Record) -> Result<Record, ConnectorError> {
    let vendor = body.get("vendorKey").and_then(Value::as_str).unwrap_or_default();
    match data::find(Entity::Vendors, vendor) {
        Some(v) if v["statusKey"] == "active" => {}
        Some(_) => {
            return Err(rule(
                ErrorCode::InvalidVendor,
                Some("vendorKey".into()),
                format!("vendor {vendor} is blocked"),
            ));
        }
        None => {
            return Err(rule(
                ErrorCode::InvalidVendor,
                Some("vendorKey".into()),
                format!("vendor {vendor} is unknown"),
            ));
        }
    }
    reference(Entity::Sites, body, "siteKey")?;
    let key = new_key("PO", body);
    let mut net = rust_decimal::Decimal::ZERO;
    let mut lines = Vec::new();
    for (i, line) in body.get("lineItems").and_then(Value::as_array).into_iter().flatten().enumerate() {
        let field = |f: &str| format!("lineItems[{i}].{f}");
        let material = line["materialKey"].as_str().unwrap_or_default();
        let Some(&(_, name, uom, cents, _, _)) = data::MATERIALS.iter().find(|m| m.0 == material) else {
            return Err(rule(
                ErrorCode::InvalidRequest,
                Some(field("materialKey")),
                format!("material {material} does not exist"),
            ));
        };
        if data::stock(material) == 0 {
            return Err(rule(
                ErrorCode::OutOfStock,
                Some(field("materialKey")),
                format!("material {material} is out of stock"),
            ));
        }
        let decimal = |v: &Value| v.as_str().and_then(|s| s.parse::<rust_decimal::Decimal>().ok());
        let quantity = decimal(&line["quantity"]).unwrap_or_default();
        if quantity <= rust_decimal::Decimal::ZERO {
            return Err(rule(ErrorCode::InvalidRequest, Some(field("quantity")), "quantity must be positive".into()));
        }
        let price = decimal(&line["price"]).unwrap_or_else(|| rust_decimal::Decimal::new(cents, 2));
        let total = (price * quantity).round_dp(2);
        net += total;
        lines.push(json!({"key": format!("{key}-{}", (i + 1) * 10), "lineNo": ((i + 1) * 10).to_string(),
            "materialKey": material, "name": name, "description": line.get("description").cloned().unwrap_or(Value::Null),
            "quantity": quantity.normalize().to_string(), "uomKey": uom, "price": price.round_dp(2).to_string(),
            "currencyKey": body["currencyKey"], "lineTotalValue": total.to_string(), "statusKey": "draft"}));
    }
    let now = data::timestamp(Utc::now());
    let gross = (net * rust_decimal::Decimal::new(119, 2)).round_dp(2);
    let mut record = body.clone();
    record.extend(
        json!({"key": key, "orderNo": key, "statusKey": "draft", "orderDate": now, "totalNetValue": net.round_dp(2).to_string(),
               "totalGrossValue": gross.to_string(), "lineItems": lines, "createdAt": now, "updatedAt": now,
               "deletedAt": null,
               "remoteData": {"PurchaseOrder": key, "Supplier": vendor, "PurchasingProcessingStatus": "DRAFT"}})
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    record.entry("customFields").or_insert_with(|| json!({}));
    Ok(record)
}

fn create_other(entity: Entity, prefix: &str, status: &str, body: &Record) -> Result<Record, ConnectorError> {
    reference(Entity::Sites, body, "siteKey")?;
    reference(Entity::Locations, body, "locationKey")?;
    reference(Entity::Assets, body, "assetKey")?;
    let key = new_key(prefix, body);
    let now = data::timestamp(Utc::now());
    let mut record = body.clone();
    record.extend(
        json!({"key": key, "statusKey": status, "createdAt": now, "updatedAt": now, "deletedAt": null,
               "remoteData": {"id": key, "entity": entity.path()}})
        .as_object()
        .cloned()
        .unwrap_or_default(),
    );
    record.entry("customFields").or_insert_with(|| json!({}));
    Ok(record)
}

#[async_trait]
impl Connector for Sandbox {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        match credentials.text("apiKey") {
            Some(REJECTED_API_KEY) => {
                Err(ConnectorError::Rejected("401 Unauthorized: the API key is not valid for this tenant".into()))
            }
            Some(_) => Ok(()),
            None => Err(ConnectorError::Rejected("401 Unauthorized: no API key".into())),
        }
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    fn live_reads(&self) -> bool {
        true
    }

    fn uses_credentials(&self) -> bool {
        false
    }

    async fn changes(
        &self,
        _credentials: &Credentials,
        entity: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        let matching = after(entity, cursor).filter(|r| since.is_none_or(|t| updated_at(r).is_some_and(|u| u >= t)));
        let (records, next) = take_page(matching, CHANGES_PAGE);
        Ok(Changes { records, next })
    }

    async fn list(&self, _: &Credentials, entity: Entity, query: &ListQuery) -> Result<Page, ConnectorError> {
        let matching = after(entity, query.after.as_deref()).filter(|r| {
            (query.include_deleted || r["deletedAt"].is_null())
                && query.status.as_deref().is_none_or(|s| r["statusKey"] == s)
                && query.modified_after.is_none_or(|t| updated_at(r).is_some_and(|u| u > t))
        });
        let (records, next) = take_page(matching, query.limit);
        Ok(Page { records, next })
    }

    async fn get(&self, _: &Credentials, entity: Entity, key: &str) -> Result<Option<Record>, ConnectorError> {
        Ok(data::find(entity, key).cloned())
    }

    async fn create(
        &self,
        _: &Credentials,
        entity: Entity,
        body: &Record,
        _: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        match entity {
            Entity::PurchaseOrders => create_purchase_order(body),
            Entity::WorkOrders => create_other(entity, "WO", "open", body),
            Entity::Assets => create_other(entity, "A", "operating", body),
            _ => Err(ConnectorError::Unsupported),
        }
    }

    async fn update(
        &self,
        _: &Credentials,
        entity: Entity,
        current_record: &Record,
        patch: &Record,
    ) -> Result<Record, ConnectorError> {
        let mut record = current(entity, key_of(current_record))?;
        record.extend(patch.clone());
        Ok(touched(record))
    }

    async fn change_status(
        &self,
        _: &Credentials,
        entity: Entity,
        current_record: &Record,
        status: &str,
    ) -> Result<Record, ConnectorError> {
        let mut record = current(entity, key_of(current_record))?;
        record.insert("statusKey".into(), status.into());
        Ok(touched(record))
    }

    async fn delete(&self, _: &Credentials, entity: Entity, current_record: &Record) -> Result<Record, ConnectorError> {
        let mut record = touched(current(entity, key_of(current_record))?);
        record.insert("deletedAt".into(), record["updatedAt"].clone());
        Ok(record)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Map;

    fn none() -> Credentials {
        Credentials(Map::new())
    }

    fn body(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[tokio::test]
    async fn documented_bad_key_is_rejected() {
        let creds = |k: &str| Credentials(body(json!({"apiKey": k})));
        assert!(Sandbox.verify(&creds("x")).await.is_ok());
        assert!(matches!(Sandbox.verify(&creds("invalid")).await, Err(ConnectorError::Rejected(_))));
    }

    #[tokio::test]
    async fn purchase_orders_are_validated_like_an_erp() {
        let order = |vendor: &str, material: &str| {
            body(json!({"vendorKey": vendor, "siteKey": "SITE-NORTH", "currencyKey": "EUR",
                        "lineItems": [{"materialKey": material, "quantity": "3", "price": "1.10"}]}))
        };
        let created = Sandbox.create(&none(), Entity::PurchaseOrders, &order("V-1001", "M-2001"), None).await.unwrap();
        assert_eq!((created["totalNetValue"].as_str(), created["statusKey"].as_str()), (Some("3.30"), Some("draft")));
        assert_eq!(created["totalGrossValue"], "3.93");
        let blocked =
            Sandbox.create(&none(), Entity::PurchaseOrders, &order(data::BLOCKED_VENDOR, "M-2001"), None).await;
        assert!(matches!(blocked, Err(ConnectorError::Rule { code: ErrorCode::InvalidVendor, .. })));
        let empty = Sandbox.create(&none(), Entity::PurchaseOrders, &order("V-1001", "M-2005"), None).await;
        assert!(matches!(empty, Err(ConnectorError::Rule { code: ErrorCode::OutOfStock, .. })));
    }

    #[tokio::test]
    async fn lists_filter_and_page() {
        let q = ListQuery { limit: 500, status: Some("approved".into()), ..Default::default() };
        let page = Sandbox.list(&none(), Entity::PurchaseOrders, &q).await.unwrap();
        assert!(!page.records.is_empty() && page.records.iter().all(|r| r["statusKey"] == "approved"));
        let all = Sandbox
            .list(&none(), Entity::PurchaseOrders, &ListQuery { limit: 500, ..Default::default() })
            .await
            .unwrap();
        let with_deleted = Sandbox
            .list(
                &none(),
                Entity::PurchaseOrders,
                &ListQuery { limit: 500, include_deleted: true, ..Default::default() },
            )
            .await
            .unwrap();
        assert_eq!(with_deleted.records.len(), all.records.len() + 2);
        let first = Sandbox.list(&none(), Entity::Assets, &ListQuery { limit: 5, ..Default::default() }).await.unwrap();
        assert!(first.next.is_some() && first.records.len() == 5);
    }
}
