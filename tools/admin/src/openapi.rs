//! The OpenAPI document served at `GET /v1/openapi.json`: the hand-written parts in
//! openapi.yaml, plus the entity endpoints and schemas generated from the unified model, so the
//! document cannot drift from the fields the API accepts. `millwright-admin openapi` renders it
//! into docs/openapi.json, which the `connect` function serves as it is (nothing is parsed at
//! run time); a test here fails while that file is not what this renders.

use serde_json::{Map, Value, json};

use millwright::entities::{COMMON_FIELDS, Entity, FieldType, LINE_ITEM_FIELDS};

const BASE: &str = include_str!("../../../openapi.yaml");

fn field_schema(kind: FieldType) -> Value {
    match kind {
        FieldType::Text => json!({"type": ["string", "null"]}),
        FieldType::Decimal => {
            json!({"type": ["string", "null"], "pattern": "^-?[0-9]+(\\.[0-9]+)?$", "description": "An exact decimal."})
        }
        FieldType::DateTime => json!({"type": ["string", "null"], "format": "date-time"}),
        FieldType::Bool => json!({"type": "boolean"}),
        FieldType::Object => json!({"type": "object"}),
        FieldType::LineItems => json!({"type": "array", "items": {"$ref": "#/components/schemas/LineItem"}}),
    }
}

fn object(fields: &[(&str, FieldType)], required: &[&str]) -> Value {
    let properties: Map<String, Value> = fields.iter().map(|(n, t)| ((*n).to_owned(), field_schema(*t))).collect();
    json!({"type": "object", "required": required, "properties": properties})
}

fn error(codes: &[&str]) -> Map<String, Value> {
    codes.iter().map(|c| ((*c).to_owned(), json!({"$ref": "#/components/responses/Error"}))).collect()
}

fn ok(status: &str, description: &str, schema: Value, codes: &[&str]) -> Value {
    let mut responses = error(codes);
    responses.insert(
        status.into(),
        json!({"description": description,
               "headers": {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}},
               "content": {"application/json": {"schema": schema}}}),
    );
    Value::Object(responses)
}

const IDEMPOTENCY: &str = "IdempotencyKey";

/// The tag of an entity's operations, so that generated clients group them by resource.
fn tag(entity: Entity) -> String {
    let words = entity.path().replace('-', " ");
    words[..1].to_uppercase() + &words[1..]
}

/// An entity's named response schemas: one record, and a page of them.
fn envelopes(entity: Entity) -> [(String, Value); 2] {
    let name = entity.schema_name();
    let record = json!({"$ref": format!("#/components/schemas/{name}")});
    [
        (format!("{name}Result"), json!({"type": "object", "required": ["data"], "properties": {"data": record}})),
        (
            format!("{name}List"),
            json!({"type": "object", "required": ["data", "nextCursor"], "properties": {
                "data": {"type": "array", "items": record}, "nextCursor": {"type": ["string", "null"]}}}),
        ),
    ]
}

/// The endpoints of one entity.
fn paths(entity: Entity) -> [(String, Value); 3] {
    let name = entity.schema_name();
    let one = json!({"$ref": format!("#/components/schemas/{name}Result")});
    let page = json!({"$ref": format!("#/components/schemas/{name}List")});
    let security = json!([{"connectionToken": []}]);
    let read_security = json!([{"connectionToken": []}, {"accountKey": []}]);
    let connection = json!({"name": "connectionId", "in": "query", "schema": {"type": "string"},
        "description": "With the account key (required then): the connection whose synced copy to read, \
                        also after it was disconnected. Ignored with a connection token."});
    let key = json!({"name": "key", "in": "path", "required": true, "schema": {"type": "string"}});
    let idempotency = json!({"$ref": format!("#/components/parameters/{IDEMPOTENCY}")});
    let body = |schema: Value| json!({"required": true, "content": {"application/json": {"schema": schema}}});
    let write = json!({"$ref": format!("#/components/schemas/{name}Write")});
    let read_errors = ["400", "401", "403", "404", "405", "503"];
    let write_errors = ["400", "401", "403", "404", "405", "409", "413", "422", "502", "503", "504"];
    let what = entity.singular();
    let op = |verb: &str| format!("{verb}{name}");
    [
        (
            format!("/v1/{}", entity.path()),
            json!({
                "get": {"operationId": op("list"), "summary": format!("List {}s, ordered by key.", what),
                        "security": read_security, "parameters": [
                            {"$ref": "#/components/parameters/Limit"}, {"$ref": "#/components/parameters/Cursor"},
                            connection.clone(),
                            {"name": "modifiedAfter", "in": "query", "schema": {"type": "string", "format": "date-time"},
                             "description": "Only records changed after this instant."},
                            {"name": "status", "in": "query", "schema": {"type": "string"},
                             "description": "Only records with this statusKey."},
                            {"name": "includeDeleted", "in": "query", "schema": {"type": "boolean", "default": false}}],
                        "responses": ok("200", "A page of records.", page, &read_errors)},
                "post": {"operationId": op("create"), "summary": format!("Create a {what} in the system."),
                         "security": security, "parameters": [idempotency], "requestBody": body(write.clone()),
                         "responses": ok("201", "The record as the system stored it.", one.clone(), &write_errors)},
            }),
        ),
        (
            format!("/v1/{}/{{key}}", entity.path()),
            json!({
                "parameters": [key],
                "get": {"operationId": op("get"), "summary": format!("One {what}."), "security": read_security,
                        "parameters": [connection], "responses": ok("200", "The record.", one.clone(), &["400", "401", "403", "404", "405", "503"])},
                "patch": {"operationId": op("update"), "summary": format!("Change fields of a {what}."),
                          "security": security, "parameters": [idempotency], "requestBody": body(write),
                          "responses": ok("200", "The record after the change.", one.clone(), &write_errors)},
                "delete": {"operationId": op("delete"), "summary": format!("Delete a {what} (softly where the system keeps it)."),
                           "security": security, "parameters": [idempotency],
                           "responses": ok("200", "The record as it ends.", one.clone(), &write_errors)},
            }),
        ),
        (
            format!("/v1/{}/{{key}}/status", entity.path()),
            json!({
                "parameters": [key],
                "put": {"operationId": op("changeStatusOf"), "summary": format!("Move a {what} to a status."),
                        "security": security, "parameters": [idempotency],
                        "requestBody": body(json!({"$ref": "#/components/schemas/StatusChange"})),
                        "responses": ok("200", "The record after the change.", one, &write_errors)},
            }),
        ),
    ]
    .map(|(path, mut item)| {
        for operation in item.as_object_mut().into_iter().flat_map(|o| o.values_mut()).filter(|v| v.get("responses").is_some()) {
            operation["tags"] = json!([tag(entity)]);
        }
        (path, item)
    })
}

/// The whole document.
pub fn document() -> Value {
    let mut doc: Value = serde_yaml::from_str(BASE).expect("openapi.yaml is valid YAML (a unit test checks it)");
    for entity in Entity::ALL {
        for (path, item) in paths(entity) {
            doc["paths"][path] = item;
        }
        let mut fields: Vec<_> = COMMON_FIELDS.to_vec();
        fields.extend_from_slice(entity.fields());
        let mut read = object(&fields, &["key", "updatedAt", "deletedAt", "customFields", "remoteData"]);
        read["description"] = json!(format!("A {} in the unified model.", entity.singular()));
        let mut write = object(entity.fields(), &[]);
        write["properties"]["customFields"] = json!({"type": "object"});
        write["additionalProperties"] = json!(false);
        write["description"] = json!("Which fields a system accepts is in GET /v1/capabilities.");
        doc["components"]["schemas"][entity.schema_name()] = read;
        doc["components"]["schemas"][format!("{}Write", entity.schema_name())] = write;
        for (name, schema) in envelopes(entity) {
            doc["components"]["schemas"][name] = schema;
        }
        let description = format!("The connection's {} in the unified model.", entity.path().replace('-', " "));
        doc["tags"]
            .as_array_mut()
            .expect("openapi.yaml lists its tags")
            .push(json!({"name": tag(entity), "description": description}));
    }
    doc["components"]["schemas"]["StatusChange"] = json!({"type": "object", "additionalProperties": false,
        "required": ["statusKey"], "properties": {"statusKey": {"type": "string"}}});
    doc["components"]["schemas"]["LineItem"] = object(&LINE_ITEM_FIELDS, &[]);
    rate_limited(&mut doc);
    doc["components"]["parameters"][IDEMPOTENCY] = json!({
        "name": "Idempotency-Key", "in": "header", "required": false,
        "description": "Makes the write safe to retry for 24 hours: the same key and body answer the first response.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 255}});
    doc
}

/// The rate limit in the document: its headers on every answer of an authenticated operation,
/// and its 429 (Millwright's `RATE_LIMIT_EXCEEDED`, or API Gateway's own throttling).
fn rate_limited(doc: &mut Value) {
    let header = |description: &str| json!({"description": description, "schema": {"type": "integer", "minimum": 0}});
    let headers = &mut doc["components"]["headers"];
    headers["RateLimitLimit"] = header("Requests the credential may make in the current window.");
    headers["RateLimitRemaining"] = header("Requests left in the current window.");
    headers["RateLimitReset"] = header("Seconds until the window starts afresh.");
    headers["RetryAfter"] = header("Seconds to wait before retrying.");
    let limit_headers = [
        ("RateLimit-Limit", "RateLimitLimit"),
        ("RateLimit-Remaining", "RateLimitRemaining"),
        ("RateLimit-Reset", "RateLimitReset"),
    ];
    let add = |response: &mut Value| {
        for (name, component) in limit_headers {
            response["headers"][name] = json!({"$ref": format!("#/components/headers/{component}")});
        }
    };
    let mut limited = json!({
        "description": "Too many requests: the credential's rate limit (RATE_LIMIT_EXCEEDED; see Retry-After), or API \
                        Gateway's own throttling.",
        "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
        "content": {"application/json": {"schema": {"oneOf": [
            {"$ref": "#/components/schemas/Error"}, {"$ref": "#/components/schemas/GatewayMessage"}]}}}});
    add(&mut limited);
    doc["components"]["responses"]["RateLimited"] = limited;
    if let Some(error) = doc["components"]["responses"].get_mut("Error") {
        add(error);
    }
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let public = operation.get("security").and_then(Value::as_array).is_some_and(Vec::is_empty);
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        if public {
            continue;
        }
        for response in responses.values_mut().filter(|r| r.get("$ref").is_none()) {
            add(response);
        }
        responses.insert("429".into(), json!({"$ref": "#/components/responses/RateLimited"}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_document_is_the_rendered_one() {
        let served: Value = serde_json::from_str(include_str!("../../../docs/openapi.json")).unwrap();
        assert!(
            served == document(),
            "docs/openapi.json is stale: run `cargo run -q -p millwright-admin -- openapi > docs/openapi.json`"
        );
    }

    #[test]
    fn every_entity_has_its_endpoints_and_schemas() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for e in Entity::ALL {
            let list = &doc["paths"][format!("/v1/{}", e.path())];
            assert!(list["get"].is_object() && list["post"].is_object(), "{e:?}");
            assert!(doc["components"]["schemas"][e.schema_name()]["properties"]["remoteData"].is_object());
        }
        assert!(doc["paths"]["/v1/connections"]["post"].is_object(), "the hand-written part is kept");
    }

    /// Generated clients name their modules by tag and their types by schema: every operation
    /// has a tag the document lists, and no response or request body is an unnamed schema.
    #[test]
    fn every_operation_is_tagged_and_every_body_is_named() {
        let doc = document();
        let tags: Vec<&Value> = doc["tags"].as_array().unwrap().iter().map(|t| &t["name"]).collect();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap().iter().filter(|(m, _)| *m != "parameters") {
                let tag = &op["tags"][0];
                assert!(tags.contains(&tag), "{method} {path}: tag {tag}");
                let bodies = op["responses"].as_object().unwrap().values().chain(op.get("requestBody"));
                for body in bodies.filter_map(|b| b.get("content")) {
                    let schema = &body["application/json"]["schema"];
                    assert!(schema.get("$ref").is_some(), "{method} {path}: unnamed schema {schema}");
                }
            }
        }
    }
}
