//! Millwright's ports on AWS, and the glue between Lambda events and the domain. Each function
//! builds, through `config::Backends`, only the adapters it uses.

pub mod batch;
pub mod config;
pub mod dynamo;
pub mod erasure;
pub mod http;
pub mod idempotency;
pub mod in_flight;
pub mod lazy;
pub mod metering;
#[cfg(feature = "provision")]
pub mod provision;
pub mod queue;
pub mod records;
pub mod retention;
pub mod schedules;
pub mod secrets;
pub mod sessions;
pub mod sqs;
pub mod streams;
pub mod sync_runs;
pub mod webhooks;
