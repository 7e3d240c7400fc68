//! Where the functions find their resources: table names and the secret prefix come from the
//! environment (set by infra/template.yaml, or by the local provisioner from the same file).

use std::sync::Arc;

use super::{
    dynamo::DynamoStore, http::ApiRequest, idempotency::DynamoIdempotency, metering::CountCalls,
    secrets::SecretsManagerStore,
};
use crate::{
    auth,
    connections::ConnectionService,
    connectors::Connectors,
    error::ApiError,
    model::Principal,
    ports::{AccountStore, TokenStore},
    records::RecordService,
};

/// The DynamoDB tables Millwright uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Accounts and their credit pools.
    pub accounts: String,
    /// Connections, keyed by account.
    pub connections: String,
    /// Token digests.
    pub tokens: String,
    /// Idempotency keys of writes.
    pub idempotency: String,
}

/// Everything a function needs to reach its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The tables.
    pub tables: Tables,
    /// Prepended to every secret name (the IAM policies grant this prefix only).
    pub secrets_prefix: String,
}

/// A missing setting, named so the operator can fix it.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingSetting(pub &'static str);

impl Config {
    /// Reads the settings through a lookup (the environment, or a provisioned stack's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, MissingSetting> {
        let var = |name: &'static str| lookup(name).filter(|v| !v.is_empty()).ok_or(MissingSetting(name));
        Ok(Self {
            tables: Tables {
                accounts: var("ACCOUNTS_TABLE")?,
                connections: var("CONNECTIONS_TABLE")?,
                tokens: var("TOKENS_TABLE")?,
                idempotency: var("IDEMPOTENCY_TABLE")?,
            },
            secrets_prefix: var("SECRETS_PREFIX")?,
        })
    }

    /// Reads the settings from the environment.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// The AWS-backed adapters a function works with, built once per cold start.
#[derive(Clone)]
pub struct Backends {
    /// Accounts, connections and tokens.
    pub store: Arc<DynamoStore>,
    /// Connection credentials.
    pub secrets: Arc<SecretsManagerStore>,
    /// Idempotency keys.
    pub idempotency: Arc<DynamoIdempotency>,
}

impl Backends {
    /// Builds the clients for a configuration (`AWS_ENDPOINT_URL` points them at a local stack).
    pub async fn new(config: Config) -> Self {
        let aws = aws_config::load_from_env().await;
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws).interceptor(CountCalls).build(),
        );
        let secrets = aws_sdk_secretsmanager::Client::from_conf(
            aws_sdk_secretsmanager::config::Builder::from(&aws).interceptor(CountCalls).build(),
        );
        Self {
            idempotency: Arc::new(DynamoIdempotency::new(dynamo.clone(), config.tables.idempotency.clone())),
            store: Arc::new(DynamoStore::new(dynamo, config.tables)),
            secrets: Arc::new(SecretsManagerStore::new(secrets, config.secrets_prefix)),
        }
    }

    /// Builds the clients from the environment.
    pub async fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self::new(Config::from_env()?).await)
    }

    /// The connection service over these adapters and the given connectors.
    pub fn connections(&self, connectors: Connectors) -> ConnectionService {
        ConnectionService::new(self.store.clone(), self.secrets.clone(), connectors)
    }

    /// What the API functions share: authentication and the connection service.
    pub fn services(&self, connectors: Connectors) -> Services {
        Services {
            tokens: self.store.clone(),
            accounts: self.store.clone(),
            records: RecordService::new(connectors.clone(), self.idempotency.clone()),
            connections: self.connections(connectors),
        }
    }
}

/// The state an API function keeps between invocations.
#[derive(Clone)]
pub struct Services {
    /// Bearer credential lookups.
    pub tokens: Arc<dyn TokenStore>,
    /// Credit pools.
    pub accounts: Arc<dyn AccountStore>,
    /// Connection operations.
    pub connections: ConnectionService,
    /// Data calls.
    pub records: RecordService,
}

impl Services {
    /// Builds the services from the environment, with the connectors that ship.
    pub async fn from_env() -> Result<Self, MissingSetting> {
        Ok(Backends::from_env().await?.services(Connectors::standard()))
    }

    /// The caller of a request.
    pub async fn caller(&self, request: &ApiRequest) -> Result<Principal, ApiError> {
        auth::authenticate(self.tokens.as_ref(), request.header("authorization")).await
    }
}
