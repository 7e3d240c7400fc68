//! Where the functions find their resources: table names and the secret prefix come from the
//! environment (set by infra/template.yaml, or by the local provisioner from the same file).

use chrono::Utc;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use super::{
    dynamo::DynamoStore, erasure::DynamoConnectionData, http::ApiRequest, idempotency::DynamoIdempotency,
    in_flight::DynamoInFlight, metering::CountCalls, queue::SqsQueue, records::DynamoRecords,
    schedules::SchedulerSchedules, secrets::SecretsManagerStore, sync_runs::DynamoSyncRuns, transport::HttpTransport,
    webhooks::DynamoWebhooks,
};
use crate::{
    auth,
    connections::ConnectionService,
    connectors::Connectors,
    error::ApiError,
    limits::{self, Usage},
    model::Principal,
    ports::{AccountStore, IdempotencyStore, TokenStore},
    records::RecordService,
    sync::{SyncService, Worker},
    webhooks::{AddressPolicy, Dispatcher, Fanout, WebhookService},
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
    /// Calls in flight to customers' systems.
    pub in_flight: String,
    /// Sync runs with their per-entity leases and marks.
    pub sync_runs: String,
    /// Synced records.
    pub records: String,
    /// Events for webhooks.
    pub events: String,
    /// Webhook endpoints, keyed by account.
    pub webhook_endpoints: String,
    /// Webhook deliveries with their attempts.
    pub webhook_deliveries: String,
}

/// Where sync work goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncSettings {
    /// The sync queue's URL (for sending).
    pub queue_url: String,
    /// The sync queue's ARN (the schedules' target).
    pub queue_arn: String,
    /// The sync dead-letter queue's ARN: messages from it end their runs.
    pub dead_letter_arn: String,
    /// The schedule group of the stack.
    pub schedule_group: String,
    /// The role schedules send as.
    pub scheduler_role_arn: String,
}

/// Where webhook deliveries go and what they may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The delivery queue's URL.
    pub delivery_queue_url: String,
    /// Where outbound calls (webhooks, connectors) may go: `ALLOW_LOCAL_ADDRESSES=true` is the
    /// local-dev switch (127.0.0.1).
    pub policy: AddressPolicy,
}

/// Everything a function needs to reach its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The tables.
    pub tables: Tables,
    /// Prepended to every secret name (the IAM policies grant this prefix only).
    pub secrets_prefix: String,
    /// The sync queue and schedules.
    pub sync: SyncSettings,
    /// The delivery queue and address rules.
    pub webhooks: WebhookSettings,
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
                in_flight: var("IN_FLIGHT_TABLE")?,
                sync_runs: var("SYNC_RUNS_TABLE")?,
                records: var("RECORDS_TABLE")?,
                events: var("EVENTS_TABLE")?,
                webhook_endpoints: var("WEBHOOK_ENDPOINTS_TABLE")?,
                webhook_deliveries: var("WEBHOOK_DELIVERIES_TABLE")?,
            },
            secrets_prefix: var("SECRETS_PREFIX")?,
            sync: SyncSettings {
                queue_url: var("SYNC_QUEUE_URL")?,
                queue_arn: var("SYNC_QUEUE_ARN")?,
                dead_letter_arn: var("SYNC_DEAD_LETTER_QUEUE_ARN")?,
                schedule_group: var("SCHEDULE_GROUP")?,
                scheduler_role_arn: var("SCHEDULER_ROLE_ARN")?,
            },
            webhooks: WebhookSettings {
                delivery_queue_url: var("DELIVERY_QUEUE_URL")?,
                policy: AddressPolicy { allow_local: lookup("ALLOW_LOCAL_ADDRESSES").as_deref() == Some("true") },
            },
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
    /// Places for calls in flight to customers' systems.
    pub in_flight: Arc<DynamoInFlight>,
    /// Sync runs, leases, marks and events.
    pub sync_runs: Arc<DynamoSyncRuns>,
    /// Synced records.
    pub records: Arc<DynamoRecords>,
    /// A connection's records, runs and marks, for deleting them.
    pub data: Arc<DynamoConnectionData>,
    /// The sync queue.
    pub queue: Arc<SqsQueue>,
    /// Per-connection schedules.
    pub schedules: Arc<SchedulerSchedules>,
    /// Webhook endpoints and deliveries.
    pub webhooks: Arc<DynamoWebhooks>,
    /// The delivery queue.
    pub deliveries: Arc<SqsQueue>,
    /// The address rules outbound calls (webhooks, connectors) follow.
    pub policy: AddressPolicy,
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
        let sqs =
            aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&aws).interceptor(CountCalls).build());
        let scheduler = aws_sdk_scheduler::Client::from_conf(
            aws_sdk_scheduler::config::Builder::from(&aws).interceptor(CountCalls).build(),
        );
        let Config { tables, secrets_prefix, sync, webhooks } = config;
        Self {
            webhooks: Arc::new(DynamoWebhooks::new(
                dynamo.clone(),
                tables.webhook_endpoints.clone(),
                tables.webhook_deliveries.clone(),
            )),
            deliveries: Arc::new(SqsQueue::new(sqs.clone(), webhooks.delivery_queue_url)),
            policy: webhooks.policy,
            idempotency: Arc::new(DynamoIdempotency::new(dynamo.clone(), tables.idempotency.clone())),
            in_flight: Arc::new(DynamoInFlight::new(dynamo.clone(), tables.in_flight.clone())),
            sync_runs: Arc::new(DynamoSyncRuns::new(
                dynamo.clone(),
                tables.sync_runs.clone(),
                tables.connections.clone(),
                tables.events.clone(),
            )),
            records: Arc::new(DynamoRecords::new(dynamo.clone(), tables.records.clone())),
            data: Arc::new(DynamoConnectionData::new(dynamo.clone(), tables.records.clone(), tables.sync_runs.clone())),
            store: Arc::new(DynamoStore::new(dynamo, tables)),
            secrets: Arc::new(SecretsManagerStore::new(secrets, secrets_prefix)),
            queue: Arc::new(SqsQueue::new(sqs, sync.queue_url)),
            schedules: Arc::new(SchedulerSchedules::new(
                scheduler,
                sync.schedule_group,
                sync.queue_arn,
                sync.scheduler_role_arn,
            )),
        }
    }

    /// Builds the clients from the environment.
    pub async fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self::new(Config::from_env()?).await)
    }

    /// The connection service over these adapters and the given connectors.
    pub fn connections(&self, connectors: Connectors) -> ConnectionService {
        ConnectionService::new(self.store.clone(), self.secrets.clone(), self.schedules.clone(), connectors)
    }

    /// The sync service over these adapters.
    pub fn syncs(&self, connectors: Connectors) -> SyncService {
        SyncService::new(self.sync_runs.clone(), self.queue.clone(), connectors)
    }

    /// The sync worker over these adapters.
    pub fn worker(&self, connectors: Connectors) -> Worker {
        Worker {
            runs: self.sync_runs.clone(),
            records: self.records.clone(),
            data: self.data.clone(),
            connections: self.store.clone(),
            secrets: self.secrets.clone(),
            service: self.syncs(connectors.clone()),
            connectors,
        }
    }

    /// The webhook endpoint operations over these adapters.
    pub fn webhooks(&self) -> WebhookService {
        WebhookService::new(self.webhooks.clone(), self.secrets.clone(), self.deliveries.clone(), self.policy)
    }

    /// The fan-out of events into deliveries.
    pub fn fanout(&self) -> Fanout {
        Fanout::new(self.webhooks.clone(), self.deliveries.clone())
    }

    /// The sender of deliveries, over HTTP under the address rules.
    pub fn dispatcher(&self) -> Dispatcher {
        Dispatcher::new(
            self.webhooks.clone(),
            self.secrets.clone(),
            Arc::new(HttpTransport::new(self.policy)),
            self.deliveries.clone(),
        )
    }

    /// What the API functions share: authentication and the connection service.
    pub fn services(&self, connectors: Connectors) -> Services {
        Services {
            tokens: self.store.clone(),
            accounts: self.store.clone(),
            idempotency: self.idempotency.clone(),
            records: RecordService::new(
                connectors.clone(),
                self.idempotency.clone(),
                self.records.clone(),
                self.secrets.clone(),
                self.store.clone(),
            )
            .with_in_flight(self.in_flight.clone()),
            syncs: self.syncs(connectors.clone()),
            webhooks: self.webhooks(),
            connections: self.connections(connectors),
            account_limits: Arc::default(),
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
    /// Idempotency keys (of connects; data writes hold their own through `records`).
    pub idempotency: Arc<dyn IdempotencyStore>,
    /// Connection operations.
    pub connections: ConnectionService,
    /// Data calls.
    pub records: RecordService,
    /// Sync runs.
    pub syncs: SyncService,
    /// Webhook endpoints and deliveries.
    pub webhooks: WebhookService,
    /// Accounts' own rate limits as read lately: they change rarely, and a read on every request
    /// would double what authenticating costs.
    account_limits: Arc<Mutex<AccountLimits>>,
}

/// Account id to its own rate limit (none: the defaults) and when that was read.
type AccountLimits = HashMap<String, (Option<u32>, Instant)>;

/// How long an account's own rate limit is taken as read.
const ACCOUNT_LIMIT_TTL: Duration = Duration::from_secs(60);

impl Services {
    /// Builds the services from the environment, with the connectors that ship.
    pub async fn from_env() -> Result<Self, MissingSetting> {
        let backends = Backends::from_env().await?;
        Ok(backends.services(Connectors::standard(backends.policy)))
    }

    /// The caller of a request, counted against its credential's rate limit (429 past it).
    pub async fn caller(&self, request: &ApiRequest) -> Result<Principal, ApiError> {
        let (window, resets_in) = limits::window(Utc::now());
        let (principal, used) =
            auth::authenticate(self.tokens.as_ref(), request.header("authorization"), window).await?;
        let (account_id, default) = match &principal {
            Principal::Account { account_id } => (account_id, limits::ACCOUNT_KEY_DEFAULT),
            Principal::Connection { account_id, .. } => (account_id, limits::CONNECTION_DEFAULT),
        };
        let limit = self.account_limit(account_id).await.unwrap_or(default);
        let usage = Usage { limit, used, resets_in };
        limits::note(usage);
        usage.check()?;
        Ok(principal)
    }

    /// An account's own rate limit, read at most `ACCOUNT_LIMIT_TTL` ago; none when it has none
    /// (or cannot be read now: the defaults apply).
    async fn account_limit(&self, account_id: &str) -> Option<u32> {
        let cached = self.account_limits.lock().ok()?.get(account_id).copied();
        if let Some((limit, _)) = cached.filter(|(_, read)| read.elapsed() < ACCOUNT_LIMIT_TTL) {
            return limit;
        }
        let limit = match self.accounts.account(account_id).await {
            Ok(account) => account.and_then(|a| a.rate_limit),
            Err(e) => {
                tracing::warn!(error = %e, "account's rate limit unread; the default applies");
                return None;
            }
        };
        if let Ok(mut cache) = self.account_limits.lock() {
            cache.insert(account_id.to_owned(), (limit, Instant::now()));
        }
        limit
    }
}
