//! The `webhook-delivery` function: triggered by the delivery queue, it makes one signed attempt
//! per message, all of a batch at once, so a slow receiver holds up no other. A failed attempt
//! leaves its message hidden on the queue until the next one is due.

use millwright::webhooks::{DeliveryMessage, Receipt};
use millwright_aws::{
    config::Backends,
    http,
    sqs::{self, Received},
};
use millwright_outbound::transport::HttpTransport;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let dispatcher = backends.dispatcher(Arc::new(HttpTransport::new(backends.policy())));
    sqs::serve(|message: DeliveryMessage, received: Received| {
        let dispatcher = &dispatcher;
        let receipt = Receipt { handle: received.receipt_handle };
        async move { dispatcher.handle(&message, &receipt).await }
    })
    .await
}
