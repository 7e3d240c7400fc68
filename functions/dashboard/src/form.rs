//! HTML forms: their fields, bounded, and the CSRF token each must carry.

use millwright::{
    error::{ApiError, ErrorCode},
    sign_in::csrf_matches,
};
use millwright_aws::http::ApiRequest;

/// The largest form body accepted.
pub const MAX_FORM_BYTES: usize = 64 * 1024;
/// The longest single field.
pub const MAX_FIELD_CHARS: usize = 4096;
/// The field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// A submitted form.
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// Parses a urlencoded body; oversized or malformed is a 400 (`Invalid`), which pages show
    /// next to the form.
    pub fn parse(request: &ApiRequest) -> Result<Self, Invalid> {
        if request.body.len() > MAX_FORM_BYTES {
            return Err(Invalid(format!("The form is larger than {} KB.", MAX_FORM_BYTES / 1024)));
        }
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&request.body)
            .map_err(|_| Invalid("The form could not be read; please submit it again.".into()))?;
        if let Some((name, _)) = fields.iter().find(|(_, v)| v.chars().count() > MAX_FIELD_CHARS) {
            return Err(Invalid(format!("The field {name} is longer than {MAX_FIELD_CHARS} characters.")));
        }
        Ok(Self { fields })
    }

    /// A field's value, trimmed; none when absent or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// The fields whose names start with `prefix`, without it.
    pub fn prefixed<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields.iter().filter_map(move |(n, v)| Some((n.strip_prefix(prefix)?, v.as_str())))
    }

    /// Refuses the form (403) unless it carries the CSRF token of `secret`.
    pub fn check_csrf(&self, secret: &str) -> Result<(), ApiError> {
        match self.get(CSRF_FIELD) {
            Some(token) if csrf_matches(secret, token) => Ok(()),
            _ => Err(forged()),
        }
    }
}

/// The 403 of a form without a valid CSRF token.
pub fn forged() -> ApiError {
    ApiError::new(
        ErrorCode::PermissionDenied,
        "This form has expired or did not come from this site. Go back, reload the page and try again.",
    )
}

/// Why a form's input was refused, shown with the form.
#[derive(Debug)]
pub struct Invalid(pub String);
