//! Millwright's domain crate: everything the Lambda functions share.
//!
//! The domain modules (`catalog`, `token`, `model`, `entities`, `capabilities`, `error`,
//! `connections`, `records`, `sync`, `events`, `webhooks`, `auth`, `connectors`) know nothing of AWS; they speak to storage and secrets through the narrow traits in `ports`.
//! `adapters` implements those traits on DynamoDB and Secrets Manager and holds the HTTP glue
//! that turns Lambda events into domain calls.

pub mod accounts;
pub mod adapters;
pub mod auth;
pub mod capabilities;
pub mod catalog;
pub mod connections;
pub mod connectors;
pub mod deadline;
pub mod entities;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod limits;
pub mod model;
pub mod openapi;
pub mod page;
pub(crate) mod patch;
pub mod ports;
pub mod records;
pub mod sync;
pub mod token;
pub mod webhooks;

pub use error::{ApiError, ErrorCode};
