//! Integration tests of credits, connections and tokens against DynamoDB and Secrets Manager on
//! the local moto server (`AWS_ENDPOINT_URL`; scripts/test starts it). Each test provisions its
//! own tables from infra/template.yaml under a unique stack name. Systems without a shipped
//! connector get a test connector at the connector port.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use millwright::{
    accounts,
    connections::{ConnectRequest, ConnectionService},
    connectors::{Connector, ConnectorError, Credentials},
    error::ErrorCode,
    model::ConnectionStatus,
    ports::{AccountStore, ConnectionStore, Disconnected, TokenStore},
    token,
    webhooks::AddressPolicy,
};
use millwright_aws::{
    config::{Backends, Config},
    provision,
};
use serde_json::json;
use std::sync::Arc;

/// Accepts any credentials except the password "wrong", like a real system's login.
struct TestConnector;

#[async_trait]
impl Connector for TestConnector {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        match credentials.text("password") {
            Some("wrong") => Err(ConnectorError::Rejected("invalid user or password".into())),
            _ => Ok(()),
        }
    }
}

struct Stack {
    backends: Backends,
    service: ConnectionService,
    secrets: aws_sdk_secretsmanager::Client,
    secrets_prefix: String,
    dynamo: aws_sdk_dynamodb::Client,
    events_table: String,
}

async fn stack() -> Stack {
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok(),
        "these tests run against moto: set AWS_ENDPOINT_URL (scripts/test does)"
    );
    let name = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let env = provision::provision(&aws, &template, &name).await.unwrap().env;
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let secrets_prefix = config.secrets_prefix.clone();
    let backends = Backends::new(config).await;
    let mut connectors = millwright_connectors::standard(AddressPolicy::default());
    for system in ["sap_s4hana", "sap_ecc", "ibm_maximo", "upkeep", "fm_systems"] {
        connectors = connectors.with(system, Arc::new(TestConnector));
    }
    let service = backends.connections(connectors);
    Stack {
        backends,
        service,
        secrets: aws_sdk_secretsmanager::Client::new(&aws),
        secrets_prefix,
        dynamo: aws_sdk_dynamodb::Client::new(&aws),
        events_table: env["EVENTS_TABLE"].clone(),
    }
}

fn request(system: &str, deployment: &str, password: &str) -> ConnectRequest {
    serde_json::from_value(json!({
        "system": system,
        "deployment": deployment,
        "credentials": {
            "baseUrl": "https://erp.example.com", "username": "integration", "password": password,
            "sapClient": "100", "email": "ops@example.com",
        },
    }))
    .unwrap()
}

impl Stack {
    async fn account(&self, credits: u32) -> String {
        accounts::open(self.backends.store().as_ref(), credits, None).await.unwrap().0.id
    }

    async fn available(&self, account: &str) -> u32 {
        self.backends.store().account(account).await.unwrap().unwrap().credits_available
    }

    /// available + credits held by live connections = total, read from the store.
    async fn assert_balanced(&self, account: &str) {
        let a = self.backends.store().account(account).await.unwrap().unwrap();
        let held: u32 = self.service.holding_credits(account).await.unwrap().iter().map(|c| c.credits).sum();
        assert_eq!(a.credits_available + held, a.credits_total, "available + used = total");
    }

    /// A connection's `connection.status_changed` events as (createdAt, status, previousStatus),
    /// in `createdAt` order.
    async fn status_events(&self, connection_id: &str) -> Vec<(String, String, Option<String>)> {
        let scan = self.dynamo.scan().table_name(&self.events_table).filter_expression("connectionId = :c");
        let items = scan.expression_attribute_values(":c", AttributeValue::S(connection_id.into()));
        let items: Vec<_> = items.into_paginator().items().send().collect::<Result<_, _>>().await.unwrap();
        let text = |v: Option<&AttributeValue>| v.and_then(|v| v.as_s().ok()).cloned();
        let mut events: Vec<_> = items
            .iter()
            .filter(|i| text(i.get("type")).as_deref() == Some("connection.status_changed"))
            .map(|i| {
                let data = i["data"].as_m().unwrap();
                (text(i.get("createdAt")).unwrap(), text(data.get("status")).unwrap(), text(data.get("previousStatus")))
            })
            .collect();
        events.sort();
        events
    }

    /// Secrets stored for an account's connections (asked by name prefix, so other tests'
    /// secrets, created and deleted meanwhile, neither page in nor shift the pages).
    async fn secrets_of(&self, account: &str) -> Vec<String> {
        let prefix = format!("{}connections/{account}/", self.secrets_prefix);
        let by_name = Filter::builder().key(FilterNameStringType::Name).values(&prefix).build();
        let mut names = Vec::new();
        let mut next = None;
        loop {
            let list = self.secrets.list_secrets().filters(by_name.clone()).set_next_token(next).max_results(100);
            let out = list.send().await.unwrap();
            names.extend(
                out.secret_list().iter().filter_map(|s| s.name()).filter(|n| n.starts_with(&prefix)).map(String::from),
            );
            next = out.next_token().map(String::from);
            if next.is_none() {
                return names;
            }
        }
    }
}

#[tokio::test]
async fn each_tier_and_deployment_costs_its_credits() {
    let s = stack().await;
    let account = s.account(40).await;
    let cases = [
        ("upkeep", "cloud", 1),
        ("ibm_maximo", "cloud", 2),
        ("ibm_maximo", "on_prem", 4),
        ("sap_s4hana", "cloud", 4),
        ("sap_s4hana", "on_prem", 8),
        ("sap_ecc", "on_prem", 8),
        ("fm_systems", "on_prem", 4),
    ];
    let mut expected = 40;
    for (system, deployment, credits) in cases {
        let (c, token) = s.service.connect(&account, request(system, deployment, "pw")).await.unwrap();
        expected -= credits;
        assert_eq!(c.credits, credits, "{system} {deployment}");
        assert!(token.plaintext.starts_with("mw_conn_"));
        assert_eq!(s.available(&account).await, expected, "{system} {deployment}");
        s.assert_balanced(&account).await;
    }
    let (sandbox, token) = s
        .service
        .connect(
            &account,
            serde_json::from_value(json!({"system": "sandbox", "credentials": {"apiKey": "k"}})).unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((sandbox.credits, s.available(&account).await), (0, expected));
    assert!(token.plaintext.starts_with("mw_test_"));
    let err = s.service.connect(&account, request("sap_ecc", "cloud", "pw")).await.unwrap_err();
    assert_eq!(err.details[0].field.as_deref(), Some("deployment"));
}

#[tokio::test]
async fn fifty_concurrent_connects_on_a_pool_of_five_let_exactly_five_through() {
    let s = Arc::new(stack().await);
    let account = s.account(5).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let (s, account) = (s.clone(), account.clone());
            tokio::spawn(async move { s.service.connect(&account, request("upkeep", "cloud", "pw")).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert_eq!(e.code, ErrorCode::InsufficientCredits, "{e}"),
        }
    }
    assert_eq!(ok, 5);
    assert_eq!(s.available(&account).await, 0);
    s.assert_balanced(&account).await;
    assert_eq!(s.secrets_of(&account).await.len(), 5, "refused connects leave no secret behind");
}

#[tokio::test]
async fn concurrent_double_disconnects_return_credits_once() {
    let s = Arc::new(stack().await);
    let account = s.account(10).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.service.connect(&account, request("ibm_maximo", "cloud", "pw")).await.unwrap().0.id);
    }
    assert_eq!(s.available(&account).await, 0);
    let tasks: Vec<_> = ids
        .iter()
        .flat_map(|id| [id.clone(), id.clone(), id.clone()])
        .map(|id| {
            let (s, account) = (s.clone(), account.clone());
            tokio::spawn(async move { s.service.disconnect(&account, &id).await })
        })
        .collect();
    let mut now = 0;
    for t in tasks {
        if let Disconnected::Now(_) = t.await.unwrap().unwrap() {
            now += 1;
        }
    }
    assert_eq!(now, 5, "each connection is disconnected by exactly one call");
    assert_eq!(s.available(&account).await, 10);
    s.assert_balanced(&account).await;
    for id in &ids {
        assert_eq!(s.service.get(&account, id).await.unwrap().status, ConnectionStatus::Disconnected);
    }
    assert!(s.secrets_of(&account).await.is_empty(), "disconnect deletes the credentials");
    let again = s.service.disconnect(&account, &ids[0]).await.unwrap();
    assert!(matches!(again, Disconnected::Already(_)));
    assert_eq!(s.available(&account).await, 10);
}

#[tokio::test]
async fn racing_status_changes_leave_one_history_whose_times_only_go_forward() {
    let s = Arc::new(stack().await);
    let account = s.account(10).await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(s.service.connect(&account, request("ibm_maximo", "cloud", "pw")).await.unwrap().0.id);
    }
    // Each connection at once: its system rejects the stored credentials, and its owner disconnects it.
    let tasks: Vec<_> = ids
        .iter()
        .flat_map(|id| [(id.clone(), true), (id.clone(), false)])
        .map(|(id, rejected)| {
            let (s, account) = (s.clone(), account.clone());
            tokio::spawn(async move {
                if rejected {
                    s.backends
                        .store()
                        .require_auth(&account, &id, "password expired")
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                } else {
                    s.service.disconnect(&account, &id).await.map(|_| ()).map_err(|e| e.to_string())
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    for id in &ids {
        // Ordered by createdAt, the events are one chain: each starts where the one before ended.
        let events = s.status_events(id).await;
        assert_eq!((events[0].1.as_str(), &events[0].2), ("active", &None), "{events:?}");
        for pair in events.windows(2) {
            assert!(pair[0].0 < pair[1].0, "times strictly increase: {events:?}");
            assert_eq!(pair[1].2.as_deref(), Some(pair[0].1.as_str()), "{events:?}");
        }
        assert_eq!(events.last().unwrap().1, "disconnected", "{events:?}");
        assert!((2..=3).contains(&events.len()), "{events:?}");
    }
}

#[tokio::test]
async fn rejected_credentials_and_an_empty_pool_charge_nothing_and_store_nothing() {
    let s = stack().await;
    let account = s.account(3).await;
    let err = s.service.connect(&account, request("sap_s4hana", "cloud", "wrong")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidCredentials);
    assert_eq!(err.details[0].message, "invalid user or password");
    let err = s.service.connect(&account, request("sap_s4hana", "cloud", "pw")).await.unwrap_err();
    assert_eq!(err.code, ErrorCode::InsufficientCredits);
    assert_eq!(s.available(&account).await, 3);
    assert!(s.secrets_of(&account).await.is_empty());
    assert!(s.service.holding_credits(&account).await.unwrap().is_empty());
}

#[tokio::test]
async fn rotation_revokes_the_old_token_and_disconnect_the_current_one() {
    let s = stack().await;
    let account = s.account(2).await;
    let (c, first) = s.service.connect(&account, request("upkeep", "cloud", "pw")).await.unwrap();
    let store = s.backends.store();
    let tokens = store.as_ref();
    assert!(tokens.count_use(&first.digest, 0).await.unwrap().is_some());
    let (_, second) = s.service.rotate(&account, &c.id).await.unwrap();
    assert!(tokens.count_use(&first.digest, 0).await.unwrap().is_none());
    assert_eq!(
        tokens.count_use(&token::digest(&second.plaintext), 0).await.unwrap().unwrap().0.connection_id,
        Some(c.id.clone())
    );
    s.service.disconnect(&account, &c.id).await.unwrap();
    assert!(tokens.count_use(&second.digest, 0).await.unwrap().is_none());
    assert_eq!(s.service.rotate(&account, &c.id).await.unwrap_err().code, ErrorCode::Conflict);
}

#[tokio::test]
async fn another_account_cannot_see_or_disconnect_a_connection() {
    let s = stack().await;
    let (a, b) = (s.account(2).await, s.account(2).await);
    let (c, _) = s.service.connect(&a, request("upkeep", "cloud", "pw")).await.unwrap();
    assert_eq!(s.service.get(&b, &c.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(s.service.disconnect(&b, &c.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert_eq!(s.service.rotate(&b, &c.id).await.unwrap_err().code, ErrorCode::NotFound);
    assert!(s.service.list(&b, None, 10).await.unwrap().0.is_empty());
    assert_eq!(s.service.get(&a, &c.id).await.unwrap().status, ConnectionStatus::Active);
    assert_eq!(s.available(&a).await, 1);
}

#[tokio::test]
async fn listing_pages_through_every_connection_once() {
    let s = stack().await;
    let account = s.account(0).await;
    let sandbox = || serde_json::from_value(json!({"system": "sandbox", "credentials": {"apiKey": "k"}})).unwrap();
    let mut made = Vec::new();
    for _ in 0..7 {
        made.push(s.service.connect(&account, sandbox()).await.unwrap().0.id);
    }
    let (mut seen, mut after) = (Vec::new(), None::<String>);
    loop {
        let (page, next) = s.service.list(&account, after.as_deref(), 3).await.unwrap();
        seen.extend(page.into_iter().map(|c| c.id));
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    made.sort();
    assert_eq!(seen, made);
}
