//! What a system can do to each entity — operations, creatable and updatable fields, statuses
//! and state rules — and the checks that enforce it before the system is called.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::{
    entities::{Entity, FieldType, LINE_ITEM_FIELDS, Record},
    error::{ApiError, ErrorCode},
};

/// An operation on an entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `GET /v1/{entity}`
    List,
    /// `GET /v1/{entity}/{key}`
    Get,
    /// `POST /v1/{entity}`
    Create,
    /// `PATCH /v1/{entity}/{key}`
    Update,
    /// `PUT /v1/{entity}/{key}/status`
    ChangeStatus,
    /// `DELETE /v1/{entity}/{key}`
    Delete,
}

/// A field a create may or must set; `lineItems[].x` names a field of each line item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldRule {
    /// Field path.
    pub field: &'static str,
    /// Whether a create without it is refused.
    pub required: bool,
}

impl FieldRule {
    /// Rules from `(field, required)` pairs, as connectors declare them.
    pub fn list(fields: &[(&'static str, bool)]) -> Vec<FieldRule> {
        fields.iter().map(|&(field, required)| FieldRule { field, required }).collect()
    }
}

/// One status of an entity in the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The value of `statusKey`.
    pub key: &'static str,
    /// For people.
    pub name: &'static str,
}

/// A rule of the system about records' states.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StateRule {
    /// Records in these statuses cannot be changed by these operations.
    Frozen {
        /// Statuses in which the record is locked.
        statuses: Vec<&'static str>,
        /// What is refused then.
        operations: Vec<Operation>,
        /// For people.
        description: &'static str,
    },
    /// The status changes the system allows: from a status to the ones listed.
    Transitions {
        /// Allowed moves.
        allowed: BTreeMap<&'static str, Vec<&'static str>>,
    },
    /// Delete does not erase: the record stays, with `deletedAt` set.
    SoftDelete,
}

/// What a system supports for one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityCapabilities {
    /// The entity.
    pub entity: Entity,
    /// Supported operations.
    pub operations: Vec<Operation>,
    /// Fields a create may set.
    pub creatable: Vec<FieldRule>,
    /// Fields an update may change.
    pub updatable: Vec<&'static str>,
    /// The entity's statuses.
    pub statuses: Vec<Status>,
    /// The state rules.
    pub rules: Vec<StateRule>,
}

/// A system's capabilities, entity by entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Capabilities(pub Vec<EntityCapabilities>);

impl Capabilities {
    /// The capabilities for an entity (an entity the system does not know supports nothing).
    pub fn of(&self, entity: Entity) -> EntityCapabilities {
        self.0.iter().find(|c| c.entity == entity).cloned().unwrap_or_else(|| EntityCapabilities::none(entity))
    }

    /// The entities the system can list — the ones a sync can copy — in the API's order.
    pub fn listable(&self) -> Vec<Entity> {
        Entity::ALL.iter().copied().filter(|&e| self.of(e).operations.contains(&Operation::List)).collect()
    }
}

fn status_of(record: &Record) -> &str {
    record.get("statusKey").and_then(Value::as_str).unwrap_or_default()
}

fn type_ok(kind: FieldType, value: &Value) -> bool {
    match kind {
        FieldType::Text => value.is_string() || value.is_null(),
        FieldType::Decimal => {
            value.is_null() || value.as_str().is_some_and(|s| s.parse::<rust_decimal::Decimal>().is_ok())
        }
        FieldType::DateTime => {
            value.is_null() || value.as_str().is_some_and(|s| chrono::DateTime::parse_from_rfc3339(s).is_ok())
        }
        FieldType::Bool => value.is_boolean(),
        FieldType::Object => value.is_object(),
        FieldType::LineItems => value.is_array(),
    }
}

fn expected(kind: FieldType) -> &'static str {
    match kind {
        FieldType::Text => "a string",
        FieldType::Decimal => "a decimal number as a string, such as \"12.50\"",
        FieldType::DateTime => "an RFC 3339 timestamp",
        FieldType::Bool => "true or false",
        FieldType::Object => "an object",
        FieldType::LineItems => "an array of line items",
    }
}

/// Checks the shape of a write body: every field is one of the entity's, of the right type.
fn check_types(entity: Entity, body: &Record) -> Result<(), ApiError> {
    for (name, value) in body {
        let kind = entity.field(name).ok_or_else(|| {
            ApiError::invalid_field(name.clone(), format!("{} has no field \"{name}\"", entity.singular()))
        })?;
        if !type_ok(kind, value) {
            return Err(ApiError::invalid_field(name.clone(), format!("must be {}", expected(kind))));
        }
        if kind == FieldType::LineItems {
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                let item = item
                    .as_object()
                    .ok_or_else(|| ApiError::invalid_field(format!("{name}[{i}]"), "must be an object"))?;
                for (field, v) in item {
                    let path = format!("{name}[{i}].{field}");
                    let kind = LINE_ITEM_FIELDS
                        .iter()
                        .find(|(n, _)| n == field)
                        .map(|(_, t)| *t)
                        .ok_or_else(|| ApiError::invalid_field(path.clone(), "a line item has no such field"))?;
                    if !type_ok(kind, v) {
                        return Err(ApiError::invalid_field(path, format!("must be {}", expected(kind))));
                    }
                }
            }
        }
    }
    Ok(())
}

fn not_settable(field: &str, why: &str) -> ApiError {
    ApiError::new(ErrorCode::FieldNotUpdatable, format!("\"{field}\" {why}.")).with_field(field, why)
}

impl EntityCapabilities {
    /// An entity the system does nothing with.
    pub fn none(entity: Entity) -> Self {
        Self {
            entity,
            operations: Vec::new(),
            creatable: Vec::new(),
            updatable: Vec::new(),
            statuses: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// An entity the system only lets read: list and get, with these statuses.
    pub fn read_only(entity: Entity, statuses: Vec<Status>) -> Self {
        Self { operations: vec![Operation::List, Operation::Get], statuses, ..Self::none(entity) }
    }

    /// 405 unless the system supports the operation on this entity.
    pub fn require(&self, operation: Operation) -> Result<(), ApiError> {
        if self.operations.contains(&operation) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorCode::OperationNotSupported,
            format!("This system does not support {operation:?} on {}; see GET /v1/capabilities.", self.entity.path()),
        ))
    }

    /// Validates a create body: known fields of the right type (400), only creatable ones (422),
    /// every required one present (400 naming each).
    pub fn check_create(&self, body: &Record) -> Result<(), ApiError> {
        self.require(Operation::Create)?;
        check_types(self.entity, body)?;
        let allowed = |path: &str| self.creatable.iter().any(|r| r.field == path);
        for (name, value) in body {
            if !allowed(name) {
                return Err(not_settable(name, "cannot be set when creating"));
            }
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                for field in item.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !allowed(&format!("{name}[].{field}")) {
                        return Err(not_settable(&format!("{name}[{i}].{field}"), "cannot be set when creating"));
                    }
                }
            }
        }
        let mut missing = ApiError::new(ErrorCode::InvalidRequest, "Required fields are missing.");
        for rule in self.creatable.iter().filter(|r| r.required) {
            match rule.field.split_once("[].") {
                None if body.get(rule.field).is_none_or(Value::is_null) => {
                    missing = missing.with_field(rule.field, "required");
                }
                None => {}
                Some((list, field)) => {
                    for (i, item) in body.get(list).and_then(Value::as_array).into_iter().flatten().enumerate() {
                        if item.get(field).is_none_or(Value::is_null) {
                            missing = missing.with_field(format!("{list}[{i}].{field}"), "required");
                        }
                    }
                }
            }
        }
        if missing.details.is_empty() { Ok(()) } else { Err(missing) }
    }

    fn check_not_frozen(&self, operation: Operation, current: &Record) -> Result<(), ApiError> {
        let status = status_of(current);
        for rule in &self.rules {
            if let StateRule::Frozen { statuses, operations, description } = rule
                && operations.contains(&operation)
                && statuses.contains(&status)
            {
                return Err(ApiError::new(ErrorCode::InvalidState, format!("{description} (status \"{status}\").")));
            }
        }
        Ok(())
    }

    /// Validates an update of `current`: fields known and typed (400), updatable (422), and the
    /// record's state allows changes (422).
    pub fn check_update(&self, patch: &Record, current: &Record) -> Result<(), ApiError> {
        self.require(Operation::Update)?;
        if patch.is_empty() {
            return Err(ApiError::new(ErrorCode::InvalidRequest, "The update changes no field."));
        }
        check_types(self.entity, patch)?;
        if let Some(field) = patch.keys().find(|f| !self.updatable.contains(&f.as_str())) {
            let why = if field == "statusKey" { "changes through PUT …/status" } else { "cannot be updated" };
            return Err(not_settable(field, why));
        }
        self.check_not_frozen(Operation::Update, current)
    }

    /// Validates a status change of `current` to `to`.
    pub fn check_status(&self, current: &Record, to: &str) -> Result<(), ApiError> {
        self.require(Operation::ChangeStatus)?;
        if !self.statuses.iter().any(|s| s.key == to) {
            let known: Vec<_> = self.statuses.iter().map(|s| s.key).collect();
            return Err(ApiError::invalid_field("statusKey", format!("unknown status; one of {}", known.join(", "))));
        }
        self.check_not_frozen(Operation::ChangeStatus, current)?;
        let from = status_of(current);
        for rule in &self.rules {
            if let StateRule::Transitions { allowed } = rule
                && !allowed.get(from).is_some_and(|to_list| to_list.contains(&to))
            {
                return Err(ApiError::new(
                    ErrorCode::InvalidState,
                    format!("A {} cannot move from \"{from}\" to \"{to}\".", self.entity.singular()),
                ));
            }
        }
        Ok(())
    }

    /// Validates a delete of `current`.
    pub fn check_delete(&self, current: &Record) -> Result<(), ApiError> {
        self.require(Operation::Delete)?;
        self.check_not_frozen(Operation::Delete, current)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn po_caps() -> EntityCapabilities {
        EntityCapabilities {
            entity: Entity::PurchaseOrders,
            operations: vec![Operation::Create, Operation::Update, Operation::ChangeStatus],
            creatable: vec![
                FieldRule { field: "vendorKey", required: true },
                FieldRule { field: "lineItems", required: true },
                FieldRule { field: "lineItems[].materialKey", required: true },
                FieldRule { field: "lineItems[].quantity", required: true },
                FieldRule { field: "title", required: false },
            ],
            updatable: vec!["title"],
            statuses: vec![Status { key: "draft", name: "Draft" }, Status { key: "approved", name: "Approved" }],
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["approved"],
                    operations: vec![Operation::Update],
                    description: "An approved order cannot change",
                },
                StateRule::Transitions { allowed: BTreeMap::from([("draft", vec!["approved"])]) },
            ],
        }
    }

    fn rec(v: Value) -> Record {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn create_rules() {
        let c = po_caps();
        let ok = rec(json!({"vendorKey": "V", "lineItems": [{"materialKey": "M", "quantity": "2"}]}));
        assert!(c.check_create(&ok).is_ok());
        let missing = c.check_create(&rec(json!({"lineItems": [{"materialKey": "M"}]}))).unwrap_err();
        assert_eq!(missing.code, ErrorCode::InvalidRequest);
        let fields: Vec<_> = missing.details.iter().map(|d| d.field.clone().unwrap()).collect();
        assert_eq!(fields, ["vendorKey", "lineItems[0].quantity"]);
        let not_creatable = c.check_create(&rec(json!({"vendorKey": "V", "orderNo": "x"}))).unwrap_err();
        assert_eq!(not_creatable.code, ErrorCode::FieldNotUpdatable);
        let bad_type = c.check_create(&rec(json!({"vendorKey": 4}))).unwrap_err();
        assert_eq!(
            (bad_type.code, bad_type.details[0].field.as_deref()),
            (ErrorCode::InvalidRequest, Some("vendorKey"))
        );
        let bad_decimal =
            c.check_create(&rec(json!({"vendorKey": "V", "lineItems": [{"materialKey": "M", "quantity": 2.5}]})));
        assert_eq!(bad_decimal.unwrap_err().details[0].field.as_deref(), Some("lineItems[0].quantity"));
    }

    #[test]
    fn update_status_and_delete_rules() {
        let c = po_caps();
        let draft = rec(json!({"statusKey": "draft"}));
        let approved = rec(json!({"statusKey": "approved"}));
        assert!(c.check_update(&rec(json!({"title": "t"})), &draft).is_ok());
        assert_eq!(c.check_update(&rec(json!({"title": "t"})), &approved).unwrap_err().code, ErrorCode::InvalidState);
        assert_eq!(
            c.check_update(&rec(json!({"vendorKey": "V"})), &draft).unwrap_err().code,
            ErrorCode::FieldNotUpdatable
        );
        assert!(c.check_status(&draft, "approved").is_ok());
        assert_eq!(c.check_status(&approved, "draft").unwrap_err().code, ErrorCode::InvalidState);
        assert_eq!(c.check_status(&draft, "nope").unwrap_err().code, ErrorCode::InvalidRequest);
        assert_eq!(c.check_delete(&draft).unwrap_err().code, ErrorCode::OperationNotSupported);
    }
}
