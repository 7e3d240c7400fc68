//! Creates the stack's storage on an AWS endpoint (the local moto server) from
//! infra/template.yaml itself, so the local stack and the deployed one share one definition.
//! It also resolves the functions' environment (`Globals.Function.Environment`) to the names it
//! created.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use serde::Deserialize;
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
}

/// The tables a template declares, by logical id.
fn tables(template: &Value) -> Result<BTreeMap<String, TableDef>, ProvisionError> {
    let resources = template
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| ProvisionError::Template("no Resources".into()))?;
    let mut out = BTreeMap::new();
    for (id, resource) in resources {
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::DynamoDB::Table") {
            continue;
        }
        let id = id.as_str().ok_or_else(|| ProvisionError::Template("non-string logical id".into()))?;
        let props = resource.get("Properties").cloned().unwrap_or(Value::Null);
        let def: TableDef =
            serde_yaml::from_value(props).map_err(|e| ProvisionError::Template(format!("{id}: {e}")))?;
        out.insert(id.to_owned(), def);
    }
    Ok(out)
}

/// The name a table gets on the local stack.
pub fn table_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}")
}

/// Resolves one environment value of the template: a scalar, `!Ref` of a table, or `!Sub` of
/// `${AWS::StackName}`.
fn resolve(stack: &str, name: &str, value: &Value) -> Result<String, ProvisionError> {
    let unsupported = || ProvisionError::Template(format!("environment variable {name}: unsupported value"));
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(t) => {
            let inner = t.value.as_str().ok_or_else(unsupported)?;
            match t.tag.to_string().as_str() {
                "!Ref" => Ok(table_name(stack, inner)),
                "!Sub" if !inner.replace("${AWS::StackName}", "").contains("${") => {
                    Ok(inner.replace("${AWS::StackName}", stack))
                }
                _ => Err(unsupported()),
            }
        }
        _ => Err(unsupported()),
    }
}

/// The functions' environment on the local stack, resolved from `Globals.Function.Environment`.
pub fn environment(template: &Value, stack: &str) -> Result<BTreeMap<String, String>, ProvisionError> {
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
            Ok((k.to_owned(), resolve(stack, k, v)?))
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

/// Creates every table of the template under the stack's names (an existing table is kept) and
/// returns the functions' environment.
pub async fn provision(
    dynamo: &aws_sdk_dynamodb::Client,
    template: &Value,
    stack: &str,
) -> Result<BTreeMap<String, String>, ProvisionError> {
    let env = environment(template, stack)?;
    for (id, def) in tables(template)? {
        let name = table_name(stack, &id);
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
        match create.send().await {
            Ok(_) => {}
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_in_use_exception()) => continue,
            Err(e) => return Err(ProvisionError::Aws(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string())),
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
                .map_err(|e| ProvisionError::Aws(aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()))?;
        }
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

    #[test]
    fn the_real_template_resolves_every_function_variable() {
        let t = parse(TEMPLATE).unwrap();
        let env = environment(&t, "mw").unwrap();
        assert_eq!(env["ACCOUNTS_TABLE"], "mw-AccountsTable");
        assert_eq!(env["SECRETS_PREFIX"], "mw/");
        let tables = tables(&t).unwrap();
        assert!(tables.contains_key("TokensTable") && tables.contains_key("ConnectionsTable"));
    }
}
