//! The glue of SQS-triggered functions: a batch's messages are decoded and handled
//! concurrently, and only those that failed are reported back (a partial batch response), so
//! SQS retries them alone and, after the queue's `maxReceiveCount`, moves them to the DLQ.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use lambda_runtime::{LambdaEvent, service_fn};
use serde::de::DeserializeOwned;
use std::{fmt::Display, future::Future};

/// What a handler knows of the message it handles besides its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// When the invocation ends.
    pub deadline: DateTime<Utc>,
    /// The handle that changes the message's visibility.
    pub receipt_handle: String,
    /// The ARN of the queue it came from (a function may be fed by a queue and its DLQ).
    pub source: String,
}

/// Handles every message of a batch before `deadline`; answers the ids of those that failed.
pub async fn handle_batch<T, F, Fut, E>(event: SqsEvent, deadline: DateTime<Utc>, handler: F) -> SqsBatchResponse
where
    T: DeserializeOwned,
    F: Fn(T, Received) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let work = event.records.into_iter().map(|record| {
        let id = record.message_id.unwrap_or_default();
        let decoded = serde_json::from_str::<T>(record.body.as_deref().unwrap_or_default());
        let received = Received {
            deadline,
            receipt_handle: record.receipt_handle.unwrap_or_default(),
            source: record.event_source_arn.unwrap_or_default(),
        };
        let handler = &handler;
        async move {
            let result = match decoded {
                Ok(message) => handler(message, received).await.map_err(|e| e.to_string()),
                // Left for the DLQ, where an operator can read it.
                Err(e) => Err(format!("undecodable message: {e}")),
            };
            result.err().map(|e| {
                tracing::warn!(message_id = %id, error = %e, "message not done; SQS will hand it out again");
                id
            })
        }
    });
    let mut response = SqsBatchResponse::default();
    for failed in futures_util::future::join_all(work).await.into_iter().flatten() {
        response.add_failure(failed);
    }
    response
}

/// The invocation's deadline from the runtime's `deadline` (epoch milliseconds).
fn deadline(millis: u64) -> DateTime<Utc> {
    i64::try_from(millis).ok().and_then(DateTime::from_timestamp_millis).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Runs an SQS-triggered function whose messages are `T`, handled by `handler`.
pub async fn serve<T, F, Fut, E>(handler: F) -> Result<(), lambda_runtime::Error>
where
    T: DeserializeOwned,
    F: Fn(T, Received) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: Display,
{
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = deadline(event.context.deadline);
        Ok::<_, lambda_runtime::Error>(handle_batch(event.payload, deadline, handler).await)
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_are_epoch_millis() {
        let at = Utc::now() + chrono::Duration::seconds(300);
        assert_eq!(deadline(at.timestamp_millis() as u64).timestamp_millis(), at.timestamp_millis());
    }
}
