//! `SecretStore` on AWS Secrets Manager.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;

use crate::lazy::Lazy;
use millwright::ports::{SecretStore, StoreError};

/// Secrets under one name prefix.
pub struct SecretsManagerStore {
    client: Lazy<Client>,
    prefix: String,
}

impl SecretsManagerStore {
    /// A store that keeps every secret under `prefix`.
    pub fn new(client: impl Into<Lazy<Client>>, prefix: String) -> Self {
        Self { client: client.into(), prefix }
    }

    /// The full name of a secret (the IAM policies grant the prefix only).
    pub fn full_name(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn put(&self, name: &str, value: &str) -> Result<(), StoreError> {
        self.client.create_secret().name(self.full_name(name)).secret_string(value).send().await.map(|_| ()).map_err(
            |e| {
                StoreError::Backend(format!("create secret: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(e)))
            },
        )
    }

    async fn get(&self, name: &str) -> Result<Option<String>, StoreError> {
        match self.client.get_secret_value().secret_id(self.full_name(name)).send().await {
            Ok(out) => Ok(out.secret_string),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(StoreError::Backend(format!(
                "read secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))),
        }
    }

    async fn replace(&self, name: &str, value: &str) -> Result<(), StoreError> {
        match self.client.put_secret_value().secret_id(self.full_name(name)).secret_string(value).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(StoreError::Backend(format!(
                "replace secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))),
        }
    }

    async fn delete(&self, name: &str) -> Result<(), StoreError> {
        match self
            .client
            .delete_secret()
            .secret_id(self.full_name(name))
            .force_delete_without_recovery(true)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(()),
            Err(e) => Err(StoreError::Backend(format!(
                "delete secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            ))),
        }
    }
}
