//! The `connect` function: the system catalogue, connecting systems, listing and changing
//! connections (their credentials too), the credit pool and the account's keys.

mod routes;

use millwright::adapters::{config::Services, http};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    http::init_logging();
    let services = Services::from_env().await?;
    http::serve(Arc::new(services), routes::route).await
}
