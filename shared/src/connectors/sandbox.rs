//! The sandbox: a system with realistic, deterministic sample data (the same on every machine),
//! so users can build an integration before they touch a real SAP.

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::{Connector, ConnectorError, Credentials};

/// The sandbox's connector.
pub struct Sandbox;

/// The API key the sandbox rejects, as documented.
pub const REJECTED_API_KEY: &str = "invalid";

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
}

/// How many purchase orders the sandbox holds.
pub const PURCHASE_ORDER_COUNT: usize = 60;

const STATUSES: [&str; 5] = ["draft", "pending_approval", "approved", "completed", "cancelled"];
const VENDORS: [&str; 6] = ["V-1001", "V-1002", "V-1003", "V-1004", "V-1005", "V-1006"];
/// A vendor the sandbox has blocked: orders to it are refused.
pub const BLOCKED_VENDOR: &str = "V-1999";
const SITES: [&str; 3] = ["SITE-NORTH", "SITE-SOUTH", "SITE-PORT"];
/// (material, unit price in cents, description, unit); the last two are out of stock.
const MATERIALS: [(&str, i64, &str, &str); 6] = [
    ("M-2001", 1_250, "Hex bolt M12x60, zinc plated", "EA"),
    ("M-2002", 48_900, "Bearing 6205-2RS", "EA"),
    ("M-2003", 3_475, "Hydraulic oil ISO VG 46, 20 L", "PAIL"),
    ("M-2004", 129_000, "V-belt SPB 2240", "EA"),
    ("M-2005", 215_050, "Centrifugal pump seal kit", "KIT"),
    ("M-2006", 7_999, "Air filter element F7", "EA"),
];

fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

fn epoch() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0).single().expect("valid date")
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Purchase order number `n` (0-based), in the unified model.
fn purchase_order(n: usize) -> Value {
    let key = format!("PO-{}", 4_500_000_100 + n);
    let status = STATUSES[n % STATUSES.len()];
    let vendor = if n == 13 { BLOCKED_VENDOR } else { VENDORS[n % VENDORS.len()] };
    let created = epoch() + Duration::minutes(433 * n as i64);
    let updated = created + Duration::hours(2 + (n % 9) as i64);
    let lines: Vec<(usize, i64)> =
        (0..1 + n % 3).map(|l| ((n + 2 * l) % MATERIALS.len(), (1 + (n + l) % 7) as i64)).collect();
    let total: i64 = lines.iter().map(|&(m, qty)| MATERIALS[m].1 * qty).sum();
    let line_items: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, &(m, qty))| {
            let (material, price, name, uom) = MATERIALS[m];
            json!({
                "key": format!("{key}-{}", (i + 1) * 10),
                "lineNo": ((i + 1) * 10).to_string(),
                "materialKey": material,
                "name": name,
                "quantity": qty.to_string(),
                "uomKey": uom,
                "price": money(price),
                "currencyKey": "EUR",
                "lineTotalValue": money(price * qty),
                "statusKey": status,
            })
        })
        .collect();
    let custom_fields = if n % 4 == 1 {
        json!({"costCenter": format!("CC-{}", 4100 + n % 5 * 10), "projectCode": format!("PRJ-{:03}", n)})
    } else {
        json!({})
    };
    json!({
        "key": key,
        "orderNo": key,
        "title": format!("Maintenance supplies order {}", n + 1),
        "statusKey": status,
        "vendorKey": vendor,
        "siteKey": SITES[n % SITES.len()],
        "currencyKey": "EUR",
        "orderDate": timestamp(created),
        "totalNetValue": money(total),
        "totalGrossValue": money(total + total * 19 / 100),
        "lineItems": line_items,
        "createdAt": timestamp(created),
        "updatedAt": timestamp(updated),
        "deletedAt": null,
        "customFields": custom_fields,
        "remoteData": {
            "PurchaseOrder": key,
            "Supplier": vendor,
            "ProcessingStatus": status.to_uppercase(),
            "DocumentCurrency": "EUR",
            "ItemCount": lines.len(),
        },
    })
}

/// Every sandbox purchase order, ordered by key.
pub fn purchase_orders() -> Vec<Value> {
    (0..PURCHASE_ORDER_COUNT).map(purchase_order).collect()
}

/// The first `limit` purchase orders whose key sorts after `after`; with whether more follow.
pub fn purchase_order_page(after: Option<&str>, limit: usize) -> (Vec<Value>, bool) {
    let all = purchase_orders();
    let start = after.map_or(0, |a| all.partition_point(|po| po["key"].as_str().is_some_and(|k| k <= a)));
    let rest = &all[start..];
    (rest.iter().take(limit).cloned().collect(), rest.len() > limit)
}

/// One purchase order by key.
pub fn purchase_order_by_key(key: &str) -> Option<Value> {
    purchase_orders().into_iter().find(|po| po["key"] == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_is_deterministic_and_covers_every_status() {
        assert_eq!(purchase_orders(), purchase_orders());
        for s in STATUSES {
            assert!(purchase_orders().iter().any(|po| po["statusKey"] == s), "{s}");
        }
        assert!(purchase_orders().iter().any(|po| po["vendorKey"] == BLOCKED_VENDOR));
        assert!(purchase_orders().iter().any(|po| po["customFields"].as_object().is_some_and(|c| !c.is_empty())));
    }

    #[test]
    fn pages_walk_every_order_once() {
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let (page, more) = purchase_order_page(after.as_deref(), 7);
            seen.extend(page.iter().map(|p| p["key"].as_str().unwrap().to_owned()));
            after = seen.last().cloned();
            if !more {
                break;
            }
        }
        let mut unique = seen.clone();
        unique.dedup();
        assert_eq!(seen.len(), PURCHASE_ORDER_COUNT);
        assert_eq!(unique, seen);
    }

    #[test]
    fn totals_are_exact_decimal_strings() {
        let po = purchase_order(4);
        let lines: i64 = po["lineItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["lineTotalValue"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap())
            .sum();
        assert_eq!(po["totalNetValue"].as_str().unwrap().replace('.', "").parse::<i64>().unwrap(), lines);
    }

    #[tokio::test]
    async fn documented_bad_key_is_rejected() {
        let creds = |k: &str| Credentials(serde_json::from_value(json!({"apiKey": k})).unwrap());
        assert!(Sandbox.verify(&creds("x")).await.is_ok());
        assert!(matches!(Sandbox.verify(&creds("invalid")).await, Err(ConnectorError::Rejected(_))));
    }
}
