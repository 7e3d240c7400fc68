//! Millwright's domain crate: everything the Lambda functions share.
//!
//! The domain (`catalog`, `token`, `model`, `entities`, `capabilities`, `error`, `connections`,
//! `records`, `sync`, `events`, `webhooks`, `auth`, the `Connector` trait) knows nothing of AWS
//! or of HTTP clients; it speaks to storage, queues and secrets through the narrow traits in
//! `ports`, and to customers' systems through `connectors::Connector`. The adapters on AWS are
//! the `millwright-aws` crate (adapters/), the outbound HTTP client `millwright-outbound`
//! (outbound/), and each connector a crate of its own (connectors/).

pub mod accounts;
pub mod auth;
pub mod branding;
pub mod capabilities;
pub mod catalog;
pub mod connect_sessions;
pub mod connecting;
pub mod connections;
pub mod connectors;
pub mod deadline;
pub mod entities;
pub mod error;
pub mod events;
pub mod idempotency;
pub mod limits;
pub mod model;
pub mod page;
pub(crate) mod patch;
pub mod ports;
pub mod records;
pub mod sign_in;
pub mod sync;
pub mod token;
pub mod turns;
pub mod webhooks;

pub use error::{ApiError, ErrorCode};
