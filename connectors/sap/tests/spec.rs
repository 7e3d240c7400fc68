//! The SAP connector held to SAP's own spec files (`sap-s4hana` in the vendor folder, see
//! vendor/; skipped where it is absent): the entity sets and function imports it calls exist, every property it writes is
//! one the EDMX lets a create or an update set, the property it filters and orders on is
//! filterable and sortable, and every property it reads is declared — a record built from the
//! EDMX alone fills every unified field the mapping promises.

#[path = "../../vendor_specs.rs"]
mod vendor;

use millwright::{
    capabilities::Operation,
    connectors::Credentials,
    entities::{Entity, Record},
};
use millwright_sap::{self as sap, mapping};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const SAP: &str = "http://www.sap.com/Protocols/SAPData";
const METADATA: &str = "http://schemas.microsoft.com/ado/2007/08/dataservices/metadata";

fn spec(path: &str) -> String {
    let file = vendor::folder("sap-s4hana").join(path);
    std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
}

/// A property of an entity type as the EDMX declares it.
#[derive(Debug, Clone)]
struct Property {
    kind: String,
    creatable: bool,
    updatable: bool,
    filterable: bool,
    sortable: bool,
}

/// One service's EDMX: entity types with their properties, entity sets, function imports.
struct Edmx {
    types: BTreeMap<String, BTreeMap<String, Property>>,
    sets: BTreeMap<String, String>,
    /// Function imports: HTTP method and required parameters.
    functions: BTreeMap<String, (String, Vec<String>)>,
}

impl Edmx {
    fn read(path: &str) -> Self {
        let text = spec(path);
        let doc = roxmltree::Document::parse(&text).unwrap();
        let flag = |n: roxmltree::Node, name: &str| n.attribute((SAP, name)) != Some("false");
        let mut types = BTreeMap::new();
        for t in doc.descendants().filter(|n| n.has_tag_name("EntityType")) {
            let properties = t
                .children()
                .filter(|n| n.has_tag_name("Property"))
                .map(|p| {
                    let property = Property {
                        kind: p.attribute("Type").unwrap().to_owned(),
                        creatable: flag(p, "creatable"),
                        updatable: flag(p, "updatable"),
                        filterable: flag(p, "filterable"),
                        sortable: flag(p, "sortable"),
                    };
                    (p.attribute("Name").unwrap().to_owned(), property)
                })
                .collect();
            types.insert(t.attribute("Name").unwrap().to_owned(), properties);
        }
        let short = |t: &str| t.rsplit('.').next().unwrap().to_owned();
        let sets = doc
            .descendants()
            .filter(|n| n.has_tag_name("EntitySet"))
            .map(|n| (n.attribute("Name").unwrap().to_owned(), short(n.attribute("EntityType").unwrap())))
            .collect();
        let functions = doc
            .descendants()
            .filter(|n| n.has_tag_name("FunctionImport"))
            .map(|n| {
                // The parameters a call must pass: those that may not be null.
                let parameters = n
                    .children()
                    .filter(|p| p.has_tag_name("Parameter") && p.attribute("Nullable") != Some("true"))
                    .map(|p| p.attribute("Name").unwrap().to_owned());
                let method = n.attribute((METADATA, "HttpMethod")).unwrap_or("GET").to_owned();
                (n.attribute("Name").unwrap().to_owned(), (method, parameters.collect()))
            })
            .collect();
        Self { types, sets, functions }
    }

    fn of_set(&self, set: &str) -> &BTreeMap<String, Property> {
        let kind = self.sets.get(set).unwrap_or_else(|| panic!("the EDMX has no entity set {set}"));
        &self.types[kind]
    }
}

fn purchase_orders() -> Edmx {
    Edmx::read("purchase-order/API_PURCHASEORDER_PROCESS_SRV.edmx")
}

fn maintenance_orders() -> Edmx {
    Edmx::read("maintenance-order/API_MAINTENANCEORDER.edmx")
}

/// A value of an EDMX type as SAP sends it: non-empty, so the mapping has something to read.
fn sample(kind: &str) -> Value {
    match kind {
        "Edm.DateTime" => json!("/Date(1735689600000)/"),
        "Edm.DateTimeOffset" => json!("/Date(1735689600000+0000)/"),
        "Edm.Time" => json!("PT10H00M00S"),
        "Edm.Decimal" | "Edm.Int16" | "Edm.Int32" | "Edm.Int64" | "Edm.Byte" => json!("2"),
        "Edm.Boolean" => json!(false),
        _ => json!("X1"),
    }
}

fn record_of(properties: &BTreeMap<String, Property>) -> Map<String, Value> {
    properties.iter().map(|(name, p)| (name.clone(), sample(&p.kind))).collect()
}

fn assert_filled(record: &Record, fields: &[&str]) {
    for field in fields {
        assert!(!record[*field].is_null(), "{field} stays empty: the mapping reads a property SAP does not send");
    }
}

#[test]
fn the_sets_and_functions_the_connector_calls_exist() {
    if !vendor::present("sap-s4hana") {
        return;
    }
    let (po, wo) = (purchase_orders(), maintenance_orders());
    for (entity, service, set, key) in sap::sets() {
        let edmx = match service {
            s if s.ends_with("API_PURCHASEORDER_PROCESS_SRV") => &po,
            s if s.ends_with("API_MAINTENANCEORDER") => &wo,
            // Equipment has no EDMX among the spec files; its OpenAPI export is checked below.
            _ => continue,
        };
        let properties = edmx.of_set(set);
        assert!(properties.contains_key(key), "{entity:?}: {set} has no key {key}");
        let changed = &properties[sap::CHANGED];
        assert!(changed.filterable && changed.sortable, "{set}.{} must be filterable and sortable", sap::CHANGED);
    }
    assert!(po.types["A_PurchaseOrderType"].contains_key("PurchasingDocumentDeletionCode"));
    for (_, _, function) in sap::WO_FUNCTIONS {
        let (method, parameters) =
            wo.functions.get(function).unwrap_or_else(|| panic!("no function import {function}"));
        // The connector passes the order alone, as a POST.
        assert_eq!(
            (method.as_str(), parameters.as_slice()),
            ("POST", &["MaintenanceOrder".to_owned()][..]),
            "{function}"
        );
    }
}

#[test]
fn creates_and_updates_set_only_what_the_edmx_allows() {
    if !vendor::present("sap-s4hana") {
        return;
    }
    let edmx = purchase_orders();
    let (header, item) = (edmx.of_set("A_PurchaseOrder"), edmx.of_set("A_PurchaseOrderItem"));
    let caps = sap::capabilities().of(Entity::PurchaseOrders);
    // A create that sets every field the capabilities allow, with every default.
    let mut line = Map::new();
    let mut body = Map::new();
    for rule in &caps.creatable {
        match rule.field.split_once("[].") {
            Some((_, field)) => line.insert(field.to_owned(), json!("1")),
            None => body.insert(rule.field.to_owned(), json!("1")),
        };
    }
    body.insert("lineItems".into(), json!([line]));
    body.insert("customFields".into(), json!({}));
    let credentials =
        Credentials(sap::PO_DEFAULTS.iter().map(|(credential, _)| ((*credential).to_owned(), json!("1010"))).collect());
    let insert = mapping::new_purchase_order(&body, &sap::po_defaults(&credentials));
    for (name, _) in insert.as_object().unwrap().iter().filter(|(n, _)| *n != "to_PurchaseOrderItem") {
        assert!(header.get(name).is_some_and(|p| p.creatable), "A_PurchaseOrder.{name} is not creatable");
    }
    let items = insert["to_PurchaseOrderItem"]["results"].as_array().unwrap();
    for name in items[0].as_object().unwrap().keys() {
        assert!(item.get(name).is_some_and(|p| p.creatable), "A_PurchaseOrderItem.{name} is not creatable");
    }
    assert_eq!(
        items[0].as_object().unwrap().len(),
        line.len() + 2,
        "every line field reaches SAP, with item and plant"
    );

    let orders = maintenance_orders();
    for (entity, fields, properties) in [
        (Entity::PurchaseOrders, &mapping::PO_HEADER_FIELDS[..], header),
        (Entity::WorkOrders, &mapping::WO_FIELDS[..], orders.of_set("MaintenanceOrder")),
    ] {
        let caps = sap::capabilities().of(entity);
        assert!(caps.operations.contains(&Operation::Update));
        let patch: Record = caps.updatable.iter().map(|f| ((*f).to_owned(), json!("1"))).collect();
        let sent = mapping::to_sap(&patch, fields);
        assert_eq!(sent.len(), patch.len(), "{entity:?}: an updatable field does not reach SAP");
        for name in sent.keys() {
            assert!(properties.get(name).is_some_and(|p| p.updatable), "{entity:?}: {name} is not updatable in SAP");
        }
    }
}

#[test]
fn every_property_the_mapping_reads_is_declared() {
    if !vendor::present("sap-s4hana") {
        return;
    }
    let edmx = purchase_orders();
    let mut order = record_of(edmx.of_set("A_PurchaseOrder"));
    order.insert("to_PurchaseOrderItem".into(), json!({"results": [record_of(edmx.of_set("A_PurchaseOrderItem"))]}));
    order.insert("PurchasingDocumentDeletionCode".into(), json!(""));
    let po = mapping::purchase_order(&order).unwrap();
    assert_filled(&po, &["key", "vendorKey", "siteKey", "currencyKey", "orderDate", "terms", "createdAt", "updatedAt"]);
    let line = po["lineItems"][0].as_object().unwrap().clone();
    assert_filled(&line, &["lineNo", "materialKey", "description", "quantity", "uomKey", "price", "lineTotalValue"]);

    let mut order = record_of(maintenance_orders().of_set("MaintenanceOrder"));
    order.insert("SystemStatusText".into(), json!("REL  MANC NMAT PRC"));
    let wo = mapping::work_order(&order).unwrap();
    assert_eq!(wo["statusKey"], "released");
    assert_filled(
        &wo,
        &[
            "title",
            "severity",
            "siteKey",
            "locationKey",
            "assetKey",
            "categoryName",
            "scheduledAt",
            "dueAt",
            "updatedAt",
        ],
    );

    let openapi: Value = serde_json::from_str(&spec("equipment/OP_API_EQUIPMENT.json")).unwrap();
    let schema = &openapi["components"]["schemas"]["cds_api_equipment.EquipmentType"]["properties"];
    let equipment: Map<String, Value> = schema
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, p)| p.get("type").is_some())
        .map(|(name, p)| {
            let value = match (p["type"].as_str(), p["example"].as_str()) {
                (Some("boolean"), _) => json!(false),
                (_, Some(example)) if example.starts_with("/Date(") => json!(example),
                _ => json!("X1"),
            };
            (name.clone(), value)
        })
        .collect();
    let asset = mapping::asset(&equipment).unwrap();
    assert_filled(
        &asset,
        &[
            "name",
            "siteKey",
            "locationKey",
            "parentKey",
            "categoryName",
            "makeName",
            "modelName",
            "serialNumber",
            "createdAt",
            "updatedAt",
        ],
    );
}
