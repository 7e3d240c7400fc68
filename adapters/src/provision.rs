//! Creates the stack's resources on an AWS endpoint (the local moto server) from
//! infra/template.yaml itself — tables, queues with their dead-letter queues, schedule groups —
//! so the local stack and the deployed one share one definition. It also resolves the functions'
//! environment (`Globals.Function.Environment`) to what it created, and lists the functions'
//! SQS and DynamoDB stream event sources for the local pump (moto runs no event-source mappings)
//! and the functions themselves — binary, timeout, memory, HTTP API routes — for the local Lambda
//! service and API Gateway (`infra/local/gateway.py`).

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;

/// Why provisioning failed.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The template is not what this provisioner understands.
    #[error("template: {0}")]
    Template(String),
    /// AWS refused a call.
    #[error("aws: {0}")]
    Aws(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KeyElement {
    attribute_name: String,
    key_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeDef {
    attribute_name: String,
    attribute_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ProjectionDef {
    projection_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct IndexDef {
    index_name: String,
    key_schema: Vec<KeyElement>,
    projection: ProjectionDef,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TtlDef {
    attribute_name: String,
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TableDef {
    attribute_definitions: Vec<AttributeDef>,
    key_schema: Vec<KeyElement>,
    #[serde(default)]
    global_secondary_indexes: Vec<IndexDef>,
    time_to_live_specification: Option<TtlDef>,
    stream_specification: Option<StreamDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamDef {
    stream_view_type: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct QueueDef {
    visibility_timeout: Option<u32>,
    message_retention_period: Option<u32>,
    redrive_policy: Option<RedriveDef>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedriveDef {
    dead_letter_target_arn: Value,
    max_receive_count: u32,
}

/// The resources of one type a template declares, by logical id, with their properties.
fn resources<T: serde::de::DeserializeOwned>(
    template: &Value,
    kind: &str,
) -> Result<BTreeMap<String, T>, ProvisionError> {
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| ProvisionError::Template("no Resources".into()))?;
    let mut out = BTreeMap::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some(kind) {
            continue;
        }
        let id = id.as_str().ok_or_else(|| ProvisionError::Template("non-string logical id".into()))?;
        let props = resource.get("Properties").cloned().unwrap_or(Value::Mapping(Default::default()));
        let def: T = serde_yaml::from_value(props).map_err(|e| ProvisionError::Template(format!("{id}: {e}")))?;
        out.insert(id.to_owned(), def);
    }
    Ok(out)
}

/// The tables a template declares, by logical id.
fn tables(template: &Value) -> Result<BTreeMap<String, TableDef>, ProvisionError> {
    resources(template, "AWS::DynamoDB::Table")
}

/// The name a resource gets on the local stack.
pub fn resource_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}")
}

/// What `!Ref`, `!GetAtt …Arn` and `!GetAtt …StreamArn` of the created resources resolve to.
#[derive(Debug, Default)]
pub struct Created {
    refs: BTreeMap<String, String>,
    arns: BTreeMap<String, String>,
    streams: BTreeMap<String, String>,
}

impl Created {
    /// Resolves `!Ref X`, `!GetAtt X.Arn`, `!GetAtt X.StreamArn` and `!Sub` of `${AWS::StackName}`.
    fn resolve(&self, stack: &str, what: &str, value: &Value) -> Result<String, ProvisionError> {
        let unsupported = || ProvisionError::Template(format!("{what}: unsupported value"));
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Tagged(t) => {
                let inner = t.value.as_str().ok_or_else(unsupported)?;
                match t.tag.to_string().as_str() {
                    "!Ref" => self.refs.get(inner).cloned().ok_or_else(unsupported),
                    "!GetAtt" => match inner.split_once('.') {
                        Some((id, "Arn")) => self.arns.get(id).cloned().ok_or_else(unsupported),
                        Some((id, "StreamArn")) => self.streams.get(id).cloned().ok_or_else(unsupported),
                        _ => Err(unsupported()),
                    },
                    "!Sub" if !inner.replace("${AWS::StackName}", "").contains("${") => {
                        Ok(inner.replace("${AWS::StackName}", stack))
                    }
                    _ => Err(unsupported()),
                }
            }
            _ => Err(unsupported()),
        }
    }
}

/// The functions' environment on the local stack, resolved from `Globals.Function.Environment`.
pub fn environment(
    template: &Value,
    stack: &str,
    created: &Created,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let vars = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Environment"))
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .ok_or_else(|| ProvisionError::Template("no Globals.Function.Environment.Variables".into()))?;
    vars.iter()
        .map(|(k, v)| {
            let k = k.as_str().ok_or_else(|| ProvisionError::Template("non-string variable name".into()))?;
            Ok((k.to_owned(), created.resolve(stack, &format!("environment variable {k}"), v)?))
        })
        .collect()
}

fn key_schema(elements: &[KeyElement]) -> Result<Vec<KeySchemaElement>, ProvisionError> {
    elements
        .iter()
        .map(|k| {
            KeySchemaElement::builder()
                .attribute_name(&k.attribute_name)
                .key_type(KeyType::from(k.key_type.as_str()))
                .build()
                .map_err(|e| ProvisionError::Template(e.to_string()))
        })
        .collect()
}

/// Parses a template's text.
pub fn parse(text: &str) -> Result<Value, ProvisionError> {
    serde_yaml::from_str(text).map_err(|e| ProvisionError::Template(e.to_string()))
}

/// A function as the local Lambda service runs it and the local API Gateway routes to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionSpec {
    /// The binary (`Metadata.BuildProperties.Binary`), which is also its name locally.
    pub name: String,
    /// Seconds an invocation may run (`Timeout`, else the global one).
    pub timeout: u32,
    /// Megabytes (`MemorySize`, else the global one).
    pub memory: u32,
    /// Its `HttpApi` events.
    pub routes: Vec<RouteSpec>,
}

/// One `HttpApi` route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouteSpec {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path pattern, e.g. `/v1/connections/{id}`.
    pub path: String,
}

/// The binary a function resource builds.
fn binary<'t>(template: &'t Value, id: &str) -> Result<&'t str, ProvisionError> {
    template["Resources"][id]["Metadata"]["BuildProperties"]["Binary"]
        .as_str()
        .ok_or_else(|| ProvisionError::Template(format!("{id}: no Metadata.BuildProperties.Binary")))
}

/// Every function of the template, with what the local Lambda service and gateway need of it.
pub fn functions(template: &Value) -> Result<Vec<FunctionSpec>, ProvisionError> {
    let global = &template["Globals"]["Function"];
    let number = |function: &Value, key: &str| {
        function.get(key).or_else(|| global.get(key)).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok())
    };
    let mut out = Vec::new();
    for (id, function) in resources::<Value>(template, "AWS::Serverless::Function")? {
        let missing = |key: &str| ProvisionError::Template(format!("{id}: no {key} (nor a global one)"));
        let mut routes = Vec::new();
        for event in function.get("Events").and_then(Value::as_mapping).into_iter().flat_map(|m| m.values()) {
            if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                continue;
            }
            let field = |key: &str| {
                event["Properties"][key]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ProvisionError::Template(format!("{id}: an HttpApi event without {key}")))
            };
            routes.push(RouteSpec { method: field("Method")?.to_uppercase(), path: field("Path")? });
        }
        out.push(FunctionSpec {
            name: binary(template, &id)?.to_owned(),
            timeout: number(&function, "Timeout").ok_or_else(|| missing("Timeout"))?,
            memory: number(&function, "MemorySize").ok_or_else(|| missing("MemorySize"))?,
            routes,
        });
    }
    Ok(out)
}

/// What provisioning made: the functions' environment and their event sources.
#[derive(Debug)]
pub struct Provisioned {
    /// Variable name to value.
    pub env: BTreeMap<String, String>,
    /// Queue URL or table stream ARN to the binary of the function it triggers.
    pub sources: BTreeMap<String, String>,
}

fn aws<E: std::error::Error + 'static>(e: E) -> ProvisionError {
    ProvisionError::Aws(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())
}

/// Creates every table, queue and schedule group of the template under the stack's names (what
/// exists is kept) and resolves the functions' environment and event sources.
pub async fn provision(
    aws_config: &aws_config::SdkConfig,
    template: &Value,
    stack: &str,
) -> Result<Provisioned, ProvisionError> {
    let mut created = Created::default();
    create_tables(&aws_sdk_dynamodb::Client::new(aws_config), template, stack, &mut created).await?;
    create_queues(&aws_sdk_sqs::Client::new(aws_config), template, stack, &mut created).await?;
    let scheduler = aws_sdk_scheduler::Client::new(aws_config);
    for id in resources::<serde_yaml::Mapping>(template, "AWS::Scheduler::ScheduleGroup")?.into_keys() {
        let name = resource_name(stack, &id);
        match scheduler.create_schedule_group().name(&name).send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conflict_exception()) => {}
            Err(e) => return Err(aws(e)),
        }
        created.refs.insert(id, name);
    }
    // Roles are not created: moto's scheduler takes any role, and the local stack checks no IAM.
    let account = created.arns.values().find_map(|a| a.split(':').nth(4).map(str::to_owned)).unwrap_or_default();
    for id in resources::<serde_yaml::Mapping>(template, "AWS::IAM::Role")?.into_keys() {
        created.arns.insert(id.clone(), format!("arn:aws:iam::{account}:role/{}", resource_name(stack, &id)));
    }
    Ok(Provisioned { env: environment(template, stack, &created)?, sources: sources(template, stack, &created)? })
}

/// Queue URL (SQS events) or stream ARN (DynamoDB events) to function binary, for every
/// function of the template.
fn sources(template: &Value, stack: &str, created: &Created) -> Result<BTreeMap<String, String>, ProvisionError> {
    let mut out = BTreeMap::new();
    for (id, function) in resources::<Value>(template, "AWS::Serverless::Function")? {
        let binary = binary(template, &id)?;
        for event in function.get("Events").and_then(Value::as_mapping).into_iter().flat_map(|m| m.values()) {
            let source = match event.get("Type").and_then(Value::as_str) {
                Some("SQS") => {
                    let arn = created.resolve(stack, &format!("{id} SQS event"), &event["Properties"]["Queue"])?;
                    let (queue, _) = created.arns.iter().find(|(_, a)| **a == arn).ok_or_else(|| {
                        ProvisionError::Template(format!("{id}: SQS event on a queue the template does not declare"))
                    })?;
                    created.refs[queue].clone()
                }
                Some("DynamoDB") => {
                    created.resolve(stack, &format!("{id} stream event"), &event["Properties"]["Stream"])?
                }
                _ => continue,
            };
            out.insert(source, binary.to_owned());
        }
    }
    Ok(out)
}

/// Creates the queues, dead-letter queues first.
async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    template: &Value,
    stack: &str,
    created: &mut Created,
) -> Result<(), ProvisionError> {
    let mut queues: Vec<(String, QueueDef)> = resources(template, "AWS::SQS::Queue")?.into_iter().collect();
    queues.sort_by_key(|(_, q)| q.redrive_policy.is_some());
    for (id, def) in queues {
        let name = resource_name(stack, &id);
        let mut attributes = Vec::new();
        if let Some(v) = def.visibility_timeout {
            attributes.push(("VisibilityTimeout", v.to_string()));
        }
        if let Some(v) = def.message_retention_period {
            attributes.push(("MessageRetentionPeriod", v.to_string()));
        }
        if let Some(r) = &def.redrive_policy {
            let target = created.resolve(stack, &format!("{id} RedrivePolicy"), &r.dead_letter_target_arn)?;
            let policy = serde_json::json!({"deadLetterTargetArn": target, "maxReceiveCount": r.max_receive_count});
            attributes.push(("RedrivePolicy", policy.to_string()));
        }
        let create =
            attributes.into_iter().fold(sqs.create_queue().queue_name(&name), |c, (k, v)| c.attributes(k.into(), v));
        let url = create.send().await.map_err(aws)?.queue_url.unwrap_or_default();
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(aws)?
            .attributes
            .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .unwrap_or_default();
        created.refs.insert(id.clone(), url);
        created.arns.insert(id, arn);
    }
    Ok(())
}

/// Creates the tables (an existing table is kept).
async fn create_tables(
    dynamo: &aws_sdk_dynamodb::Client,
    template: &Value,
    stack: &str,
    created: &mut Created,
) -> Result<(), ProvisionError> {
    for (id, def) in tables(template)? {
        let name = resource_name(stack, &id);
        created.refs.insert(id.clone(), name.clone());
        let mut create = dynamo
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_schema(&def.key_schema)?));
        for a in &def.attribute_definitions {
            create = create.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(&a.attribute_name)
                    .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                    .build()
                    .map_err(|e| ProvisionError::Template(e.to_string()))?,
            );
        }
        for i in &def.global_secondary_indexes {
            create = create.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(&i.index_name)
                    .set_key_schema(Some(key_schema(&i.key_schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(i.projection.projection_type.as_str()))
                            .build(),
                    )
                    .build()
                    .map_err(|e| ProvisionError::Template(e.to_string()))?,
            );
        }
        if let Some(stream) = &def.stream_specification {
            create = create.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(stream.stream_view_type.as_str()))
                    .build()
                    .map_err(|e| ProvisionError::Template(e.to_string()))?,
            );
        }
        let fresh = match create.send().await {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => false,
            Err(e) => return Err(aws(e)),
        };
        if def.stream_specification.is_some() {
            let table = dynamo.describe_table().table_name(&name).send().await.map_err(aws)?.table;
            let arn = table.and_then(|t| t.latest_stream_arn).ok_or_else(|| {
                ProvisionError::Aws(format!("table {name} exists without a stream; delete it and provision again"))
            })?;
            created.streams.insert(id.clone(), arn);
        }
        if !fresh {
            continue;
        }
        if let Some(ttl) = def.time_to_live_specification {
            dynamo
                .update_time_to_live()
                .table_name(&name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(ttl.attribute_name)
                        .enabled(ttl.enabled)
                        .build()
                        .map_err(|e| ProvisionError::Template(e.to_string()))?,
                )
                .send()
                .await
                .map_err(aws)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../infra/template.yaml");

    #[test]
    fn the_real_template_resolves_every_function_variable() {
        let t = parse(TEMPLATE).unwrap();
        let mut created = Created::default();
        for (id, _) in tables(&t).unwrap() {
            created.refs.insert(id.clone(), resource_name("mw", &id));
        }
        for id in ["SyncQueue", "SyncDeadLetterQueue", "DeliveryQueue", "DeliveryDeadLetterQueue"] {
            created.refs.insert(id.into(), format!("http://q/{id}"));
            created.arns.insert(id.into(), format!("arn:aws:sqs:r:1:{id}"));
        }
        created.streams.insert("EventsTable".into(), "arn:aws:dynamodb:r:1:table/mw-EventsTable/stream/1".into());
        created.refs.insert("SyncSchedules".into(), "mw-SyncSchedules".into());
        created.arns.insert("SchedulerRole".into(), "arn:aws:iam::1:role/r".into());
        let env = environment(&t, "mw", &created).unwrap();
        assert_eq!(env["ACCOUNTS_TABLE"], "mw-AccountsTable");
        assert_eq!(env["SECRETS_PREFIX"], "mw/");
        assert_eq!(env["SYNC_QUEUE_ARN"], "arn:aws:sqs:r:1:SyncQueue");
        let sources = sources(&t, "mw", &created).unwrap();
        assert_eq!(sources.get("http://q/SyncQueue").map(String::as_str), Some("sync"));
        assert_eq!(sources.get("http://q/DeliveryQueue").map(String::as_str), Some("webhook-delivery"));
        assert_eq!(
            sources.get("arn:aws:dynamodb:r:1:table/mw-EventsTable/stream/1").map(String::as_str),
            Some("webhook-fanout")
        );
        assert_eq!(env["ALLOW_LOCAL_ADDRESSES"], "false");
    }

    /// The variables the functions read: `Config` is their one reader, so what it asks for.
    fn variables_read() -> std::collections::BTreeSet<String> {
        let read = std::sync::Mutex::new(std::collections::BTreeSet::new());
        crate::config::Config::from_lookup(|name| {
            read.lock().unwrap().insert(name.to_owned());
            Some("x".into())
        })
        .unwrap();
        read.into_inner().unwrap()
    }

    #[test]
    fn every_variable_a_function_reads_is_set_for_it_and_output_by_the_stack() {
        let t = parse(TEMPLATE).unwrap();
        let globals = t["Globals"]["Function"]["Environment"]["Variables"].as_mapping().unwrap();
        // The local stack gives every function the global variables and nothing else, as the
        // template does; a function's own variables would be a drift between the two.
        for (id, function) in resources::<Value>(&t, "AWS::Serverless::Function").unwrap() {
            assert!(function.get("Environment").is_none(), "{id} sets variables of its own");
        }
        let read = variables_read();
        assert!(read.len() >= 15 && read.contains("SECRETS_PREFIX"), "{read:?}");
        for name in read {
            assert!(globals.contains_key(name.as_str()), "the functions read {name}, which the template does not set");
            if name == "ALLOW_LOCAL_ADDRESSES" {
                continue; // the local-dev switch: never set on a deployed stack
            }
            let pascal: String = name.split('_').map(|w| w[..1].to_owned() + &w[1..].to_lowercase()).collect();
            assert!(t["Outputs"].get(format!("Setting{pascal}")).is_some(), "no Setting{pascal} output for {name}");
        }
    }

    #[test]
    fn the_functions_carry_their_routes_timeouts_and_memory() {
        let functions = functions(&parse(TEMPLATE).unwrap()).unwrap();
        let named = |name: &str| functions.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name}"));
        let connect = named("connect");
        assert_eq!((connect.timeout, connect.memory), (29, 256), "its own timeout, the global memory");
        assert!(connect.routes.contains(&RouteSpec { method: "GET".into(), path: "/v1/connections/{id}".into() }));
        assert_eq!(named("disconnect").timeout, 15, "the global timeout");
        let sync = named("sync");
        assert_eq!((sync.timeout, sync.routes.len()), (300, 0), "a queue's function has no routes");
        assert_eq!(functions.len(), 9);
    }

    #[test]
    fn the_delivery_queue_leaves_room_for_every_attempt_of_the_schedule_and_failed_handlings() {
        let queues: BTreeMap<String, QueueDef> = resources(&parse(TEMPLATE).unwrap(), "AWS::SQS::Queue").unwrap();
        let redrive = queues["DeliveryQueue"].redrive_policy.as_ref().unwrap();
        assert!(redrive.max_receive_count > millwright::webhooks::MAX_ATTEMPTS + 2, "{}", redrive.max_receive_count);
    }
}
