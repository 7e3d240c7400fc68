//! The sandbox's sample data: the same on every machine, every reference consistent. Generated
//! once per process from fixed tables and arithmetic, never from a random source.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};
use std::{collections::BTreeMap, sync::OnceLock};

use millwright::entities::{Entity, Record};

/// (key, name, latitude, longitude)
pub const SITES: [(&str, &str, &str, &str); 3] = [
    ("SITE-NORTH", "North Plant", "53.5511", "9.9937"),
    ("SITE-SOUTH", "South Plant", "48.1351", "11.5820"),
    ("SITE-PORT", "Harbour Depot", "53.5413", "9.9666"),
];

/// (suffix, name, type) of the locations every site has.
const LOCATION_KINDS: [(&str, &str, &str); 4] = [
    ("STORE", "Storeroom", "storeroom"),
    ("WS", "Workshop", "workshop"),
    ("L1", "Production line 1", "production"),
    ("L2", "Production line 2", "production"),
];

/// Each kind's space: area in m², people it seats, its use, the department holding it.
const SPACES: [(&str, &str, &str, &str); 4] = [
    ("120", "4", "Storage", "Maintenance"),
    ("250", "12", "Workshop", "Maintenance"),
    ("900", "30", "Production", "Operations"),
    ("900", "30", "Production", "Operations"),
];

/// (key, name, status): the last one is blocked and refuses orders.
pub const VENDORS: [(&str, &str, &str); 7] = [
    ("V-1001", "Nordic Fasteners GmbH", "active"),
    ("V-1002", "Bearings & Drives AG", "active"),
    ("V-1003", "Hydraulics Direct Ltd", "active"),
    ("V-1004", "PowerTrans Belts BV", "active"),
    ("V-1005", "FlowSeal Pumps SE", "active"),
    ("V-1006", "CleanAir Filtration Oy", "active"),
    ("V-1999", "Defunct Industrial Supply", "blocked"),
];

/// The blocked vendor.
pub const BLOCKED_VENDOR: &str = "V-1999";

/// (key, name, unit, unit price in cents, vendor, in stock)
pub const MATERIALS: [(&str, &str, &str, i64, &str, bool); 12] = [
    ("M-2001", "Hex bolt M12x60, zinc plated", "EA", 125, "V-1001", true),
    ("M-2002", "Bearing 6205-2RS", "EA", 4_890, "V-1002", true),
    ("M-2003", "Hydraulic oil ISO VG 46, 20 L", "PAIL", 3_475, "V-1003", true),
    ("M-2004", "V-belt SPB 2240", "EA", 12_900, "V-1004", true),
    ("M-2005", "Centrifugal pump seal kit", "KIT", 21_505, "V-1005", false),
    ("M-2006", "Air filter element F7", "EA", 7_999, "V-1006", false),
    ("M-2007", "Grease cartridge NLGI 2, 400 g", "EA", 650, "V-1003", true),
    ("M-2008", "Coupling insert 90 ShA", "EA", 1_830, "V-1002", true),
    ("M-2009", "Proximity sensor M18, PNP", "EA", 6_240, "V-1002", true),
    ("M-2010", "Conveyor roller 89x600", "EA", 4_415, "V-1004", true),
    ("M-2011", "Gearbox oil seal 45x62x8", "EA", 980, "V-1005", false),
    ("M-2012", "Safety gloves, cut level C", "PAIR", 745, "V-1001", true),
];

/// Purchase order statuses in their lifecycle order.
pub const PO_STATUSES: [(&str, &str); 5] = [
    ("draft", "Draft"),
    ("pending_approval", "Pending approval"),
    ("approved", "Approved"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
];

/// Work order statuses.
pub const WO_STATUSES: [(&str, &str); 5] = [
    ("open", "Open"),
    ("in_progress", "In progress"),
    ("on_hold", "On hold"),
    ("completed", "Completed"),
    ("cancelled", "Cancelled"),
];

/// Asset statuses.
pub const ASSET_STATUSES: [(&str, &str); 3] =
    [("operating", "Operating"), ("down", "Down"), ("decommissioned", "Decommissioned")];

/// The status of records that only exist or not (materials, sites, …).
pub const ACTIVE_STATUSES: [(&str, &str); 2] = [("active", "Active"), ("inactive", "Inactive")];

/// Vendor statuses.
pub const VENDOR_STATUSES: [(&str, &str); 2] = [("active", "Active"), ("blocked", "Blocked")];

const CRITICALITY: [&str; 3] = ["high", "medium", "low"];
const INSPECTIONS: [&str; 4] = ["Quarterly", "Vibration", "Leak", "Lubrication"];
const PURCHASE_ORDERS: usize = 60;
const WORK_ORDERS: usize = 40;
const ASSETS: usize = 24;

/// Formats cents as an exact decimal string.
pub fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).single().expect("valid date")
}

/// RFC 3339 with seconds and `Z`, the form every timestamp of the API takes.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A record with the common fields, its own fields and the system's native form.
fn record(key: String, created: DateTime<Utc>, updated: DateTime<Utc>, fields: Value, remote: Value) -> Record {
    let mut r = Record::new();
    r.insert("key".into(), Value::String(key));
    r.extend(fields.as_object().cloned().unwrap_or_default());
    r.insert("createdAt".into(), timestamp(created).into());
    r.insert("updatedAt".into(), timestamp(updated).into());
    r.entry("deletedAt").or_insert(Value::Null);
    r.entry("customFields").or_insert_with(|| json!({}));
    r.insert("remoteData".into(), remote);
    r
}

fn location_key(site: &str, kind: &str) -> String {
    format!("LOC-{}-{kind}", site.trim_start_matches("SITE-"))
}

fn sites() -> Vec<Record> {
    SITES
        .iter()
        .enumerate()
        .map(|(i, (key, name, lat, lng))| {
            let t = epoch() - Duration::days(400 - i as i64);
            record(
                key.to_string(),
                t,
                t,
                json!({"code": key, "name": name, "description": format!("{name} maintenance site"),
                       "statusKey": "active", "lat": lat, "lng": lng}),
                json!({"SITEID": key, "DESCRIPTION": name}),
            )
        })
        .collect()
}

fn locations() -> Vec<Record> {
    let mut out = Vec::new();
    for (s, (site, site_name, _, _)) in SITES.iter().enumerate() {
        for (k, ((kind, name, kind_type), (area, capacity, space_use, department))) in
            LOCATION_KINDS.iter().zip(SPACES).enumerate()
        {
            let key = location_key(site, kind);
            let t = epoch() - Duration::days(300) + Duration::hours((s * 7 + k) as i64);
            out.push(record(
                key.clone(),
                t,
                t,
                json!({"code": key, "name": format!("{site_name} {name}"), "statusKey": "active",
                       "siteKey": site, "type": kind_type, "isActive": true, "area": area, "areaUnit": "m2",
                       "capacity": capacity, "spaceUse": space_use, "department": department}),
                json!({"LOCATION": key, "SITEID": site, "TYPE": kind_type.to_uppercase()}),
            ));
        }
    }
    out
}

fn vendors() -> Vec<Record> {
    VENDORS
        .iter()
        .enumerate()
        .map(|(i, (key, name, status))| {
            let created = epoch() - Duration::days(500 - 10 * i as i64);
            let updated = if *status == "blocked" { epoch() + Duration::days(30) } else { created };
            record(
                key.to_string(),
                created,
                updated,
                json!({"code": key, "name": name, "statusKey": status}),
                json!({"Supplier": key, "SupplierName": name, "PurchasingIsBlocked": *status == "blocked"}),
            )
        })
        .collect()
}

fn materials() -> Vec<Record> {
    MATERIALS
        .iter()
        .enumerate()
        .map(|(i, (key, name, uom, _, _, _))| {
            let t = epoch() - Duration::days(200) + Duration::hours(i as i64 * 5);
            record(
                key.to_string(),
                t,
                t,
                json!({"code": key, "partNumber": format!("PN-{}", &key[2..]), "name": name, "statusKey": "active",
                       "uomKey": uom, "isActive": true, "criticality": if i % 3 == 0 { "high" } else { "medium" }}),
                json!({"Material": key, "MaterialDescription": name, "BaseUnit": uom}),
            )
        })
        .collect()
}

fn inventories() -> Vec<Record> {
    let mut out = Vec::new();
    for (m, (material, name, _, price, _, in_stock)) in MATERIALS.iter().enumerate() {
        for (s, (site, _, _, _)) in SITES.iter().enumerate() {
            let key = format!("INV-{material}-{}", site.trim_start_matches("SITE-"));
            let quantity = if *in_stock { ((m * 7 + s * 3) % 40 + 2) as i64 } else { 0 };
            let t = epoch() + Duration::days(((m + s) % 20) as i64) + Duration::minutes(m as i64 * 11);
            out.push(record(
                key.clone(),
                t - Duration::days(100),
                t,
                json!({"code": key, "name": name, "statusKey": "active", "materialKey": material, "siteKey": site,
                       "locationKey": location_key(site, "STORE"), "quantity": quantity.to_string(),
                       "unitCost": money(*price)}),
                json!({"ITEMNUM": material, "SITEID": site, "CURBAL": quantity, "AVGCOST": money(*price)}),
            ));
        }
    }
    out
}

fn assets() -> Vec<Record> {
    const KINDS: [(&str, &str, &str); 4] = [
        ("Centrifugal pump", "Grundfos", "NB 65-200"),
        ("Belt conveyor", "Interroll", "BC-600"),
        ("Air compressor", "Atlas Copco", "GA 37"),
        ("Gearbox", "SEW", "R97"),
    ];
    (0..ASSETS)
        .map(|n| {
            let key = format!("A-{}", 3001 + n);
            let (site, _, _, _) = SITES[n % SITES.len()];
            let (kind, make, model) = KINDS[n % KINDS.len()];
            let status = if n % 11 == 5 {
                "decommissioned"
            } else if n % 7 == 3 {
                "down"
            } else {
                "operating"
            };
            let created = epoch() - Duration::days(700 - n as i64 * 3);
            let updated = epoch() + Duration::days((n * 5 % 90) as i64) + Duration::hours(n as i64);
            record(
                key.clone(),
                created,
                updated,
                json!({"name": format!("{kind} {}", n + 1), "description": format!("{make} {model}"),
                       "statusKey": status, "siteKey": site,
                       "locationKey": location_key(site, LOCATION_KINDS[2 + n % 2].0),
                       "categoryName": kind, "criticality": CRITICALITY[n % 3], "makeName": make,
                       "modelName": model, "serialNumber": format!("SN{:06}", 104_729 * (n + 1) % 1_000_000),
                       "isActive": status != "decommissioned"}),
                json!({"Equipment": key, "EquipmentName": format!("{kind} {}", n + 1), "MaintenancePlant": site,
                       "ManufacturerPartTypeName": model}),
            )
        })
        .collect()
}

fn work_orders() -> Vec<Record> {
    (0..WORK_ORDERS)
        .map(|n| {
            let key = format!("WO-{}", 5001 + n);
            let asset = n % ASSETS;
            let (site, _, _, _) = SITES[asset % SITES.len()];
            let (status, _) = WO_STATUSES[n % WO_STATUSES.len()];
            let created = epoch() + Duration::hours(n as i64 * 37);
            let updated = created + Duration::hours(4 + (n % 5) as i64);
            let mut custom = json!({});
            if n % 6 == 2 {
                custom = json!({"shutdownRequired": n % 12 == 2, "permitNo": format!("PTW-{:04}", 800 + n)});
            }
            let completed = (status == "completed").then(|| timestamp(updated));
            record(
                key.clone(),
                created,
                updated,
                json!({"code": key, "title": format!("{} inspection", INSPECTIONS[n % 4]),
                       "instructions": "Isolate, inspect, record findings, restore.", "statusKey": status,
                       "severity": CRITICALITY[2 - n % 3], "siteKey": site,
                       "locationKey": location_key(site, LOCATION_KINDS[2 + asset % 2].0),
                       "assetKey": format!("A-{}", 3001 + asset), "categoryName": "preventive",
                       "estimatedTime": format!("{}.{}", 1 + n % 6, (n % 2) * 5),
                       "dueAt": timestamp(created + Duration::days(14)), "completedAt": completed,
                       "customFields": custom}),
                json!({"MaintenanceOrder": key, "MaintenanceOrderType": "PM01", "Equipment": format!("A-{}", 3001 + asset),
                       "MaintenancePlant": site}),
            )
        })
        .collect()
}

fn purchase_orders() -> Vec<Record> {
    (0..PURCHASE_ORDERS)
        .map(|n| {
            let key = format!("PO-{}", 4_500_000_100 + n);
            let (status, _) = PO_STATUSES[n % PO_STATUSES.len()];
            let vendor = if n == 13 { BLOCKED_VENDOR } else { VENDORS[n % 6].0 };
            let (site, _, _, _) = SITES[n % SITES.len()];
            let created = epoch() + Duration::minutes(433 * n as i64);
            let updated = created + Duration::hours(2 + (n % 9) as i64);
            let lines: Vec<(usize, i64)> =
                (0..1 + n % 3).map(|l| ((n + 5 * l) % MATERIALS.len(), (1 + (n + l) % 7) as i64)).collect();
            let net: i64 = lines.iter().map(|&(m, qty)| MATERIALS[m].3 * qty).sum();
            let line_items: Vec<Value> = lines
                .iter()
                .enumerate()
                .map(|(i, &(m, qty))| {
                    let (material, name, uom, price, _, _) = MATERIALS[m];
                    json!({"key": format!("{key}-{}", (i + 1) * 10), "lineNo": ((i + 1) * 10).to_string(),
                           "materialKey": material, "name": name, "quantity": qty.to_string(), "uomKey": uom,
                           "price": money(price), "currencyKey": "EUR", "lineTotalValue": money(price * qty),
                           "statusKey": status})
                })
                .collect();
            let custom = if n % 4 == 1 {
                json!({"costCenter": format!("CC-{}", 4100 + n % 5 * 10), "projectCode": format!("PRJ-{n:03}")})
            } else {
                json!({})
            };
            let approved = matches!(status, "approved" | "completed").then(|| timestamp(created + Duration::hours(1)));
            let mut r = record(
                key.clone(),
                created,
                updated,
                json!({"orderNo": key, "title": format!("Maintenance supplies order {}", n + 1), "statusKey": status,
                       "vendorKey": vendor, "siteKey": site, "locationKey": location_key(site, "STORE"),
                       "currencyKey": "EUR", "orderDate": timestamp(created), "approvedAt": approved,
                       "totalNetValue": money(net), "totalGrossValue": money(net + net * 19 / 100),
                       "lineItems": line_items, "customFields": custom}),
                json!({"PurchaseOrder": key, "Supplier": vendor, "PurchasingProcessingStatus": status.to_uppercase(),
                       "DocumentCurrency": "EUR", "Plant": site}),
            );
            if n == 22 || n == 47 {
                r.insert("deletedAt".into(), timestamp(updated).into());
            }
            r
        })
        .collect()
}

/// Every record of every entity, each list ordered by key.
pub fn all() -> &'static BTreeMap<Entity, Vec<Record>> {
    static DATA: OnceLock<BTreeMap<Entity, Vec<Record>>> = OnceLock::new();
    DATA.get_or_init(|| {
        let mut data = BTreeMap::from([
            (Entity::Sites, sites()),
            (Entity::Locations, locations()),
            (Entity::Vendors, vendors()),
            (Entity::Materials, materials()),
            (Entity::Inventories, inventories()),
            (Entity::Assets, assets()),
            (Entity::WorkOrders, work_orders()),
            (Entity::PurchaseOrders, purchase_orders()),
        ]);
        for records in data.values_mut() {
            records.sort_by(|a, b| a["key"].as_str().cmp(&b["key"].as_str()));
        }
        data
    })
}

/// The records of one entity.
pub fn records(entity: Entity) -> &'static [Record] {
    all().get(&entity).map(Vec::as_slice).unwrap_or_default()
}

/// One record by key.
pub fn find(entity: Entity, key: &str) -> Option<&'static Record> {
    records(entity).iter().find(|r| r["key"] == key)
}

/// Units of a material in stock across all sites.
pub fn stock(material: &str) -> i64 {
    records(Entity::Inventories)
        .iter()
        .filter(|r| r["materialKey"] == material)
        .filter_map(|r| r["quantity"].as_str()?.parse::<i64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(entity: Entity) -> Vec<&'static str> {
        records(entity).iter().map(|r| r["key"].as_str().unwrap()).collect()
    }

    #[test]
    fn every_reference_resolves() {
        let refs = [
            ("siteKey", Entity::Sites),
            ("locationKey", Entity::Locations),
            ("vendorKey", Entity::Vendors),
            ("assetKey", Entity::Assets),
            ("materialKey", Entity::Materials),
        ];
        for entity in Entity::ALL {
            for r in records(entity) {
                for (field, target) in refs {
                    if let Some(k) = r.get(field).and_then(Value::as_str) {
                        assert!(find(target, k).is_some(), "{entity:?} {} → {field} {k}", r["key"]);
                    }
                }
                for line in r.get("lineItems").and_then(Value::as_array).into_iter().flatten() {
                    assert!(find(Entity::Materials, line["materialKey"].as_str().unwrap()).is_some());
                }
            }
        }
    }

    #[test]
    fn keys_are_unique_and_sorted_and_the_data_is_stable() {
        for entity in Entity::ALL {
            let k = keys(entity);
            let mut sorted = k.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(k, sorted, "{entity:?}");
            assert!(!k.is_empty());
        }
        assert!(records(Entity::PurchaseOrders).len() >= 50);
        assert_eq!(purchase_orders(), purchase_orders());
        assert_eq!(work_orders(), work_orders());
    }

    #[test]
    fn the_sample_covers_every_case_users_build_for() {
        let pos = records(Entity::PurchaseOrders);
        for (status, _) in PO_STATUSES {
            assert!(pos.iter().any(|p| p["statusKey"] == status), "{status}");
        }
        for (status, _) in WO_STATUSES {
            assert!(records(Entity::WorkOrders).iter().any(|w| w["statusKey"] == status), "{status}");
        }
        assert!(pos.iter().any(|p| p["vendorKey"] == BLOCKED_VENDOR));
        assert!(pos.iter().filter(|p| p["customFields"].as_object().is_some_and(|c| !c.is_empty())).count() >= 5);
        let out_of_stock_line = pos
            .iter()
            .flat_map(|p| p["lineItems"].as_array().unwrap())
            .any(|l| stock(l["materialKey"].as_str().unwrap()) == 0);
        assert!(out_of_stock_line);
        assert!(records(Entity::Inventories).iter().any(|i| i["quantity"] == "0"));
        assert!(pos.iter().any(|p| !p["deletedAt"].is_null()));
    }

    #[test]
    fn order_totals_are_exact_sums_of_their_lines() {
        for po in records(Entity::PurchaseOrders) {
            let cents = |v: &Value| v.as_str().unwrap().replace('.', "").parse::<i64>().unwrap();
            let lines: i64 = po["lineItems"].as_array().unwrap().iter().map(|l| cents(&l["lineTotalValue"])).sum();
            assert_eq!(cents(&po["totalNetValue"]), lines, "{}", po["key"]);
        }
    }
}
