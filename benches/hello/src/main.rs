//! An empty Lambda function: it answers every event with the event. `scripts/bench cold-start`
//! measures the functions' start-up against it.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async { Ok::<_, Error>(event.payload) })).await
}
