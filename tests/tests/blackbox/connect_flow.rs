//! The hosted connect flow, as a user's customer walks it in a real browser: a connect session
//! made through the API, its page, the system's refusal, the connection, the redirect, and the
//! token the user's backend fetches once.

use aws_sdk_dynamodb::types::AttributeValue;
use millwright_blackbox::{Api, StandIn, account, demo_connection, env, wait_for};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;

use crate::browser::Browser;

/// Where the customer's browser is sent after connecting: any page the test run serves.
fn redirect_url() -> String {
    format!("{}/health", env("MILLWRIGHT_RECEIVER_URL"))
}

/// Makes a connect session; answers its id and URL.
async fn session(api: &Api, key: &str, body: Value) -> (String, String) {
    let a = api.post("/v1/connect-sessions", key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let url = a.body["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&env("MILLWRIGHT_API_URL")), "{url}");
    (a.body["id"].as_str().unwrap().to_owned(), url)
}

/// The connection id and session id the browser was redirected with.
async fn redirected(browser: &Browser) -> (String, String) {
    let url = wait_for("the redirect", Duration::from_millis(100), || async {
        let url = browser.url().await;
        if url.as_str().starts_with(&redirect_url()) { Ok(url) } else { Err(url.to_string()) }
    })
    .await;
    let param = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap();
    (param("connectionId"), param("sessionId"))
}

/// The connections of an account.
async fn connections(api: &Api, key: &str) -> Vec<Value> {
    api.get("/v1/connections", key).await.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_customer_connects_the_sandbox_through_a_connect_link_and_the_backend_fetches_the_token_once() {
    let api = Api::new();
    let key = account(5);
    let body = json!({"systems": ["sandbox"], "redirectUrl": redirect_url(), "externalId": "customer-42"});
    let (id, url) = session(&api, &key, body).await;
    assert!(!url.contains(&key));

    let browser = Browser::open().await;
    browser.goto(&url).await;
    // One system offered: its fields and its guide at once.
    assert_eq!(browser.heading().await, "Connect Millwright Sandbox");
    browser.accessible("the connect form").await;
    browser.fits_a_phone("the connect form").await;
    browser.screenshot("connect-form").await;

    // The system refuses: its reason is on the page, and nothing is connected.
    browser.fill("input[name='cred.apiKey']", "invalid").await;
    browser.click("button[type=submit]").await;
    let refused = browser.find("[role=alert]").await.text().await.unwrap();
    assert!(refused.contains("Millwright Sandbox refused the credentials"), "{refused}");
    assert_eq!(browser.find("input[name='cred.apiKey']").await.attr("value").await.unwrap(), None, "never echoed");
    browser.accessible("the connect form with the system's refusal").await;
    browser.screenshot("connect-refused").await;
    assert!(connections(&api, &key).await.is_empty());
    let seen = api.get(&format!("/v1/connect-sessions/{id}"), &key).await;
    assert_eq!(seen.body["connectSession"]["attempts"], 1, "{}", seen.body);
    assert_eq!(seen.body["connectSession"]["status"], "pending");
    assert!(seen.body["connectSession"]["lastError"]["message"].is_string(), "the session records why");

    // A good key: connected, and the browser is sent on with the ids.
    browser.fill("input[name='cred.apiKey']", "sandbox-key").await;
    browser.find("button[type=submit]").await.click().await.unwrap();
    let (connection, session_id) = redirected(&browser).await;
    assert_eq!(session_id, id);
    let listed = connections(&api, &key).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], connection.as_str());
    assert_eq!(listed[0]["metadata"]["externalId"], "customer-42");
    let events = crate::stored::events_of(&connection).await;
    assert!(events.contains(&"connection.created".to_owned()), "{events:?}");
    assert!(!browser.driver.source().await.unwrap().contains("mw_test_"), "no token in the browser");

    // The backend fetches the token once; it reads data; a second fetch is 409.
    let fetched = api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    let token = fetched.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mw_test_"));
    assert_eq!(fetched.body["connection"]["id"], connection.as_str());
    let read = api.get("/v1/work-orders?limit=1", &token).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.body);
    api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await.error(409, "CONFLICT");

    // The link is spent: a clear page, and nothing more is made.
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "This link has been used");
    browser.accessible("a used link").await;
    assert_eq!(connections(&api, &key).await.len(), 1);

    // Another account sees no such session.
    let stranger = account(1);
    api.get(&format!("/v1/connect-sessions/{id}"), &stranger).await.error(404, "NOT_FOUND");
    api.post(&format!("/v1/connect-sessions/{id}/token"), &stranger, json!({})).await.error(404, "NOT_FOUND");
    browser.close().await;
}

#[tokio::test]
async fn the_sap_standin_connects_through_a_connect_link_with_its_demo_credentials() {
    let api = Api::new();
    let key = account(10);
    let demo = demo_connection("sap_s4hana", "connect-page");
    let body = json!({"systems": ["sandbox", "sap_s4hana"], "deployment": "cloud", "redirectUrl": redirect_url()});
    let (id, url) = session(&api, &key, body).await;

    let browser = Browser::open().await;
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "Connect your system");
    browser.accessible("the system picker").await;
    browser.screenshot("connect-picker").await;
    browser.click("a.choice[href*='system=sap_s4hana']").await;
    assert_eq!(browser.heading().await, "Connect SAP S/4HANA");
    let page = browser.text().await;
    assert!(page.contains("communication user"), "the setup guide: {page}");
    for (name, value) in demo["credentials"].as_object().unwrap() {
        browser.fill(&format!("input[name='cred.{name}']"), value.as_str().unwrap()).await;
    }
    browser.find("button[type=submit]").await.click().await.unwrap();
    let (connection, _) = redirected(&browser).await;
    let fetched = api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    let token = fetched.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("mw_conn_"));
    let charged = api.credits(&key).await;
    assert_eq!(charged["used"], 4, "{charged}");
    // Its first sync fills the copy the token reads.
    let records = wait_for("purchase orders synced", Duration::from_millis(500), || async {
        let a = api.get("/v1/purchase-orders?limit=5", &token).await;
        match a.body["data"].as_array() {
            Some(list) if !list.is_empty() => Ok(list.len()),
            _ => Err(a.body.to_string()),
        }
    })
    .await;
    assert!(records > 0);
    assert_eq!(connections(&api, &key).await[0]["id"], connection.as_str());

    // Used again: a clear page, nothing made.
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "This link has been used");
    assert_eq!(connections(&api, &key).await.len(), 1);
    browser.close().await;
}

#[tokio::test]
async fn netsuite_connects_through_a_connect_link_with_its_private_key_pasted_into_the_form() {
    let (api, key) = (Api::new(), account(4));
    let mut demo = demo_connection("netsuite", &user("NSP"));
    // Pasted into a one-line field, the PEM loses its line breaks (typed, a break would submit).
    let pasted = demo["credentials"]["privateKey"].as_str().unwrap().replace('\n', "");
    demo["credentials"]["privateKey"] = json!(pasted);
    let (id, url) = session(&api, &key, json!({"systems": ["netsuite"], "redirectUrl": redirect_url()})).await;
    let browser = Browser::open().await;
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "Connect Oracle NetSuite");
    let page = browser.text().await;
    assert!(page.contains("Client Credentials (Machine To Machine)") && page.contains("Certificate ID"), "{page}");
    browser.accessible("the NetSuite form").await;
    submit_credentials(&browser, &demo).await;
    let (connection, session_id) = redirected(&browser).await;
    assert_eq!(session_id, id);
    let fetched = api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await;
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(api.credits(&key).await["used"], 2, "tier 2");
    assert_eq!(connections(&api, &key).await[0]["id"], connection.as_str());
    browser.close().await;
}

#[tokio::test]
async fn an_expired_link_shows_a_clear_page_and_connects_nothing() {
    let api = Api::new();
    let key = account(5);
    let (id, url) = session(&api, &key, json!({"systems": ["sandbox"]})).await;
    let browser = Browser::open().await;
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "Connect Millwright Sandbox");
    browser.fill("input[name='cred.apiKey']", "sandbox-key").await;

    // The session's time runs out while the form is open (moved into the past in the table).
    let dynamo = aws_sdk_dynamodb::Client::new(&crate::local_aws().await);
    dynamo
        .update_item()
        .table_name(env("SESSIONS_TABLE"))
        .key("id", AttributeValue::S(id.clone()))
        .update_expression("SET expiresAt = :past")
        .expression_attribute_values(":past", AttributeValue::S("2020-01-01T00:00:00Z".into()))
        .send()
        .await
        .unwrap();
    browser.click("button[type=submit]").await;
    assert_eq!(browser.heading().await, "This link has expired");
    browser.accessible("an expired link").await;
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "This link has expired");
    assert!(connections(&api, &key).await.is_empty());
    api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await.error(409, "CONFLICT");

    // A made-up or altered link is not a session.
    let altered = if url.ends_with('0') { '1' } else { '0' };
    browser.goto(&format!("{}{altered}", &url[..url.len() - 1])).await;
    assert_eq!(browser.heading().await, "This link is not valid");
    browser.close().await;
}

#[tokio::test]
async fn connect_sessions_refuse_bad_requests_by_field() {
    let api = Api::new();
    let key = account(1);
    let refused = |body: Value, field: &'static str| {
        let (api, key) = (&api, &key);
        async move {
            let a = api.post("/v1/connect-sessions", key, body).await;
            a.error(400, "INVALID_REQUEST");
            assert_eq!(a.body["error"]["details"][0]["field"], field, "{}", a.body);
        }
    };
    refused(json!({"systems": ["spaceship"]}), "systems[0]").await;
    refused(json!({"systems": []}), "systems").await;
    refused(json!({"systems": ["sap_ecc"], "deployment": "cloud"}), "systems[0]").await;
    refused(json!({"redirectUrl": "javascript:alert(1)"}), "redirectUrl").await;
    refused(json!({"expiresInMinutes": 0}), "expiresInMinutes").await;
    refused(json!({"connectionId": "conn_nope"}), "connectionId").await;
    refused(json!({"externalId": ""}), "externalId").await;
    refused(json!({"settings": {"syncIntervalMinutes": 0}}), "settings.syncIntervalMinutes").await;
    api.post("/v1/connect-sessions", &key, json!({"color": "red"})).await.error(400, "INVALID_REQUEST");
    // Defaults: every system that can be connected, for 30 minutes.
    let a = api.post("/v1/connect-sessions", &key, json!({})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    let seen = api.get(&format!("/v1/connect-sessions/{id}"), &key).await.body["connectSession"].clone();
    let systems: Vec<&str> = seen["systems"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(systems.contains(&"sandbox") && systems.contains(&"sap_s4hana"), "{seen}");
    let created = chrono::DateTime::parse_from_rfc3339(seen["createdAt"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(seen["expiresAt"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_minutes(), 30);
    assert!(seen.get("secretDigest").is_none() && !seen.to_string().contains(a.body["url"].as_str().unwrap()));
}

#[tokio::test]
async fn the_connect_page_carries_the_vendors_branding_and_only_its_origins_may_frame_it() {
    let api = Api::new();
    let key = account(1);
    let http = millwright_blackbox::client();
    let (_, url) = session(&api, &key, json!({"systems": ["sandbox"]})).await;
    let plain = http.get(&url).send().await.unwrap();
    let policy = plain.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("frame-ancestors 'none'") && policy.contains("default-src 'none'"), "{policy}");
    assert!(!plain.text().await.unwrap().contains("brand-bar"), "no branding by default");

    let branding = json!({
        "name": "Acme Maintenance", "logoUrl": "https://cdn.acme.example/logo.svg",
        "accentColor": "#0A7D55", "allowedOrigins": ["https://app.acme.example/"],
    });
    let set = api.call(reqwest::Method::PUT, "/v1/account/branding", Some(&key), Some(&branding.to_string())).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.body["branding"]["allowedOrigins"], json!(["https://app.acme.example"]));
    assert_eq!(set.body["branding"]["accentColor"], "#0a7d55");
    assert_eq!(api.get("/v1/account", &key).await.body["account"]["branding"], set.body["branding"]);

    let branded = http.get(&url).send().await.unwrap();
    let policy = branded.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("frame-ancestors https://app.acme.example"), "{policy}");
    let page = branded.text().await.unwrap();
    assert!(page.contains("Acme Maintenance") && page.contains("https://cdn.acme.example/logo.svg"), "{page}");
    assert!(page.contains("/dashboard/assets/accent/0a7d55.css"), "{page}");
    let css =
        http.get(format!("{}/dashboard/assets/accent/0a7d55.css", env("MILLWRIGHT_API_URL"))).send().await.unwrap();
    assert!(css.text().await.unwrap().contains("--accent: #0a7d55"));

    for (bad, field) in [
        (json!({"accentColor": "red"}), "accentColor"),
        (json!({"allowedOrigins": ["*"]}), "allowedOrigins[0]"),
        (json!({"logoUrl": "http://cdn.acme.example/logo.svg"}), "logoUrl"),
    ] {
        let a = api.call(reqwest::Method::PUT, "/v1/account/branding", Some(&key), Some(&bad.to_string())).await;
        a.error(400, "INVALID_REQUEST");
        assert_eq!(a.body["error"]["details"][0]["field"], field, "{}", a.body);
    }
    assert_eq!(api.get("/v1/account", &key).await.body["account"]["branding"], set.body["branding"], "unchanged");
}

/// A stand-in user of this test run's own.
fn user(prefix: &str) -> String {
    format!("{prefix}{}", &ulid::Ulid::new().to_string()[16..])
}

/// Fills the connect form with a connect body's credentials and submits it.
async fn submit_credentials(browser: &Browser, body: &Value) {
    for (name, value) in body["credentials"].as_object().unwrap() {
        browser.fill(&format!("input[name='cred.{name}']"), value.as_str().unwrap()).await;
    }
    browser.find("button[type=submit]").await.click().await.unwrap();
}

#[tokio::test]
async fn a_reauthentication_link_replaces_a_connections_credentials_and_keeps_its_token() {
    let (api, key, sap) = (Api::new(), account(4), StandIn::of("sap_s4hana"));
    let (before, after) = (user("RA"), user("RB"));
    let made = api.post("/v1/connections", &key, demo_connection("sap_s4hana", &before)).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let connection = made.body["connection"]["id"].as_str().unwrap().to_owned();
    let token = made.body["token"].as_str().unwrap().to_owned();
    let mixed = json!({"connectionId": connection, "systems": ["sap_s4hana"]});
    api.post("/v1/connect-sessions", &key, mixed).await.error(400, "INVALID_REQUEST");
    let (id, url) = session(&api, &key, json!({"connectionId": connection, "redirectUrl": redirect_url()})).await;

    let browser = Browser::open().await;
    browser.goto(&url).await;
    assert_eq!(browser.heading().await, "Reconnect SAP S/4HANA");
    submit_credentials(&browser, &demo_connection("sap_s4hana", &after)).await;
    let (redirected_to, _) = redirected(&browser).await;
    assert_eq!(redirected_to, connection);
    browser.close().await;

    // Same connection, same token, no new credits; its calls now sign in as the new user.
    assert_eq!(connections(&api, &key).await.len(), 1);
    assert_eq!(api.credits(&key).await["used"], 4);
    sap.clear(&after).await;
    let a = api.post("/v1/syncs", &token, json!({"entities": ["purchase-orders"]})).await;
    assert_eq!(a.status, StatusCode::ACCEPTED, "{}", a.body);
    let (_, run) = millwright_blackbox::follow(&api, &token, a.body["syncs"][0]["id"].as_str().unwrap()).await;
    assert_eq!(run["status"], "succeeded", "{run}");
    assert!(!sap.requests(&after).await.is_empty(), "the sync signed in with the new credentials");
    let seen = api.get(&format!("/v1/connect-sessions/{id}"), &key).await.body["connectSession"].clone();
    assert_eq!((seen["status"].as_str(), seen["reauthenticate"].as_bool()), (Some("completed"), Some(true)));
    api.post(&format!("/v1/connect-sessions/{id}/token"), &key, json!({})).await.error(409, "CONFLICT");
}

#[tokio::test]
async fn a_connect_page_opened_as_a_popup_tells_its_opener() {
    let api = Api::new();
    let key = account(1);
    let (id, url) = session(&api, &key, json!({"systems": ["sandbox"], "redirectUrl": redirect_url()})).await;
    let browser = Browser::open().await;
    // The vendor's page (any page of the redirect URL's origin) opens the link as a popup.
    browser.goto(&redirect_url()).await;
    let opener = browser.driver.window().await.unwrap();
    let listen = "window.received = []; window.addEventListener('message', e => window.received.push(\
                  {origin: e.origin, data: e.data})); window.open(arguments[0], 'connect', 'popup');";
    browser.driver.execute(listen, vec![json!(url)]).await.unwrap();
    let popup = wait_for("the popup", Duration::from_millis(100), || async {
        let windows = browser.driver.windows().await.unwrap();
        windows.into_iter().find(|w| *w != opener).ok_or_else(|| "one window".to_owned())
    })
    .await;
    browser.driver.switch_to_window(popup).await.unwrap();
    assert_eq!(browser.heading().await, "Connect Millwright Sandbox");
    browser.fill("input[name='cred.apiKey']", "popup-key").await;
    browser.find("button[type=submit]").await.click().await.unwrap();
    browser.driver.switch_to_window(opener).await.unwrap();
    let received = wait_for("the opener's message", Duration::from_millis(100), || async {
        let got = browser.driver.execute("return window.received;", Vec::<Value>::new()).await.unwrap();
        let list = got.json().as_array().cloned().unwrap_or_default();
        list.first().cloned().ok_or_else(|| "nothing yet".to_owned())
    })
    .await;
    browser.close().await;
    assert_eq!(received["data"]["type"], "millwright.connected", "{received}");
    assert_eq!(received["data"]["sessionId"], id.as_str());
    assert_eq!(received["origin"], env("MILLWRIGHT_API_URL"));
    let connection = connections(&api, &key).await[0]["id"].clone();
    assert_eq!(received["data"]["connectionId"], connection);
}

/// The CSRF token in a page's form.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    page[at..at + 64].to_owned()
}

#[tokio::test]
async fn too_few_credits_show_the_customer_a_clear_page_and_the_session_records_why() {
    let api = Api::new();
    let key = account(1);
    let http = millwright_blackbox::client();
    let (id, url) = session(&api, &key, json!({"systems": ["sap_s4hana"], "deployment": "cloud"})).await;
    let form = http.get(&url).send().await.unwrap().text().await.unwrap();
    let body = demo_connection("sap_s4hana", &user("NC"));
    let mut fields = vec![
        ("csrf".to_owned(), csrf_of(&form)),
        ("system".to_owned(), "sap_s4hana".to_owned()),
        ("deployment".to_owned(), "cloud".to_owned()),
    ];
    for (name, value) in body["credentials"].as_object().unwrap() {
        fields.push((format!("cred.{name}"), value.as_str().unwrap().to_owned()));
    }
    let answer = http.post(&url).form(&fields).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::PAYMENT_REQUIRED);
    let page = answer.text().await.unwrap();
    assert!(
        page.contains("could not be completed") && page.contains("contact the team that sent you this link"),
        "{page}"
    );
    assert!(!page.contains("credit") && !page.contains(body["credentials"]["password"].as_str().unwrap()), "{page}");
    let seen = api.get(&format!("/v1/connect-sessions/{id}"), &key).await.body["connectSession"].clone();
    assert_eq!(seen["lastError"]["code"], "INSUFFICIENT_CREDITS", "{seen}");
    assert_eq!(seen["status"], "pending");
    assert!(connections(&api, &key).await.is_empty());
    assert_eq!(api.credits(&key).await["used"], 0);

    // A forged form changes nothing either.
    fields[0].1 = "0".repeat(64);
    let forged = http.post(&url).form(&fields).send().await.unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let seen = api.get(&format!("/v1/connect-sessions/{id}"), &key).await.body["connectSession"].clone();
    assert_eq!(seen["attempts"], 1, "{seen}");
}
