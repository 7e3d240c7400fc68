//! The glue of functions fed by a DynamoDB stream: the batch's new items are decoded and handled
//! concurrently, and the earliest one that failed is reported (a partial batch response), so
//! Lambda retries the stream from there and nothing after a failure is lost.

use aws_lambda_events::event::{
    dynamodb::Event as StreamEvent,
    streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse},
};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use std::{fmt::Display, future::Future};

/// Handles every inserted item of a batch; answers the earliest that failed.
pub async fn handle_inserts<T, F, Fut, E>(event: StreamEvent, handler: F) -> DynamoDbEventResponse
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let handler = &handler;
    let work = event.records.into_iter().filter(|r| r.event_name == "INSERT").map(|record| async move {
        let sequence = record.change.sequence_number.clone().unwrap_or_default();
        match serde_dynamo::from_item::<_, T>(record.change.new_image) {
            Ok(item) => handler(item).await.err().map(|e| {
                tracing::error!(sequence = %sequence, error = %e, "stream record failed; Lambda will retry from it");
                sequence
            }),
            // Retrying cannot fix it, and it would hold up the stream: log it and go on.
            Err(e) => {
                tracing::error!(sequence = %sequence, error = %e, "undecodable stream record skipped");
                None
            }
        }
    });
    let failed = futures_util::future::join_all(work).await.into_iter().flatten().next();
    let mut response = DynamoDbEventResponse::default();
    if let Some(sequence) = failed {
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = Some(sequence);
        response.batch_item_failures.push(failure);
    }
    response
}

/// Runs a stream-triggered function whose inserted items are `T`, handled by `handler`.
pub async fn serve_inserts<T, F, Fut, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<StreamEvent>| async move {
        Ok::<_, lambda_runtime::Error>(handle_inserts(event.payload, handler).await)
    }))
    .await
}
