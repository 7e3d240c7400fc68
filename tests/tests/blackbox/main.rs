//! The black-box tests, in one binary so they all run at once against the one running stack
//! (each on an account of its own), as its users would use it side by side.

mod api;
mod browser;
mod connect_flow;
mod connectors;
mod dashboard;
mod defaults;
mod entities;
mod fm_systems;
mod limits;
mod management;
mod netsuite;
mod routes;
mod stored;
mod syncs;
mod upkeep;
mod webhooks;

/// The SDK's settings for the stack's AWS endpoint (`AWS_ENDPOINT_URL`, the region and the
/// credentials of `.local/stack.env`), for the tests that look at what the stack stored. The
/// crate leaves the functions' own adapters out: each feature it turns on (serde_json's
/// `preserve_order`, which the WebDriver client needs) would otherwise be compiled into a second
/// copy of them.
async fn local_aws() -> aws_config::SdkConfig {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    let http = aws_smithy_http_client::Builder::new().tls_provider(Provider::Rustls(CryptoMode::Ring)).build_https();
    aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(http).load().await
}
