//! The `webhook-delivery` function: triggered by the delivery queue, it makes one signed attempt
//! per message, all of a batch at once, so a slow receiver holds up no other. A failed attempt
//! leaves its message hidden on the queue until the next one is due.

use millwright::{
    adapters::{
        config::Backends,
        http,
        sqs::{self, Received},
    },
    webhooks::{DeliveryMessage, Receipt},
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    http::init_logging();
    let dispatcher = Backends::from_env().await?.dispatcher();
    sqs::serve(|message: DeliveryMessage, received: Received| {
        let dispatcher = &dispatcher;
        let receipt = Receipt { handle: received.receipt_handle };
        async move { dispatcher.handle(&message, &receipt).await }
    })
    .await
}
