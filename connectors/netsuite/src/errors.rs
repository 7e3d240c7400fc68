//! NetSuite's error answers, read by status and `o:errorCode` (never by `type` or the detail's
//! wording, which change between releases), and what each means to Millwright. `o:errorPath`
//! points into the body NetSuite was sent; it is turned back into the unified field it came from.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use millwright::{connectors::ConnectorError, error::ErrorCode};
use millwright_outbound::upstream::Answer;

use crate::mapping::unified_path;

/// How long to leave NetSuite alone when its concurrency limit stayed full through the retries.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);
/// The longest detail of NetSuite's passed on.
const MAX_MESSAGE: usize = 500;

/// The first entry of `o:errorDetails`: its code, detail and path.
pub struct Detail {
    /// `o:errorCode`, e.g. `INVALID_CONTENT`.
    pub code: Option<String>,
    /// What NetSuite says.
    pub text: String,
    /// `o:errorPath`, e.g. `item.items[0].item`.
    pub path: Option<String>,
}

/// The detail of an error answer, or the status's reason when the body is not NetSuite's.
pub fn detail(answer: &Answer) -> Detail {
    let body = serde_json::from_slice::<Value>(&answer.body).ok();
    let first = body.as_ref().and_then(|b| b.pointer("/o:errorDetails/0"));
    let text =
        |name: &str| first.and_then(|d| d.get(name)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let code = text("o:errorCode").map(str::to_owned);
    let reason = answer.status.canonical_reason().unwrap_or("no reason given");
    let said = text("detail").unwrap_or(reason);
    let message = match &code {
        Some(code) => format!("{code} - {said}"),
        None => said.to_owned(),
    };
    Detail { code, text: message.chars().take(MAX_MESSAGE).collect(), path: text("o:errorPath").map(str::to_owned) }
}

/// What an error answer means.
pub fn failure(answer: &Answer) -> ConnectorError {
    let Detail { code, text, path } = detail(answer);
    let rule = |code, field: Option<String>| ConnectorError::Rule { code, message: text.clone(), field };
    match answer.status {
        // After a fresh token was refused too: the integration, role or certificate.
        StatusCode::UNAUTHORIZED => ConnectorError::Rejected(text),
        StatusCode::FORBIDDEN => ConnectorError::Forbidden(text),
        StatusCode::NOT_FOUND => ConnectorError::NotFound,
        StatusCode::BAD_REQUEST => match (code.as_deref(), path) {
            // The record exists already under the reference a create carried.
            (_, Some(path)) if path == "externalId" => rule(ErrorCode::Conflict, None),
            (_, Some(path)) if path == "entity" => rule(ErrorCode::InvalidVendor, Some("vendorKey".into())),
            (Some("USER_ERROR" | "INVALID_CONTENT" | "INVALID_KEY_OR_REF"), Some(path)) => {
                rule(ErrorCode::InvalidValue, Some(unified_path(&path)))
            }
            // A query or body this connector built wrong: not the caller's to fix.
            (Some("INVALID_PARAMETER" | "NONEXISTENT_FIELD"), _) => {
                ConnectorError::Upstream(format!("NetSuite did not accept the request: {text}"))
            }
            _ => rule(ErrorCode::InvalidRequest, None),
        },
        // The account's concurrency limit, full: NetSuite sends no Retry-After.
        StatusCode::TOO_MANY_REQUESTS => ConnectorError::Unavailable { reason: text, retry_after: Some(BUSY_WAIT) },
        status => ConnectorError::Upstream(format!("HTTP {}: {text}", status.as_u16())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(status: u16, code: &str, detail: &str, path: Option<&str>) -> Answer {
        let mut entry = json!({"detail": detail, "o:errorCode": code});
        if let Some(p) = path {
            entry["o:errorPath"] = p.into();
        }
        let body = json!({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.1", "title": "Bad Request",
                          "status": status, "o:errorDetails": [entry]});
        Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: body.to_string().into_bytes(),
        }
    }

    fn rule(e: ConnectorError) -> (ErrorCode, Option<String>, String) {
        match e {
            ConnectorError::Rule { code, field, message } => (code, field, message),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_map_by_status_code_and_path() {
        let bad_item = "Error while accessing resource: You have entered an Invalid Field Value 9999 for the following field: item";
        assert_eq!(
            rule(failure(&answer(400, "INVALID_CONTENT", bad_item, Some("item.items[0].item")))),
            (ErrorCode::InvalidValue, Some("lineItems[0].materialKey".into()), format!("INVALID_CONTENT - {bad_item}"))
        );
        assert_eq!(
            rule(failure(&answer(400, "INVALID_CONTENT", "Invalid entity reference key 323.", Some("entity")))).0,
            ErrorCode::InvalidVendor
        );
        assert_eq!(
            rule(failure(&answer(400, "USER_ERROR", "Please enter value(s) for: Subsidiary", Some("subsidiary")))).1,
            Some("siteKey".into())
        );
        assert_eq!(
            rule(failure(&answer(400, "USER_ERROR", "Please enter value(s) for: Vendor", None))).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(rule(failure(&answer(400, "USER_ERROR", "exists", Some("externalId")))).0, ErrorCode::Conflict);
        assert!(matches!(
            failure(&answer(400, "INVALID_PARAMETER", "Invalid search query.", None)),
            ConnectorError::Upstream(_)
        ));
        assert!(matches!(failure(&answer(401, "INVALID_LOGIN", "Invalid login attempt.", None)),
            ConnectorError::Rejected(m) if m == "INVALID_LOGIN - Invalid login attempt."));
        assert!(matches!(failure(&answer(403, "INSUFFICIENT_PERMISSION", "no", None)), ConnectorError::Forbidden(_)));
        assert_eq!(
            failure(&answer(404, "NONEXISTENT_ID", "The record instance does not exist.", None)),
            ConnectorError::NotFound
        );
        let html = Answer { status: StatusCode::BAD_GATEWAY, headers: Default::default(), body: b"<html>".to_vec() };
        assert_eq!(failure(&html), ConnectorError::Upstream("HTTP 502: Bad Gateway".into()));
    }
}
