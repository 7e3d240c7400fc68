//! Connectors speak each customer system's own protocol. The domain reaches them through the
//! `Connector` trait; `Connectors` says which system has one.

pub mod sandbox;

use async_trait::async_trait;
use serde_json::{Map, Value};
use std::{collections::HashMap, sync::Arc};

/// Credentials for a customer system as the user sent them. Never printed.
#[derive(Clone, PartialEq)]
pub struct Credentials(pub Map<String, Value>);

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Credentials {
    /// A credential value as text, if present and non-empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str).filter(|s| !s.trim().is_empty())
    }
}

/// Why a connector could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// The system refused the credentials; the text is the system's reason.
    #[error("credentials rejected: {0}")]
    Rejected(String),
    /// The system answered with an error.
    #[error("system error: {0}")]
    Upstream(String),
    /// The system did not answer in time.
    #[error("system timed out")]
    Timeout,
}

/// One customer system's protocol.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Asks the system whether these credentials work, without changing anything there.
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError>;
}

/// The connectors available, by system id.
#[derive(Clone, Default)]
pub struct Connectors(HashMap<String, Arc<dyn Connector>>);

impl Connectors {
    /// The connectors that ship: today the sandbox.
    pub fn standard() -> Self {
        Self::default().with(crate::catalog::SANDBOX, Arc::new(sandbox::Sandbox))
    }

    /// Adds or replaces the connector of a system.
    pub fn with(mut self, system: &str, connector: Arc<dyn Connector>) -> Self {
        self.0.insert(system.to_owned(), connector);
        self
    }

    /// The connector of a system, if it has one.
    pub fn get(&self, system: &str) -> Option<Arc<dyn Connector>> {
        self.0.get(system).cloned()
    }
}
