//! The NetSuite connector held to the vendor dossier's example files (`netsuite` in the vendor
//! folder; skipped where it is absent), so that it keeps to NetSuite's wire format and not to
//! the stand-in's: the record it reads, the errors it maps, the SuiteQL it writes and reads, the
//! assertion it signs and the bodies it sends.

#[path = "../../vendor_specs.rs"]
mod vendor;

use millwright::{
    connectors::{ConnectorError, Credentials},
    entities::{Entity, Record},
    error::ErrorCode,
};
use millwright_netsuite::{account, assumed, auth, errors, mapping, suiteql};
use millwright_outbound::upstream::Answer;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;

fn text(file: &str) -> String {
    let path = vendor::folder("netsuite").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn object(file: &str) -> Map<String, Value> {
    serde_json::from_str(&text(file)).unwrap()
}

/// The JSON object that follows `marker` in a text example file.
fn json_after(file: &str, marker: &str) -> Value {
    let all = text(file);
    let from = all.find(marker).unwrap_or_else(|| panic!("{file}: no {marker}"));
    let start = from + all[from..].find('{').unwrap();
    serde_json::Deserializer::from_str(&all[start..]).into_iter::<Value>().next().unwrap().unwrap()
}

/// The keys of the annotated JSON object (`"key": value   <- note`) that follows `marker`.
fn annotated_keys(file: &str, marker: &str) -> BTreeSet<String> {
    let all = text(file);
    let from = all.find(marker).unwrap_or_else(|| panic!("{file}: no {marker}"));
    let block = all[from..].lines().skip(1).take_while(|l| !l.trim().starts_with('}'));
    block
        .filter_map(|l| l.trim().strip_prefix('"').and_then(|r| r.split_once("\":")).map(|(k, _)| k.to_owned()))
        .collect()
}

#[test]
fn the_example_purchase_order_reads_with_its_lines_and_custom_fields() {
    if !vendor::present("netsuite") {
        return;
    }
    let po = mapping::purchase_order(&object("purchaseOrder-record.json"));
    let expected = json!({
        "key": "4711", "orderNo": "PO-004711", "title": "Spare parts for pump overhaul",
        "statusKey": "partially_received", "vendorKey": "321", "siteKey": "1", "locationKey": "5",
        "currencyKey": "1", "orderDate": "2026-01-20T00:00:00Z", "dueAt": "2026-02-03T00:00:00Z",
        "totalNetValue": "1740", "totalGrossValue": "1740",
        "createdAt": "2026-01-20T14:02:11Z", "updatedAt": "2026-01-21T09:15:32Z", "deletedAt": null,
        "customFields": {"custbody_external_ref": "MK-PO-2026-0042", "lines": {"1": {"custcol_asset_tag": "PUMP-17"}}},
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&po[field], value, "{field}");
    }
    let lines = po["lineItems"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0],
        json!({"key": "1", "lineNo": "1", "materialKey": "880", "name": "BRG-6205 Ball bearing 6205-2RS",
               "description": "Ball bearing 6205-2RS", "quantity": "10", "uomKey": "Each", "price": "24",
               "currencyKey": "1", "lineTotalValue": "240", "statusKey": "partially_received"})
    );
    assert_eq!(lines[1]["statusKey"], "open");
    // Every field the record has is one of the unified model's.
    for field in po.keys() {
        assert!(Entity::PurchaseOrders.field(field).is_some(), "{field}");
    }
}

#[test]
fn every_example_error_maps_to_what_it_means() {
    if !vendor::present("netsuite") {
        return;
    }
    let examples = object("error-examples.json");
    let scenarios = examples["scenarios"].as_array().unwrap();
    let mapped = |name: &str| {
        let s = scenarios.iter().find(|s| s["name"] == name).unwrap_or_else(|| panic!("no scenario {name}"));
        let answer = Answer {
            status: StatusCode::from_u16(s["status"].as_u64().unwrap() as u16).unwrap(),
            headers: Default::default(),
            body: s["body"].to_string().into_bytes(),
        };
        errors::failure(&answer)
    };
    assert!(
        matches!(mapped("expired_or_invalid_access_token"), ConnectorError::Rejected(m) if m.starts_with("INVALID_LOGIN"))
    );
    assert!(matches!(
        mapped("invalid_reference_in_body"),
        ConnectorError::Rule { code: ErrorCode::InvalidValue, field: Some(f), .. } if f == "lineItems[0].materialKey"
    ));
    assert_eq!(mapped("record_not_found"), ConnectorError::NotFound);
    for name in ["missing_mandatory_field", "transaction_id_of_wrong_type", "duplicate_idempotency_key"] {
        assert!(matches!(mapped(name), ConnectorError::Rule { code: ErrorCode::InvalidRequest, .. }), "{name}");
    }
    for name in ["unparseable_q_filter", "suiteql_unknown_identifier"] {
        assert!(matches!(mapped(name), ConnectorError::Upstream(_)), "{name}: a query of ours NetSuite did not take");
    }
    assert!(matches!(mapped("insufficient_permission"), ConnectorError::Forbidden(_)));
    assert!(matches!(mapped("concurrency_limit_exceeded"), ConnectorError::Unavailable { retry_after: Some(_), .. }));
    // Every scenario is one of these.
    assert_eq!(scenarios.len(), 10, "a new scenario in the dossier: map it here");
}

#[test]
fn suiteql_is_written_and_read_as_the_examples_show() {
    if !vendor::present("netsuite") {
        return;
    }
    // The example response: rows without their links, NULL columns absent, numbers as strings.
    let page = object("suiteql-response.json");
    for key in ["links", "count", "hasMore", "items", "offset", "totalResults"] {
        assert!(page.contains_key(key), "{key}");
    }
    let rows: Vec<Map<String, Value>> =
        page["items"].as_array().unwrap().iter().map(|r| r.as_object().cloned().unwrap()).collect();
    let after = mapping::PURCHASE_ORDERS.position(&rows[1]).unwrap();
    assert_eq!(after.to_string(), "c 2026-01-21 10:02:07 4712");
    assert_eq!(suiteql::text(&rows[1], "duedate"), None, "left out, not null");

    // The queries: the example's functions and formats, its type filter, its order.
    let example = json_after("suiteql-request.txt", "1. Purchase-order headers");
    let example = example["q"].as_str().unwrap();
    let since = chrono::DateTime::parse_from_rfc3339("2026-01-15T00:00:00Z").unwrap().to_utc();
    let ours = mapping::PURCHASE_ORDERS.feed(Some(since), None);
    for part in [
        "FROM transaction t WHERE t.type = 'PurchOrd' AND ",
        "t.lastmodifieddate >= TO_TIMESTAMP('2026-01-15 00:00:00', 'YYYY-MM-DD HH24:MI:SS')",
        "TO_CHAR(t.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified",
        "ORDER BY t.lastmodifieddate, t.id",
    ] {
        assert!(example.contains(part) && ours.contains(part), "{part}\n{example}\n{ours}");
    }
    // The reference tables select only columns the dossier lists for them (or marks assumed).
    let dossier = text("README.md");
    for entity in [Entity::Vendors, Entity::Materials, Entity::Sites, Entity::Locations] {
        let table = &mapping::feed(entity).unwrap().table;
        let tables = &dossier[dossier.find("### 3.3").expect("the dossier's section 3.3")..];
        let row = tables
            .lines()
            .find(|l| l.starts_with(&format!("| `{}`", table.name)))
            .unwrap_or_else(|| panic!("the dossier lists no {}", table.name));
        for column in table.columns {
            let listed = row.contains(&format!("`{column}`"));
            let assumed = assumed::COLUMNS.contains(&format!("{}.{column}", table.name).as_str());
            assert!(listed || assumed, "{}.{column} is neither in the dossier nor among the assumed", table.name);
        }
    }
}

#[test]
fn the_assertion_and_the_bodies_have_the_examples_shape() {
    if !vendor::present("netsuite") {
        return;
    }
    let key = std::fs::read_to_string(format!("{}/../../tests/fixtures/netsuite/p384.pem", env!("CARGO_MANIFEST_DIR")))
        .unwrap();
    let credentials = json!({"accountId": "1234567_SB1", "clientId": "c", "certificateId": "Yq7Wl3xK0bN2cQeR9tUv1A", "privateKey": key});
    let account = account::account(&Credentials(credentials.as_object().cloned().unwrap())).unwrap();
    let jwt = auth::assertion(&account, 1_767_225_600).unwrap();
    let decode = |part: &str| -> Map<String, Value> {
        use base64::Engine;
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let (header, claims) = (decode(parts[0]), decode(parts[1]));
    let keys = |m: &Map<String, Value>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&header), annotated_keys("token-request.txt", "Header (JSON, then base64url):"));
    assert_eq!(keys(&claims), annotated_keys("token-request.txt", "Payload (JSON, then base64url):"));
    let example_aud = "https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token";
    assert!(text("token-request.txt").contains(example_aud));
    assert_eq!(claims["aud"], example_aud, "the token URL of the account's domain");
    assert_eq!(header["alg"], "ES384");

    // A create uses the example's property names; closing a line is example C's body.
    let create: Record = serde_json::from_value(json!({
        "vendorKey": "321", "siteKey": "1", "locationKey": "5", "currencyKey": "1",
        "orderDate": "2026-01-20T00:00:00Z", "title": "Spare parts for pump overhaul",
        "customFields": {"custbody_external_ref": "MK-PO-2026-0042"},
        "lineItems": [{"materialKey": "880", "quantity": "10", "price": "24.00"}]
    }))
    .unwrap();
    let body = Value::Object(mapping::po_body(&create).unwrap());
    let example = json_after("record-writes.txt", "A. Create a purchase order");
    for (name, value) in body.as_object().unwrap() {
        let theirs = &example[name];
        assert!(!theirs.is_null(), "{name} is not in the example create");
        if name == "item" {
            let line = &value["items"][0];
            for field in line.as_object().unwrap().keys() {
                assert!(!theirs["items"][0][field].is_null(), "item.items[].{field}");
            }
        } else {
            assert_eq!(value, theirs, "{name}");
        }
    }
    let close: Record = serde_json::from_value(json!({"lineItems": [{"key": "2", "statusKey": "closed"}]})).unwrap();
    let example = json_after("record-writes.txt", "C. Update / close one existing line");
    assert_eq!(Value::Object(mapping::po_body(&close).unwrap()), example);
}
