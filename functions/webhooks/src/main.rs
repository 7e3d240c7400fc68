//! The `webhooks` function: webhook endpoints, their delivery logs and redeliveries.

mod routes;

use millwright::adapters::{config::Services, http};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let services = Services::from_env().await?;
    http::serve(Arc::new(services), routes::route).await
}
