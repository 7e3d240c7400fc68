//! The `sync` function: triggered by the sync queue, it carries sync runs out page by page and
//! queues the runs of schedules that fired. Failed messages go back to the queue alone.

use millwright::{
    adapters::{config::Backends, http, sqs},
    connectors::Connectors,
    sync::SyncMessage,
};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    http::init_logging();
    let backends = Backends::from_env().await?;
    let worker = backends.worker(Connectors::standard(backends.policy));
    sqs::serve(|message: SyncMessage, received: sqs::Received| {
        let worker = &worker;
        async move { worker.handle(&message, received.deadline).await.map(|_| ()) }
    })
    .await
}
