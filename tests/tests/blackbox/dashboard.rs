//! The dashboard, as a platform team uses it in a real browser — sign in, find a connection,
//! Sync now, Disconnect, redeliver a webhook — with the API agreeing; and what it refuses:
//! other accounts' ids, forged forms, oversized or malformed input.

use millwright_blackbox::{Api, account, client, demo_connection, env, wait_for};
use reqwest::{StatusCode, header};
use serde_json::json;
use std::time::Duration;

use crate::{browser::Browser, webhooks::Receiver};

/// Connects the SAP stand-in on an account (4 credits) with an external id; answers the
/// connection id and its token.
async fn sap(api: &Api, key: &str, user: &str) -> (String, String) {
    let mut body = demo_connection("sap_s4hana", user);
    body["metadata"] = json!({"externalId": user});
    let a = api.post("/v1/connections", key, body).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    (a.body["connection"]["id"].as_str().unwrap().to_owned(), a.body["token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_dashboard_syncs_a_connection_and_disconnects_it_and_the_api_agrees() {
    let api = Api::new();
    let key = account(10);
    let user = format!("dash-{}", ulid::Ulid::new().to_string().to_lowercase());
    let (connection, token) = sap(&api, &key, &user).await;

    let browser = Browser::open().await;
    browser.goto("/dashboard/sign-in").await;
    browser.accessible("sign-in").await;
    browser.screenshot("dashboard-sign-in").await;
    browser.sign_in(&key).await;
    assert_eq!(browser.find("#credits-used").await.text().await.unwrap(), "4");
    assert_eq!(browser.find("#credits-available").await.text().await.unwrap(), "6");
    browser.accessible("the overview").await;
    browser.screenshot("dashboard-overview").await;

    // Find it by its external id.
    browser.click("a[href='/dashboard/connections']").await;
    browser.fill("#q", &user).await;
    browser.click(".filters button[type=submit]").await;
    browser.accessible("the connections list").await;
    browser.screenshot("dashboard-connections").await;
    browser.click(&format!("a[href='/dashboard/connections/{connection}']")).await;
    assert!(browser.text().await.contains(&connection));

    // Sync now, full, one entity; the page shows the run until it finishes.
    let runs_before = browser.driver.find_all(thirtyfour::By::Css("tr.run")).await.unwrap().len();
    browser.find("#entity option[value='purchase-orders']").await.click().await.unwrap();
    browser.find("input[name=mode][value=full]").await.click().await.unwrap();
    browser.click("form[action$='/sync'] button[type=submit]").await;
    let runs = browser.driver.find_all(thirtyfour::By::Css("tr.run")).await.unwrap();
    assert_eq!(runs.len(), runs_before + 1, "one more run");
    let newest = runs[0].text().await.unwrap();
    assert!(newest.contains("purchase-orders") && newest.contains("full"), "{newest}");
    wait_for("the run to succeed on the page", Duration::from_millis(500), || async {
        browser.driver.refresh().await.unwrap();
        let first = browser.find("tr.run").await;
        match first.attr("data-status").await.unwrap().as_deref() {
            Some("succeeded") => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    // The data browser shows what the runs stored.
    browser.click("a[href$='?entity=purchase-orders']").await;
    let records = browser.driver.find_all(thirtyfour::By::Css("tr.record")).await.unwrap();
    assert!(!records.is_empty(), "synced purchase orders on the page");
    browser.accessible("a connection's page").await;
    browser.fits_a_phone("a connection's page").await;
    browser.screenshot("dashboard-connection").await;
    let api_runs = api.get("/v1/syncs", &token).await;
    let manual = api_runs.body["data"].as_array().unwrap().iter().find(|r| r["trigger"] == "manual").cloned();
    let manual = manual.unwrap_or_else(|| panic!("the API lists the manual run: {}", api_runs.body));
    assert_eq!((manual["status"].as_str(), manual["mode"].as_str()), (Some("succeeded"), Some("full")));

    // Rotate the token: the new one is shown once (with a Copy button), the old one is dead.
    browser.click("form[action$='/token'] button[type=submit]").await;
    let rotated = browser.find("#token").await.attr("value").await.unwrap().unwrap();
    assert!(rotated.starts_with("mw_conn_") && rotated != token);
    assert!(browser.find("button[data-copy=token]").await.is_displayed().await.unwrap(), "copy.js ran");
    browser.accessible("a token shown once").await;
    api.get("/v1/purchase-orders?limit=1", &token).await.error(401, "AUTHENTICATION_FAILED");
    assert_eq!(api.get("/v1/purchase-orders?limit=1", &rotated).await.status, StatusCode::OK);
    let token = rotated;

    // Disconnect, confirmed: the credits come back, and the API agrees.
    browser.click("a[href$='/disconnect']").await;
    browser.accessible("the disconnect confirmation").await;
    browser.click("form[action$='/disconnect'] button[type=submit]").await;
    let said = browser.find("[role=status]").await.text().await.unwrap();
    assert!(said.contains("4 credits returned") && said.contains("10 available now"), "{said}");
    let credits = api.credits(&key).await;
    assert_eq!((credits["used"].as_u64(), credits["available"].as_u64()), (Some(0), Some(10)), "{credits}");
    api.get("/v1/purchase-orders?limit=1", &token).await.error(401, "AUTHENTICATION_FAILED");
    let seen = api.get(&format!("/v1/connections/{connection}"), &key).await;
    assert_eq!(seen.body["connection"]["status"], "disconnected");

    // Signed out, the pages are behind the sign-in again.
    browser.click("header form button[type=submit]").await;
    assert_eq!(browser.heading().await, "Sign in to Millwright");
    browser.goto(&format!("/dashboard/connections/{connection}")).await;
    assert_eq!(browser.heading().await, "Sign in to Millwright");
    browser.close().await;
}

#[tokio::test]
async fn a_failed_delivery_is_redelivered_from_the_dashboard_and_its_new_attempt_shows() {
    let api = Api::new();
    let key = account(5);
    let receiver = Receiver::new();
    let (_, gone) = receiver.hook("gone");
    let (_, ok) = receiver.hook("ok");
    let made = api.post("/v1/webhook-endpoints", &key, json!({"url": gone})).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let endpoint = made.body["webhookEndpoint"]["id"].as_str().unwrap().to_owned();
    api.connect_sandbox(&key, "redeliver").await;
    // The receiver answers 410: the delivery fails and the endpoint is disabled.
    let failed = wait_for("the failed delivery", Duration::from_millis(250), || async {
        let a = api.get(&format!("/v1/webhook-endpoints/{endpoint}/deliveries"), &key).await;
        let list = a.body["data"].as_array().cloned().unwrap_or_default();
        list.into_iter().find(|d| d["status"] == "failed").ok_or_else(|| a.body.to_string())
    })
    .await;
    let delivery = failed["id"].as_str().unwrap().to_owned();

    let browser = Browser::open().await;
    browser.sign_in(&key).await;
    browser.click("a[href='/dashboard/connect-links']").await;
    browser.accessible("the connect links form").await;

    // The connect page's branding, from the dashboard's settings.
    browser.click("a[href='/dashboard/settings']").await;
    browser.fill("#name", "Acme Maintenance").await;
    browser.fill("#accentColor", "#0A7D55").await;
    browser.fill("#allowedOrigins", "https://app.acme.example").await;
    browser.click("form[action='/dashboard/settings'] button[type=submit]").await;
    assert!(browser.find("[role=status]").await.text().await.unwrap().contains("Saved"));
    browser.accessible("the settings").await;
    let branding = api.get("/v1/account", &key).await.body["account"]["branding"].clone();
    assert_eq!(branding["accentColor"], "#0a7d55", "{branding}");
    assert_eq!(branding["allowedOrigins"], json!(["https://app.acme.example"]));
    browser.fill("#accentColor", "teal").await;
    browser.click("form[action='/dashboard/settings'] button[type=submit]").await;
    assert!(browser.find("[role=alert]").await.text().await.unwrap().contains("#rrggbb"));
    assert_eq!(api.get("/v1/account", &key).await.body["account"]["branding"], branding, "unchanged");
    browser.click("a[href='/dashboard/webhooks']").await;
    browser.accessible("the webhook endpoints").await;
    browser.click(&format!("a[href='/dashboard/webhooks/{endpoint}']")).await;
    let row = browser.find(&format!("tr[id='{delivery}']")).await.text().await.unwrap();
    assert!(row.contains("failed") && row.contains("HTTP 410"), "{row}");
    browser.accessible("an endpoint's deliveries").await;
    browser.screenshot("dashboard-webhook").await;

    // Point it at a working receiver, enable it, and redeliver.
    browser.fill("#url", &ok).await;
    browser.find("#state option[value=enabled]").await.click().await.unwrap();
    browser.click("form[action$='/edit'] button[type=submit]").await;
    browser.click(&format!("form[action$='/deliveries/{delivery}/redeliver'] button")).await;
    let attempts = wait_for("the new attempt on the page", Duration::from_millis(500), || async {
        browser.driver.refresh().await.unwrap();
        let row = browser.find(&format!("tr[id='{delivery}']")).await;
        let attempts = row.find_all(thirtyfour::By::Css("li.attempt")).await.unwrap();
        let mut texts = Vec::new();
        for a in &attempts {
            texts.push(a.text().await.unwrap());
        }
        if texts.len() == 2 && texts[1].contains("HTTP 200") { Ok(texts) } else { Err(format!("{texts:?}")) }
    })
    .await;
    assert!(attempts[0].contains("HTTP 410"), "{attempts:?}");
    let seen = api.get(&format!("/v1/webhook-endpoints/{endpoint}/deliveries"), &key).await;
    let listed = seen.body["data"].as_array().unwrap().iter().find(|d| d["id"] == delivery.as_str()).cloned().unwrap();
    assert_eq!(listed["status"], "succeeded", "{listed}");
    browser.close().await;
}

#[tokio::test]
async fn another_accounts_ids_in_dashboard_urls_answer_404() {
    let api = Api::new();
    let owner = account(10);
    let (connection, _) = api.connect_sandbox(&owner, "private").await;
    let made = api.post("/v1/webhook-endpoints", &owner, json!({"url": Receiver::new().hook("ok").1})).await;
    let endpoint = made.body["webhookEndpoint"]["id"].as_str().unwrap().to_owned();

    let stranger = account(1);
    let browser = Browser::open().await;
    browser.sign_in(&stranger).await;
    for path in [
        format!("/dashboard/connections/{connection}"),
        format!("/dashboard/connections/{connection}/disconnect"),
        format!("/dashboard/webhooks/{endpoint}"),
        "/dashboard/no-such-page".to_owned(),
    ] {
        browser.goto(&path).await;
        assert_eq!(browser.heading().await, "Not found", "{path}");
    }
    browser.accessible("a 404 page").await;
    browser.close().await;

    // Submitted as the stranger, with its own valid form token: still 404, nothing changed.
    let signed = Signed::sign_in(&stranger).await;
    let a = signed.post(&format!("/dashboard/connections/{connection}/disconnect"), &[]).await;
    assert_eq!(a.0, StatusCode::NOT_FOUND);
    assert_eq!(api.get(&format!("/v1/connections/{connection}"), &owner).await.body["connection"]["status"], "active");
}

/// A dashboard session driven over plain HTTP, for what a browser would never send.
struct Signed {
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

/// The value of a page's first CSRF field.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + 64].to_owned()
}

/// A cookie's value from a response's Set-Cookie headers.
fn set_cookie(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';')?;
        let (n, value) = pair.split_once('=')?;
        (n == name && !value.is_empty()).then(|| value.to_owned())
    })
}

impl Signed {
    async fn sign_in(key: &str) -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let base = env("MILLWRIGHT_API_URL");
        let page = http.get(format!("{base}/dashboard/sign-in")).send().await.unwrap();
        let form_cookie = set_cookie(&page, "__Host-mw_form").expect("the sign-in form's cookie");
        let csrf = csrf_of(&page.text().await.unwrap());
        let signed = http
            .post(format!("{base}/dashboard/sign-in"))
            .header(header::COOKIE, format!("__Host-mw_form={form_cookie}"))
            .form(&[("csrf", csrf.as_str()), ("key", key)])
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), StatusCode::SEE_OTHER);
        let session = set_cookie(&signed, "__Host-mw_session").expect("a session cookie");
        let cookie = format!("__Host-mw_session={session}");
        let overview = http.get(format!("{base}/dashboard")).header(header::COOKIE, &cookie).send().await.unwrap();
        let csrf = csrf_of(&overview.text().await.unwrap());
        Self { http, cookie, csrf }
    }

    async fn post_raw(&self, path: &str, body: String) -> (StatusCode, String) {
        let a = self
            .http
            .post(format!("{}{path}", env("MILLWRIGHT_API_URL")))
            .header(header::COOKIE, &self.cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(a.status().as_u16() < 500, "{path}: {}", a.status());
        (a.status(), a.text().await.unwrap())
    }

    /// POSTs a form with this session's CSRF token and the fields.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, serde_urlencoded_form(&all)).await
    }
}

fn serde_urlencoded_form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish()
}

#[tokio::test]
async fn forged_oversized_and_malformed_forms_change_nothing() {
    let api = Api::new();
    let key = account(10);
    let user = format!("forms-{}", ulid::Ulid::new().to_string().to_lowercase());
    let (connection, token) = sap(&api, &key, &user).await;
    let signed = Signed::sign_in(&key).await;
    let disconnect = format!("/dashboard/connections/{connection}/disconnect");

    // No token, a forged one, another session's: 403, and the connection lives on.
    let (status, page) = signed.post_raw(&disconnect, String::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{page}");
    assert!(page.contains("did not come from this site"), "{page}");
    let (status, _) = signed.post_raw(&disconnect, format!("csrf={}", "0".repeat(64))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = Signed::sign_in(&key).await;
    let (status, _) = signed.post_raw(&disconnect, format!("csrf={}", other.csrf)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = client()
        .post(format!("{}{disconnect}", env("MILLWRIGHT_API_URL")))
        .form(&[("csrf", signed.csrf.as_str())])
        .send()
        .await
        .map(|r| (r.status(), ()))
        .unwrap();
    assert_eq!(status, StatusCode::FORBIDDEN, "no session: refused");
    assert_eq!(api.get("/v1/purchase-orders?limit=1", &token).await.status, StatusCode::OK, "still connected");

    // Oversized and malformed fields: the form again with the message, nothing changed.
    let big = "9".repeat(5000);
    let (status, page) = signed
        .post(
            &format!("/dashboard/connections/{connection}/settings"),
            &[("syncIntervalMinutes", &big), ("historicalDays", "30")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("longer than 4096 characters") && page.contains("role=\"alert\""), "{page}");
    let (status, page) = signed
        .post(
            &format!("/dashboard/connections/{connection}/settings"),
            &[("syncIntervalMinutes", "soon"), ("historicalDays", "30")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("whole numbers"), "{page}");
    let (status, page) = signed
        .post(
            &format!("/dashboard/connections/{connection}/settings"),
            &[("syncIntervalMinutes", "0"), ("historicalDays", "30")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let garbled = format!("csrf={}&%%%=%&historicalDays", signed.csrf);
    let (status, page) = signed.post_raw(&format!("/dashboard/connections/{connection}/settings"), garbled).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    let (status, _) = signed.post_raw("/dashboard/connect-links", "x".repeat(70 * 1024)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let seen = api.get(&format!("/v1/connections/{connection}"), &key).await.body["connection"].clone();
    assert_eq!(seen["settings"]["syncIntervalMinutes"], 60, "unchanged: {seen}");

    // A connect link made from the dashboard is a session of the account, with its URL.
    let (status, page) =
        signed.post("/dashboard/connect-links", &[("system.sandbox", "on"), ("externalId", "from-dashboard")]).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let at = page.find("/connect/cs_").expect("the link on the page");
    let session: String = page[at + 9..].chars().take_while(|c| *c != '/').collect();
    let a = api.get(&format!("/v1/connect-sessions/{session}"), &key).await;
    assert_eq!(a.body["connectSession"]["externalId"], "from-dashboard", "{}", a.body);
    assert_eq!(a.body["connectSession"]["systems"], json!(["sandbox"]));

    // The sign-in form itself: a wrong key says so; a connection token is no account key.
    let http = client();
    let base = env("MILLWRIGHT_API_URL");
    let page = http.get(format!("{base}/dashboard/sign-in")).send().await.unwrap();
    let form_cookie = set_cookie(&page, "__Host-mw_form").unwrap();
    let csrf = csrf_of(&page.text().await.unwrap());
    for presented in [format!("mw_acct_{}", "0".repeat(64)), token.clone()] {
        let a = http
            .post(format!("{base}/dashboard/sign-in"))
            .header(header::COOKIE, format!("__Host-mw_form={form_cookie}"))
            .form(&[("csrf", csrf.as_str()), ("key", presented.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(a.status(), StatusCode::UNAUTHORIZED);
        assert!(a.text().await.unwrap().contains("not a valid account key"));
    }
}
