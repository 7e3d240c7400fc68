//! Black-box tests of the data calls on a sandbox connection: every entity's reads, the
//! capabilities and their enforcement, the sandbox's business errors, and idempotent writes.

use millwright_blackbox::{Answer, Api, account, log_line};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const ENTITIES: [&str; 8] =
    ["purchase-orders", "work-orders", "assets", "materials", "inventories", "vendors", "sites", "locations"];
const DRAFT_PO: &str = "PO-4500000100";
const APPROVED_PO: &str = "PO-4500000102";
const COMPLETED_PO: &str = "PO-4500000103";

async fn sandbox() -> (Api, String) {
    let api = Api::new();
    let key = account(1);
    let (_, token) = api.connect_sandbox(&key, "sandbox-key").await;
    (api, token)
}

/// Every record of a list, walking the pages; asserts each page's size.
async fn walk(api: &Api, token: &str, query: &str, limit: usize) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("{query}{}limit={limit}", if query.contains('?') { "&" } else { "?" });
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page = api.get(&path, token).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        let data = page.body["data"].as_array().unwrap();
        assert!(data.len() <= limit);
        all.extend(data.iter().cloned());
        match page.body["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return all,
        }
    }
}

fn keys(records: &[Value]) -> Vec<String> {
    records.iter().map(|r| r["key"].as_str().unwrap().to_owned()).collect()
}

async fn write(api: &Api, token: &str, method: Method, path: &str, body: Option<Value>, key: Option<&str>) -> Answer {
    let body = body.map(|b| b.to_string());
    api.send(method, path, Some(token), body.as_deref(), key).await
}

#[tokio::test]
async fn every_entity_pages_filters_and_gets_by_key() {
    let (api, token) = sandbox().await;
    for entity in ENTITIES {
        let base = format!("/v1/{entity}");
        let whole = walk(&api, &token, &base, 500).await;
        assert!(!whole.is_empty(), "{entity}");
        let paged = walk(&api, &token, &base, 7).await;
        let k = keys(&paged);
        assert_eq!(k, keys(&whole), "{entity}: walking pages yields every record once, in order");
        assert_eq!(k.iter().collect::<BTreeSet<_>>().len(), k.len(), "{entity}: no duplicates");
        for r in &whole {
            for field in ["key", "updatedAt", "deletedAt", "customFields", "remoteData"] {
                assert!(r.get(field).is_some(), "{entity} record lacks {field}");
            }
        }

        let status = whole[whole.len() / 2]["statusKey"].as_str().unwrap().to_owned();
        let filtered = walk(&api, &token, &format!("{base}?status={status}"), 500).await;
        assert!(!filtered.is_empty() && filtered.iter().all(|r| r["statusKey"] == status.as_str()));
        let expected = whole.iter().filter(|r| r["statusKey"] == status.as_str()).count();
        assert_eq!(filtered.len(), expected, "{entity} status={status}");

        let mut times: Vec<&str> = whole.iter().map(|r| r["updatedAt"].as_str().unwrap()).collect();
        times.sort();
        let pivot = times[times.len() / 2];
        let newer = walk(&api, &token, &format!("{base}?modifiedAfter={pivot}"), 500).await;
        let expected: Vec<_> = whole.iter().filter(|r| r["updatedAt"].as_str().unwrap() > pivot).cloned().collect();
        assert_eq!(keys(&newer), keys(&expected), "{entity} modifiedAfter={pivot}");

        let one = api.get(&format!("{base}/{}", whole[0]["key"].as_str().unwrap()), &token).await;
        assert_eq!(one.body["data"], whole[0]);
        api.get(&format!("{base}/NO-SUCH-KEY"), &token).await.error(404, "NOT_FOUND");
    }
    let with_deleted = walk(&api, &token, "/v1/purchase-orders?includeDeleted=true", 500).await;
    let live = walk(&api, &token, "/v1/purchase-orders", 500).await;
    assert!(with_deleted.len() > live.len());
    assert!(with_deleted.iter().filter(|r| !r["deletedAt"].is_null()).count() == with_deleted.len() - live.len());
    api.get("/v1/purchase-orders?modifiedAfter=yesterday", &token).await.error(400, "INVALID_REQUEST");
    api.get("/v1/purchase-orders?includeDeleted=maybe", &token).await.error(400, "INVALID_REQUEST");
    api.get("/v1/no-such-entity", &token).await.error(404, "NOT_FOUND");
}

#[tokio::test]
async fn capabilities_and_statuses_are_machine_readable() {
    let (api, token) = sandbox().await;
    let caps = api.get("/v1/capabilities", &token).await;
    assert_eq!(caps.status, StatusCode::OK);
    assert_eq!(caps.body["system"], "sandbox");
    let entities = caps.body["entities"].as_array().unwrap();
    assert_eq!(entities.len(), 8);
    let po = entities.iter().find(|e| e["entity"] == "purchase-orders").unwrap();
    assert!(po["operations"].as_array().unwrap().contains(&json!("create")));
    assert!(po["creatable"].as_array().unwrap().contains(&json!({"field": "vendorKey", "required": true})));
    assert!(po["rules"].as_array().unwrap().iter().any(|r| r["kind"] == "frozen"));
    let sites = entities.iter().find(|e| e["entity"] == "sites").unwrap();
    assert_eq!(sites["operations"], json!(["list", "get"]));
    let statuses = api.get("/v1/statuses/purchase-orders", &token).await;
    let keys: Vec<_> = statuses.body["data"].as_array().unwrap().iter().map(|s| s["key"].clone()).collect();
    assert_eq!(
        keys,
        [json!("draft"), json!("pending_approval"), json!("approved"), json!("completed"), json!("cancelled")]
    );
    api.get("/v1/statuses/nothing", &token).await.error(404, "NOT_FOUND");
}

#[tokio::test]
async fn capabilities_are_enforced_before_the_system_is_called() {
    let (api, token) = sandbox().await;
    let po = |extra: Value| {
        let mut body = json!({"vendorKey": "V-1001", "siteKey": "SITE-NORTH", "currencyKey": "EUR",
                              "lineItems": [{"materialKey": "M-2001", "quantity": "4"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    // 405: the system cannot do this to this entity.
    write(&api, &token, Method::DELETE, "/v1/sites/SITE-NORTH", None, None).await.error(405, "OPERATION_NOT_SUPPORTED");
    write(&api, &token, Method::POST, "/v1/vendors", Some(json!({"name": "x"})), None)
        .await
        .error(405, "OPERATION_NOT_SUPPORTED");
    // 422: a field that cannot be set, on create and on update.
    let a = write(&api, &token, Method::POST, "/v1/purchase-orders", Some(po(json!({"orderNo": "X"}))), None).await;
    assert_eq!(a.error(422, "FIELD_NOT_UPDATABLE").body["error"]["details"][0]["field"], "orderNo");
    let path = format!("/v1/purchase-orders/{DRAFT_PO}");
    let a = write(&api, &token, Method::PATCH, &path, Some(json!({"vendorKey": "V-1002"})), None).await;
    assert_eq!(a.error(422, "FIELD_NOT_UPDATABLE").body["error"]["details"][0]["field"], "vendorKey");
    // 422: a state rule.
    let approved = format!("/v1/purchase-orders/{APPROVED_PO}");
    write(&api, &token, Method::PATCH, &approved, Some(json!({"title": "late change"})), None)
        .await
        .error(422, "INVALID_STATE");
    let status = format!("/v1/purchase-orders/{COMPLETED_PO}/status");
    write(&api, &token, Method::PUT, &status, Some(json!({"statusKey": "draft"})), None)
        .await
        .error(422, "INVALID_STATE");
    // 400: required fields, named by path.
    let a = write(
        &api,
        &token,
        Method::POST,
        "/v1/purchase-orders",
        Some(json!({"siteKey": "SITE-NORTH",
        "currencyKey": "EUR", "lineItems": [{"materialKey": "M-2001"}]})),
        None,
    )
    .await;
    let fields: Vec<_> = a.error(400, "INVALID_REQUEST").body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["vendorKey", "lineItems[0].quantity"]);
    let a = write(&api, &token, Method::POST, "/v1/purchase-orders", Some(po(json!({"dueAt": "soon"}))), None).await;
    assert_eq!(a.error(400, "INVALID_REQUEST").body["error"]["details"][0]["field"], "dueAt");
}

#[tokio::test]
async fn the_sandbox_refuses_like_an_erp_and_never_changes_its_data() {
    let (api, token) = sandbox().await;
    let order = |vendor: &str, material: &str| {
        json!({"vendorKey": vendor, "siteKey": "SITE-SOUTH", "currencyKey": "EUR", "title": "Spare parts",
               "lineItems": [{"materialKey": material, "quantity": "2", "price": "10.25"}]})
    };
    let post = |body: Value| write(&api, &token, Method::POST, "/v1/purchase-orders", Some(body), None);
    post(order("V-1999", "M-2001")).await.error(422, "INVALID_VENDOR");
    post(order("V-0000", "M-2001")).await.error(422, "INVALID_VENDOR");
    let a = post(order("V-1001", "M-2005")).await;
    assert_eq!(a.error(422, "OUT_OF_STOCK").body["error"]["details"][0]["field"], "lineItems[0].materialKey");

    let before = walk(&api, &token, "/v1/purchase-orders?includeDeleted=true", 500).await;
    let created = post(order("V-1001", "M-2001")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["data"]["totalNetValue"], "20.50");
    assert_eq!(created.body["data"]["statusKey"], "draft");
    let new_key = created.body["data"]["key"].as_str().unwrap();
    api.get(&format!("/v1/purchase-orders/{new_key}"), &token).await.error(404, "NOT_FOUND");

    let draft = format!("/v1/purchase-orders/{DRAFT_PO}");
    let updated = write(&api, &token, Method::PATCH, &draft, Some(json!({"title": "Renamed"})), None).await;
    assert_eq!((updated.status, &updated.body["data"]["title"]), (StatusCode::OK, &json!("Renamed")));
    let moved = write(
        &api,
        &token,
        Method::PUT,
        &format!("{draft}/status"),
        Some(json!({"statusKey": "pending_approval"})),
        None,
    )
    .await;
    assert_eq!(moved.body["data"]["statusKey"], "pending_approval");
    let deleted = write(&api, &token, Method::DELETE, &draft, None, None).await;
    assert!(deleted.body["data"]["deletedAt"].is_string());
    let work_order = json!({"title": "Replace seal", "siteKey": "SITE-NORTH", "assetKey": "A-3001"});
    let wo = write(&api, &token, Method::POST, "/v1/work-orders", Some(work_order), None).await;
    assert_eq!((wo.status, &wo.body["data"]["statusKey"]), (StatusCode::CREATED, &json!("open")));

    let after = walk(&api, &token, "/v1/purchase-orders?includeDeleted=true", 500).await;
    assert_eq!(after, before, "no sandbox write changes what a later read returns");
}

#[tokio::test]
async fn writes_are_idempotent_per_key() {
    let (api, token) = sandbox().await;
    let body = json!({"vendorKey": "V-1002", "siteKey": "SITE-PORT", "currencyKey": "EUR",
                      "lineItems": [{"materialKey": "M-2002", "quantity": "1"}]});
    let key = format!("order-{}", std::process::id());
    let first = write(&api, &token, Method::POST, "/v1/purchase-orders", Some(body.clone()), Some(&key)).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let again = write(&api, &token, Method::POST, "/v1/purchase-orders", Some(body.clone()), Some(&key)).await;
    assert_eq!((again.status, &again.body), (first.status, &first.body), "the retry answers the first response");
    assert_eq!(again.body["data"]["createdAt"], first.body["data"]["createdAt"]);
    let mut reused = body.clone();
    reused["lineItems"][0]["quantity"] = json!("2");
    write(&api, &token, Method::POST, "/v1/purchase-orders", Some(reused), Some(&key))
        .await
        .error(409, "IDEMPOTENCY_KEY_REUSED");

    let patch = format!("/v1/purchase-orders/{DRAFT_PO}");
    let p1 = write(&api, &token, Method::PATCH, &patch, Some(json!({"notes": "n"})), Some("patch-1")).await;
    let p2 = write(&api, &token, Method::PATCH, &patch, Some(json!({"notes": "n"})), Some("patch-1")).await;
    assert_eq!(p1.body, p2.body);

    // Keys are per connection: the body that is a reuse on the first connection is new on another.
    let (_, token_b) = sandbox().await;
    let mut other = body;
    other["lineItems"][0]["quantity"] = json!("2");
    let b = write(&api, &token_b, Method::POST, "/v1/purchase-orders", Some(other), Some(&key)).await;
    assert_eq!(b.status, StatusCode::CREATED, "{}", b.body);
    assert_eq!(b.body["data"]["lineItems"][0]["quantity"], "2");
}

#[tokio::test]
async fn reads_cost_at_most_two_aws_calls() {
    let (api, token) = sandbox().await;
    let mut ids = Vec::new();
    for path in ["/v1/purchase-orders?limit=50", &format!("/v1/purchase-orders/{DRAFT_PO}"), "/v1/assets?status=down"] {
        let a = api.get(path, &token).await;
        assert_eq!(a.status, StatusCode::OK);
        ids.push((path.to_owned(), a.request_id));
    }
    // The functions log each request with the AWS calls it made.
    for (path, id) in ids {
        let line = log_line(&id).await;
        let calls = line["fields"]["aws_calls"].as_u64().unwrap();
        println!("GET {path}: {calls} AWS call(s)");
        assert!((1..=2).contains(&calls), "GET {path} made {calls} AWS calls");
    }
}
