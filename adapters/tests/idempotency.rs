//! Integration tests of the idempotency store on DynamoDB (moto): claims, replays, release,
//! and expiry checked on every claim because DynamoDB's TTL deletes lazily.

use chrono::{Duration, Utc};
use millwright::ports::{Claim, IdempotencyStore, StoredResponse};
use millwright_aws::{idempotency::DynamoIdempotency, provision};

async fn store() -> DynamoIdempotency {
    assert!(std::env::var("AWS_ENDPOINT_URL").is_ok(), "these tests run against moto: set AWS_ENDPOINT_URL");
    let stack = format!("it-{}", ulid::Ulid::new().to_string().to_lowercase());
    let aws = millwright_aws::config::aws_config().await;
    let client = aws_sdk_dynamodb::Client::new(&aws);
    let template = provision::parse(include_str!("../../infra/template.yaml")).unwrap();
    let env = provision::provision(&aws, &template, &stack).await.unwrap().env;
    DynamoIdempotency::new(client, env["IDEMPOTENCY_TABLE"].clone())
}

#[tokio::test]
async fn a_key_is_claimed_once_replayed_and_forgotten_after_a_day() {
    let s = store().await;
    let t0 = Utc::now();
    assert_eq!(s.claim("conn_a", "k1", "fp1", t0).await.unwrap(), Claim::Claimed);
    assert_eq!(
        s.claim("conn_a", "k1", "fp1", t0).await.unwrap(),
        Claim::InProgress { fingerprint: "fp1".into() },
        "a running request holds its key"
    );
    let response = StoredResponse { status: 201, body: "{\"data\":{}}".into() };
    s.complete("conn_a", "k1", &response).await.unwrap();
    assert_eq!(
        s.claim("conn_a", "k1", "fp2", t0 + Duration::hours(23)).await.unwrap(),
        Claim::Done { fingerprint: "fp1".into(), response }
    );
    assert_eq!(s.claim("conn_b", "k1", "fp9", t0).await.unwrap(), Claim::Claimed, "keys are per connection");
    assert_eq!(
        s.claim("conn_a", "k1", "fp2", t0 + Duration::hours(25)).await.unwrap(),
        Claim::Claimed,
        "an expired key is free even before TTL deletes it"
    );
}

#[tokio::test]
async fn a_released_claim_frees_the_key_and_an_abandoned_one_never_does() {
    let s = store().await;
    let t0 = Utc::now();
    assert_eq!(s.claim("conn_a", "k2", "fp", t0).await.unwrap(), Claim::Claimed);
    s.release("conn_a", "k2").await.unwrap();
    assert_eq!(s.claim("conn_a", "k2", "fp", t0).await.unwrap(), Claim::Claimed);
    assert!(matches!(
        s.claim("conn_a", "k2", "fp", t0 + Duration::seconds(30)).await.unwrap(),
        Claim::InProgress { .. }
    ));
    // Its request was stopped while it held the key: what it sent is unknown, so the key is not
    // taken over (a retry would write twice) until it expires.
    assert_eq!(
        s.claim("conn_a", "k2", "fp", t0 + Duration::seconds(61)).await.unwrap(),
        Claim::Abandoned { fingerprint: "fp".into() },
    );
    assert_eq!(s.claim("conn_a", "k2", "fp", t0 + Duration::hours(25)).await.unwrap(), Claim::Claimed);
}
