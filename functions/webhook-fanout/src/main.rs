//! The `webhook-fanout` function: fed by the events table's stream, it turns every new event
//! into one delivery per subscribed endpoint and queues them for `webhook-delivery`.

use millwright::events::Event;
use millwright_aws::{config::Backends, http, streams};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    http::init_logging();
    let fanout = Backends::from_env()?.fanout();
    streams::serve_inserts(|event: Event| {
        let fanout = &fanout;
        async move { fanout.handle(&event).await.map(|_| ()) }
    })
    .await
}
