//! The one error type of the public API. Every non-2xx response is an `ApiError` rendered as
//! `{"error": {code, type, message, requestId, details}}` (see API.md, Errors).

use serde::{Deserialize, Serialize};

/// The machine-readable error codes clients branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// The request is malformed; `details` names the fields.
    InvalidRequest,
    /// The connected system refused the credentials.
    InvalidCredentials,
    /// No valid bearer credential.
    AuthenticationFailed,
    /// The credit pool cannot pay for this connection.
    InsufficientCredits,
    /// The credential is valid but may not do this.
    PermissionDenied,
    /// No such resource for this caller.
    NotFound,
    /// The system cannot do this to this entity.
    OperationNotSupported,
    /// The resource's state forbids the request.
    Conflict,
    /// An idempotency key was reused with another body.
    IdempotencyKeyReused,
    /// The body is larger than the API accepts.
    PayloadTooLarge,
    /// A business rule of the system forbids the change.
    InvalidState,
    /// The field cannot be changed.
    FieldNotUpdatable,
    /// The referenced vendor cannot take orders.
    InvalidVendor,
    /// The referenced material has no stock.
    OutOfStock,
    /// The system refused a field's value (a reference it does not know, a value out of range).
    InvalidValue,
    /// Too many requests.
    RateLimitExceeded,
    /// Millwright failed.
    InternalError,
    /// The connected system failed.
    UpstreamError,
    /// The connected system did not answer in time.
    UpstreamTimeout,
    /// Millwright is temporarily unavailable.
    ServiceUnavailable,
    /// The connected system is temporarily unavailable.
    SystemUnavailable,
    /// The system cannot list this entity, so it cannot be synced.
    EntityNotSyncable,
    /// The system is in the catalogue but cannot be connected yet.
    SystemNotAvailable,
}

impl ErrorCode {
    /// The HTTP status this code is sent with.
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidRequest | InvalidCredentials => 400,
            AuthenticationFailed => 401,
            InsufficientCredits => 402,
            PermissionDenied => 403,
            NotFound => 404,
            OperationNotSupported => 405,
            Conflict | IdempotencyKeyReused => 409,
            PayloadTooLarge => 413,
            InvalidState | FieldNotUpdatable | InvalidVendor | OutOfStock | InvalidValue | EntityNotSyncable
            | SystemNotAvailable => 422,
            RateLimitExceeded => 429,
            InternalError => 500,
            UpstreamError => 502,
            ServiceUnavailable | SystemUnavailable => 503,
            UpstreamTimeout => 504,
        }
    }

    /// The broad error family (`type` in the body).
    pub fn kind(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest
            | InvalidCredentials
            | NotFound
            | OperationNotSupported
            | Conflict
            | IdempotencyKeyReused
            | PayloadTooLarge
            | EntityNotSyncable
            | SystemNotAvailable => "invalid_request_error",
            AuthenticationFailed => "authentication_error",
            InsufficientCredits => "billing_error",
            PermissionDenied => "permission_error",
            InvalidState | FieldNotUpdatable | InvalidVendor | OutOfStock | InvalidValue => "business_rule_error",
            RateLimitExceeded => "rate_limit_error",
            InternalError | ServiceUnavailable | SystemUnavailable => "api_error",
            UpstreamError | UpstreamTimeout => "system_error",
        }
    }
}

/// One item of `details`: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Dotted path of the offending field, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What is wrong, for people.
    pub message: String,
}

/// An error on its way to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    /// What clients branch on.
    pub code: ErrorCode,
    /// What people read.
    pub message: String,
    /// Field-level detail.
    pub details: Vec<ErrorDetail>,
    /// A write reached the customer's system and may have been carried out although this is the
    /// answer: an Idempotency-Key keeps it, so a retry never sends the write again.
    pub outcome_unknown: bool,
    /// Seconds to wait before a retry, when it is worth one (`Retry-After`).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a code and message and no details.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: Vec::new(), outcome_unknown: false, retry_after: None }
    }

    /// Says when a retry is worth it, as `Retry-After`.
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    /// Adds a detail about a field.
    pub fn with_field(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(ErrorDetail { field: Some(field.into()), message: message.into() });
        self
    }

    /// Adds a detail that concerns no one field.
    pub fn with_detail(mut self, message: impl Into<String>) -> Self {
        self.details.push(ErrorDetail { field: None, message: message.into() });
        self
    }

    /// 400 about one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(ErrorCode::InvalidRequest, format!("Invalid request: {message}")).with_field(field, message)
    }

    /// 401: the caller is not who they claim.
    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::AuthenticationFailed, "Missing, malformed, revoked or unknown bearer credential.")
    }

    /// 404 that does not reveal whether the resource exists for someone else.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 500: the cause is logged by the caller, never rendered.
    pub fn internal() -> Self {
        Self::new(ErrorCode::InternalError, "Something went wrong on our side; it has been logged.")
    }

    /// A storage failure as the caller sees it: `NotFound` names `what`, a conflict is a 409,
    /// anything else is logged and answered as a 500.
    pub fn from_store(e: crate::ports::StoreError, what: &str) -> Self {
        match e {
            crate::ports::StoreError::NotFound => Self::not_found(what),
            crate::ports::StoreError::Conflict(m) => Self::new(ErrorCode::Conflict, m),
            other => {
                tracing::error!(error = %other, what, "storage failed");
                Self::internal()
            }
        }
    }

    /// The error a stored answer of a write whose outcome is unknown holds (its `body`), to
    /// answer again for the same Idempotency-Key.
    pub fn unknown_outcome_from(body: &serde_json::Value) -> Option<Self> {
        let error = body.get("error")?;
        let mut err = Self::new(
            serde_json::from_value(error.get("code")?.clone()).ok()?,
            error.get("message")?.as_str()?.to_owned(),
        );
        err.details = serde_json::from_value(error.get("details")?.clone()).ok()?;
        err.outcome_unknown = true;
        Some(err)
    }

    /// The body of the response, with the request id the `X-Request-Id` header also carries.
    pub fn body(&self, request_id: &str) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "code": self.code,
                "type": self.code.kind(),
                "message": self.message,
                "requestId": request_id,
                "details": self.details,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_contract_shape() {
        let e = ApiError::invalid_field("system", "unknown system \"x\"");
        let body = e.body("req_1");
        assert_eq!(body["error"]["code"], "INVALID_REQUEST");
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert_eq!(body["error"]["requestId"], "req_1");
        assert_eq!(body["error"]["details"][0]["field"], "system");
        assert_eq!(ErrorCode::InsufficientCredits.status(), 402);
        assert_eq!(serde_json::to_value(ErrorCode::UpstreamTimeout).unwrap(), "UPSTREAM_TIMEOUT");
    }
}
