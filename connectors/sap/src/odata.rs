//! OData V2 as SAP Gateway speaks it: the JSON envelope (`d`, `results`, `__next`), its value
//! forms (`/Date(ms)/`, `/Date(ms+0000)/`, decimals as strings), filter literals, and the error
//! body, read into what the connector reports.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use millwright::{connectors::ConnectorError, error::ErrorCode};

/// One page of an entity set as the server sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// The records.
    pub results: Vec<Map<String, Value>>,
    /// The server's link to the next page (opaque), if it paged.
    pub next: Option<String>,
}

/// Reads `{"d": {"results": [...], "__next"?}}` (or `{"d": [...]}`, as some services send).
pub fn collection(body: &Value) -> Result<Collection, ConnectorError> {
    let d = body.get("d").ok_or_else(|| ConnectorError::Upstream("an OData answer without \"d\"".into()))?;
    let (list, next) = match d {
        Value::Array(list) => (list, None),
        _ => (
            d.get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| ConnectorError::Upstream("an OData collection without \"results\"".into()))?,
            d.get("__next").and_then(Value::as_str).map(str::to_owned),
        ),
    };
    let results = list.iter().filter_map(Value::as_object).cloned().collect();
    Ok(Collection { results, next })
}

/// Reads `{"d": {…one entity…}}`.
pub fn entity(body: &Value) -> Result<Map<String, Value>, ConnectorError> {
    body.get("d")
        .and_then(Value::as_object)
        .cloned()
        .ok_or_else(|| ConnectorError::Upstream("an OData entity without \"d\"".into()))
}

/// A `/Date(1735689600000)/` or `/Date(1735689600000+0000)/` value as an instant.
pub fn date(value: &Value) -> Option<DateTime<Utc>> {
    let inner = value.as_str()?.strip_prefix("/Date(")?.strip_suffix(")/")?;
    // An offset, when present, says in which zone the value was shown; the number is UTC already.
    let millis = match inner.find(['+', '-']).filter(|&i| i > 0) {
        Some(i) => &inner[..i],
        None => inner,
    };
    DateTime::from_timestamp_millis(millis.parse().ok()?)
}

/// An instant in the form the unified model uses.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An instant as an `Edm.DateTimeOffset` filter literal.
pub fn datetimeoffset(at: DateTime<Utc>) -> String {
    format!("datetimeoffset'{}'", at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// An instant as the `/Date(ms)/` value a write sends for `Edm.DateTime`.
pub fn to_date(at: DateTime<Utc>) -> String {
    format!("/Date({})/", at.timestamp_millis())
}

/// A key value as a quoted OData string literal (quotes doubled).
pub fn quoted(key: &str) -> String {
    format!("'{}'", key.replace('\'', "''"))
}

/// What SAP said went wrong: its message code, text and the property it names.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SapError {
    /// The message class and number, e.g. `ME/164`.
    pub code: String,
    /// The text.
    pub message: String,
    /// The property the first detail names, if any.
    pub target: Option<String>,
}

impl SapError {
    /// Reads the error body; an unreadable one keeps the status's meaning with a generic text.
    pub fn parse(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let error = &value["error"];
        let details = error["innererror"]["errordetails"].as_array();
        let target = details
            .into_iter()
            .flatten()
            .filter_map(|d| d["target"].as_str().or_else(|| d["propertyref"].as_str()))
            .find(|t| !t.is_empty())
            .map(|t| t.rsplit('/').next().unwrap_or(t).to_owned());
        Self {
            code: error["code"].as_str().unwrap_or_default().to_owned(),
            message: error["message"]["value"].as_str().unwrap_or_default().to_owned(),
            target,
        }
    }

    /// The text shown to users: code and message, or `otherwise` when SAP sent neither (its
    /// logon errors are HTML pages).
    pub fn text(&self, otherwise: &str) -> String {
        match (self.code.is_empty(), self.message.is_empty()) {
            (true, true) => otherwise.into(),
            (true, false) => self.message.clone(),
            (false, true) => self.code.clone(),
            (false, false) => format!("{} {}", self.code, self.message),
        }
    }
}

/// Message classes whose errors mean the record's state forbids the change: status management
/// (`BS`) and purchasing's "document released" messages.
const STATE_MESSAGES: [&str; 3] = ["BS/", "ME/164", "06/029"];

/// The unified field a SAP property names in an error, where it has one.
fn field_of(property: &str) -> &str {
    match property {
        "Supplier" => "vendorKey",
        "Plant" => "siteKey",
        "DocumentCurrency" => "currencyKey",
        "PaymentTerms" => "terms",
        "MaintenanceOrderDesc" => "title",
        "MaintPriority" => "severity",
        other => other,
    }
}

/// Turns a SAP error answer into what the connector reports.
pub fn failure(status: u16, body: &[u8]) -> ConnectorError {
    let error = SapError::parse(body);
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("no details");
    let text = error.text(reason);
    match status {
        401 => ConnectorError::Rejected(format!("HTTP {status}: {text}")),
        403 => ConnectorError::Forbidden(format!("HTTP {status}: {text}")),
        404 => ConnectorError::NotFound,
        400 | 409 | 412 | 422 => {
            let field = error.target.as_deref().map(field_of);
            let code = if field == Some("vendorKey") {
                ErrorCode::InvalidVendor
            } else if STATE_MESSAGES.iter().any(|m| error.code.starts_with(m)) {
                ErrorCode::InvalidState
            } else {
                ErrorCode::InvalidRequest
            };
            ConnectorError::Rule { code, message: text, field: field.map(str::to_owned) }
        }
        _ => ConnectorError::Upstream(format!("HTTP {status}: {text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_read_with_and_without_offset() {
        let at = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(date(&json!("/Date(1735689600000)/")), Some(at));
        assert_eq!(date(&json!("/Date(1735689600000+0000)/")), Some(at));
        assert_eq!(date(&json!("/Date(1735689600000+0120)/")), Some(at));
        assert_eq!(date(&json!("2025-01-01")), None);
        assert_eq!(date(&Value::Null), None);
        assert_eq!(to_date(at), "/Date(1735689600000)/");
        assert_eq!(datetimeoffset(at), "datetimeoffset'2025-01-01T00:00:00.000Z'");
    }

    #[test]
    fn collections_carry_the_servers_next_link() {
        let page =
            collection(&json!({"d": {"results": [{"PurchaseOrder": "1"}], "__next": "https://x/A?$skiptoken=9"}}))
                .unwrap();
        assert_eq!((page.results.len(), page.next.as_deref()), (1, Some("https://x/A?$skiptoken=9")));
        assert!(collection(&json!({"error": {}})).is_err());
        assert_eq!(quoted("O'Brien"), "'O''Brien'");
    }

    #[test]
    fn errors_map_to_the_apis_codes() {
        let body = |code: &str, target: &str| {
            json!({"error": {"code": code, "message": {"lang": "en", "value": "text"},
                "innererror": {"errordetails": [{"code": code, "message": "text", "target": target, "propertyref": ""}]}}})
            .to_string()
        };
        let vendor = failure(400, body("ME/083", "Supplier").as_bytes());
        assert!(
            matches!(vendor, ConnectorError::Rule { code: ErrorCode::InvalidVendor, field: Some(ref f), .. } if f == "vendorKey")
        );
        let released = failure(400, body("ME/164", "").as_bytes());
        assert!(matches!(released, ConnectorError::Rule { code: ErrorCode::InvalidState, field: None, .. }));
        let status = failure(400, body("BS/013", "").as_bytes());
        assert!(matches!(status, ConnectorError::Rule { code: ErrorCode::InvalidState, .. }));
        let missing = failure(400, body("MEPO/002", "CompanyCode").as_bytes());
        assert!(matches!(missing, ConnectorError::Rule { code: ErrorCode::InvalidRequest, .. }));
        assert_eq!(failure(401, b"<html>"), ConnectorError::Rejected("HTTP 401: Unauthorized".into()));
        // 403 is a missing authorisation of a user SAP knows, not a wrong password.
        let no_role = failure(403, body("/IWBEP/CM_MGW_RT/022", "").as_bytes());
        assert!(matches!(no_role, ConnectorError::Forbidden(m) if m.starts_with("HTTP 403")), "403 is not Rejected");
        assert_eq!(failure(404, b""), ConnectorError::NotFound);
        assert!(
            matches!(failure(500, body("X/1", "").as_bytes()), ConnectorError::Upstream(m) if m.contains("X/1 text"))
        );
    }
}
