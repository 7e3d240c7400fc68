//! The `sync` function: triggered by the sync queue, it carries sync runs out page by page and
//! queues the runs of schedules that fired. Failed messages go back to the queue alone; those
//! that failed every retry come from the dead-letter queue, and their runs end failed.

use millwright::sync::SyncMessage;
use millwright_aws::{config::Backends, http, sqs};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    http::init_logging();
    let backends = Backends::from_env()?;
    let dead_letters = backends.config().sync.dead_letter_arn.clone();
    let worker = backends.worker(millwright_connectors::standard(backends.policy()));
    sqs::serve(|message: SyncMessage, received: sqs::Received| {
        let (worker, dead_letters) = (&worker, &dead_letters);
        async move {
            if received.source == *dead_letters {
                worker.abandon(&message).await.map(|_| ())
            } else {
                worker.handle(&message, received.deadline).await.map(|_| ())
            }
        }
    })
    .await
}
