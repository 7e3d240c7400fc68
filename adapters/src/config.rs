//! Where the functions find their resources: table names and the secret prefix come from the
//! environment (set by infra/template.yaml, or by the local provisioner from the same file).

use aws_config::{
    BehaviorVersion, Region, SdkConfig, environment::EnvironmentVariableCredentialsProvider, identity::IdentityCache,
    retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_async::{
    rt::sleep::{SharedAsyncSleep, TokioSleep},
    time::SharedTimeSource,
};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use chrono::Utc;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::{
    dynamo::DynamoStore, erasure::DynamoConnectionData, http::ApiRequest, idempotency::DynamoIdempotency,
    in_flight::DynamoInFlight, lazy::Lazy, metering::CountCalls, queue::SqsQueue, records::DynamoRecords,
    schedules::SchedulerSchedules, secrets::SecretsManagerStore, sessions::DynamoSessions, sync_runs::DynamoSyncRuns,
    webhooks::DynamoWebhooks,
};
use millwright::{
    auth,
    connect_sessions::ConnectSessions,
    connections::ConnectionService,
    connectors::Connectors,
    error::ApiError,
    limits::{self, Usage},
    model::Principal,
    ports::{AccountStore, TokenStore, WebhookTransport},
    records::RecordService,
    sign_in::SignIns,
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
    /// Connect sessions and dashboard sessions.
    pub sessions: String,
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
                sessions: var("SESSIONS_TABLE")?,
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

/// The AWS SDK's settings for tools and tests: the SDK's default chain (profiles, SSO, the
/// environment…, as an operator's machine has them) with the one HTTP client the project uses
/// for AWS (`aws_http_client`).
pub async fn aws_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).http_client(aws_http_client()).load().await
}

/// The AWS SDK's settings in a function: what Lambda's environment holds — the region, the
/// execution role's credentials, `AWS_ENDPOINT_URL` locally — with the SDK's defaults for
/// retries and timeouts. Unlike the default chain, it reads no file and asks no endpoint at
/// start-up, and its code (profiles, IMDS, STS, SSO) is not in the binaries.
pub fn function_aws_config() -> SdkConfig {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .credentials_provider(SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()))
        .http_client(aws_http_client())
        .sleep_impl(SharedAsyncSleep::new(TokioSleep::new()))
        .time_source(SharedTimeSource::default())
        .retry_config(RetryConfig::standard())
        .timeout_config(TimeoutConfig::builder().connect_timeout(SDK_CONNECT_TIMEOUT).build())
        .identity_cache(IdentityCache::lazy().build());
    config.set_region(env("AWS_REGION").or_else(|| env("AWS_DEFAULT_REGION")).map(Region::new));
    config.set_endpoint_url(env("AWS_ENDPOINT_URL"));
    config.build()
}

/// The SDK's default connect timeout (what `aws_config`'s loader sets).
const SDK_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// The roots AWS service endpoints chain to (Amazon Root CA 1–4 and Starfield Services Root
/// Certificate Authority – G2, as AWS publishes them), compiled in: no trust store is read
/// from disk, at start-up or at the first call.
const AWS_ROOTS: &[u8] = include_bytes!("aws-roots.pem");

/// The HTTP client of the AWS SDK: rustls on ring (the provider the connectors' client uses
/// too, so a binary holds one) trusting `AWS_ROOTS` alone.
pub fn aws_http_client() -> SharedHttpClient {
    let roots = TrustStore::empty().with_native_roots(false).with_pem_certificate(AWS_ROOTS);
    let tls = TlsContext::builder().with_trust_store(roots).build().expect("the compiled-in roots are valid PEM");
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .tls_context(tls)
        .build_https()
}

/// The AWS clients and settings of one function. Each SDK client is made the first time a call
/// needs it (`Lazy`), and each adapter when the function asks for it, so a function builds — and
/// links — only what it uses, and makes at start-up no client at all.
#[derive(Clone)]
pub struct Backends {
    config: Config,
    dynamo: Lazy<aws_sdk_dynamodb::Client>,
    secrets: Lazy<aws_sdk_secretsmanager::Client>,
    sqs: Lazy<aws_sdk_sqs::Client>,
    scheduler: Lazy<aws_sdk_scheduler::Client>,
}

impl Backends {
    /// The backends of a configuration, with the SDK's default chain (tools and tests;
    /// `AWS_ENDPOINT_URL` points them at a local stack).
    pub async fn new(config: Config) -> Self {
        Self::with_aws(aws_config().await, config)
    }

    /// The backends of a configuration over given SDK settings.
    pub fn with_aws(aws: SdkConfig, config: Config) -> Self {
        let (a, b, c, d) = (aws.clone(), aws.clone(), aws.clone(), aws);
        Self {
            config,
            dynamo: Lazy::new(move || {
                aws_sdk_dynamodb::Client::from_conf(
                    aws_sdk_dynamodb::config::Builder::from(&a).interceptor(CountCalls).build(),
                )
            }),
            secrets: Lazy::new(move || {
                aws_sdk_secretsmanager::Client::from_conf(
                    aws_sdk_secretsmanager::config::Builder::from(&b).interceptor(CountCalls).build(),
                )
            }),
            sqs: Lazy::new(move || {
                aws_sdk_sqs::Client::from_conf(aws_sdk_sqs::config::Builder::from(&c).interceptor(CountCalls).build())
            }),
            scheduler: Lazy::new(move || {
                aws_sdk_scheduler::Client::from_conf(
                    aws_sdk_scheduler::config::Builder::from(&d).interceptor(CountCalls).build(),
                )
            }),
        }
    }

    /// A function's backends: the environment's configuration and SDK settings.
    pub fn from_env() -> Result<Self, MissingSetting> {
        Ok(Self::with_aws(function_aws_config(), Config::from_env()?))
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The address rules outbound calls (webhooks, connectors) follow.
    pub fn policy(&self) -> AddressPolicy {
        self.config.webhooks.policy
    }

    /// Accounts, connections and tokens.
    pub fn store(&self) -> Arc<DynamoStore> {
        Arc::new(DynamoStore::new(self.dynamo.clone(), self.config.tables.clone()))
    }

    /// Connection credentials and webhook secrets.
    pub fn secrets(&self) -> Arc<SecretsManagerStore> {
        Arc::new(SecretsManagerStore::new(self.secrets.clone(), self.config.secrets_prefix.clone()))
    }

    /// Idempotency keys.
    pub fn idempotency(&self) -> Arc<DynamoIdempotency> {
        Arc::new(DynamoIdempotency::new(self.dynamo.clone(), self.config.tables.idempotency.clone()))
    }

    /// Places for calls in flight to customers' systems.
    pub fn in_flight(&self) -> Arc<DynamoInFlight> {
        Arc::new(DynamoInFlight::new(self.dynamo.clone(), self.config.tables.in_flight.clone()))
    }

    /// Sync runs, leases, marks and events.
    pub fn sync_runs(&self) -> Arc<DynamoSyncRuns> {
        let tables = &self.config.tables;
        Arc::new(DynamoSyncRuns::new(
            self.dynamo.clone(),
            tables.sync_runs.clone(),
            tables.connections.clone(),
            tables.events.clone(),
        ))
    }

    /// Synced records.
    pub fn records(&self) -> Arc<DynamoRecords> {
        Arc::new(DynamoRecords::new(self.dynamo.clone(), self.config.tables.records.clone()))
    }

    /// A connection's records, runs and marks, for deleting them.
    pub fn data(&self) -> Arc<DynamoConnectionData> {
        let tables = &self.config.tables;
        Arc::new(DynamoConnectionData::new(self.dynamo.clone(), tables.records.clone(), tables.sync_runs.clone()))
    }

    /// The sync queue.
    pub fn queue(&self) -> Arc<SqsQueue> {
        Arc::new(SqsQueue::new(self.sqs.clone(), self.config.sync.queue_url.clone()))
    }

    /// Per-connection schedules.
    pub fn schedules(&self) -> Arc<SchedulerSchedules> {
        let sync = &self.config.sync;
        Arc::new(SchedulerSchedules::new(
            self.scheduler.clone(),
            sync.schedule_group.clone(),
            sync.queue_arn.clone(),
            sync.scheduler_role_arn.clone(),
        ))
    }

    /// Webhook endpoints and deliveries.
    pub fn webhook_store(&self) -> Arc<DynamoWebhooks> {
        let tables = &self.config.tables;
        Arc::new(DynamoWebhooks::new(
            self.dynamo.clone(),
            tables.webhook_endpoints.clone(),
            tables.webhook_deliveries.clone(),
        ))
    }

    /// The delivery queue.
    pub fn deliveries(&self) -> Arc<SqsQueue> {
        Arc::new(SqsQueue::new(self.sqs.clone(), self.config.webhooks.delivery_queue_url.clone()))
    }

    /// The connection service over these adapters and the given connectors (none where the
    /// function only reads and ends connections).
    pub fn connections(&self, connectors: Connectors) -> ConnectionService {
        ConnectionService::new(self.store(), self.secrets(), self.schedules(), connectors)
    }

    /// The sync service over these adapters (connectors that describe what systems support are
    /// enough: it never calls one).
    pub fn syncs(&self, connectors: Connectors) -> SyncService {
        SyncService::new(self.sync_runs(), self.queue(), connectors)
    }

    /// The sync worker over these adapters.
    pub fn worker(&self, connectors: Connectors) -> Worker {
        let store = self.store();
        Worker {
            runs: self.sync_runs(),
            records: self.records(),
            data: self.data(),
            connections: store,
            secrets: self.secrets(),
            service: self.syncs(connectors.clone()),
            connectors,
            in_flight: Some(self.in_flight()),
        }
    }

    /// Data calls through the connectors, with the synced copy.
    pub fn record_service(&self, connectors: Connectors) -> RecordService {
        RecordService::new(connectors, self.idempotency(), self.records(), self.secrets(), self.store())
            .with_in_flight(self.in_flight())
    }

    /// The webhook endpoint operations over these adapters.
    pub fn webhooks(&self) -> WebhookService {
        WebhookService::new(self.webhook_store(), self.secrets(), self.deliveries(), self.policy())
    }

    /// The fan-out of events into deliveries.
    pub fn fanout(&self) -> Fanout {
        Fanout::new(self.webhook_store(), self.deliveries())
    }

    /// The sender of deliveries through a transport.
    pub fn dispatcher(&self, transport: Arc<dyn WebhookTransport>) -> Dispatcher {
        Dispatcher::new(self.webhook_store(), self.secrets(), transport, self.deliveries())
    }

    /// Connect and dashboard sessions.
    pub fn sessions(&self) -> Arc<DynamoSessions> {
        Arc::new(DynamoSessions::new(self.dynamo.clone(), self.config.tables.sessions.clone()))
    }

    /// Hosted connect sessions, connecting through the given connection service.
    pub fn connect_sessions(&self, connections: ConnectionService, connectors: Connectors) -> ConnectSessions {
        ConnectSessions::new(self.sessions(), connections, self.webhooks(), self.syncs(connectors), self.policy())
    }

    /// Dashboard sign-in.
    pub fn sign_ins(&self) -> SignIns {
        SignIns::new(self.store(), self.sessions())
    }

    /// What every API function holds: who calls, and the connections they may see.
    pub fn api(&self, connections: ConnectionService) -> Api {
        let store = self.store();
        Api { tokens: store.clone(), accounts: store, connections, account_limits: Arc::default() }
    }
}

/// What every API function keeps between invocations: authentication (with the rate limits) and
/// the connection service. Each function keeps beside it the services it serves.
#[derive(Clone)]
pub struct Api {
    /// Bearer credential lookups.
    pub tokens: Arc<dyn TokenStore>,
    /// Credit pools.
    pub accounts: Arc<dyn AccountStore>,
    /// Connection operations.
    pub connections: ConnectionService,
    /// Accounts' own rate limits as read lately: they change rarely, and a read on every request
    /// would double what authenticating costs.
    account_limits: Arc<Mutex<AccountLimits>>,
}

/// Account id to its own rate limit (none: the defaults) and when that was read.
type AccountLimits = HashMap<String, (Option<u32>, Instant)>;

/// How long an account's own rate limit is taken as read.
const ACCOUNT_LIMIT_TTL: Duration = Duration::from_secs(60);

impl Api {
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
