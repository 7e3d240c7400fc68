//! How the hosted connect page presents the user's product: its name, logo and accent colour,
//! and the origins that may frame the page (its `frame-ancestors`). Nothing else appears on the
//! page, so it can sit inside the vendor's product.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::{
    error::ApiError,
    ports::{AccountStore, StoreError},
};

/// The most origins that may frame the connect page.
pub const MAX_ORIGINS: usize = 10;

/// An account's branding, as stored and as `PUT /v1/account/branding` takes it (whole).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Branding {
    /// The vendor's product name, shown at the top of the page.
    #[serde(default)]
    pub name: Option<String>,
    /// An https URL of its logo.
    #[serde(default)]
    pub logo_url: Option<String>,
    /// `#rrggbb`: buttons and links.
    #[serde(default)]
    pub accent_color: Option<String>,
    /// Origins (`https://app.example.com`) whose pages may embed the connect page in a frame;
    /// none may when empty.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
}

impl Branding {
    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Branding::default()
    }

    /// The accent colour's hex digits (`1f4fd1`), when one is set.
    pub fn accent_hex(&self) -> Option<&str> {
        self.accent_color.as_deref().and_then(|c| c.strip_prefix('#'))
    }

    /// The page's `frame-ancestors` sources: the allowed origins, or `'none'`.
    pub fn frame_ancestors(&self) -> String {
        match self.allowed_origins.is_empty() {
            true => "'none'".to_owned(),
            false => self.allowed_origins.join(" "),
        }
    }

    /// Checks every field; the error names the first bad one. Origins come back normalised
    /// (`https://app.example.com`, no path, no trailing slash).
    pub fn checked(mut self) -> Result<Self, ApiError> {
        if let Some(name) = &self.name
            && (name.trim().is_empty() || name.chars().count() > 100)
        {
            return Err(ApiError::invalid_field("name", "1 to 100 characters"));
        }
        if let Some(logo) = &self.logo_url {
            let https = Url::parse(logo).is_ok_and(|u| u.scheme() == "https" && u.host().is_some());
            if !https || logo.len() > 2048 {
                return Err(ApiError::invalid_field("logoUrl", "an https URL of at most 2,048 characters"));
            }
        }
        if let Some(color) = &self.accent_color {
            let hex = color.strip_prefix('#').filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()));
            match hex {
                Some(h) => self.accent_color = Some(format!("#{}", h.to_ascii_lowercase())),
                None => return Err(ApiError::invalid_field("accentColor", "a colour as #rrggbb")),
            }
        }
        if self.allowed_origins.len() > MAX_ORIGINS {
            return Err(ApiError::invalid_field("allowedOrigins", format!("at most {MAX_ORIGINS} origins")));
        }
        for (i, origin) in self.allowed_origins.iter_mut().enumerate() {
            *origin = normalised_origin(origin).ok_or_else(|| {
                ApiError::invalid_field(
                    format!("allowedOrigins[{i}]"),
                    "an origin: https://host[:port] (http only for localhost and 127.0.0.1), no path",
                )
            })?;
        }
        Ok(self)
    }
}

/// An origin as `frame-ancestors` takes it, or none when the text is not just an origin.
fn normalised_origin(text: &str) -> Option<String> {
    let url = Url::parse(text).ok()?;
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && local);
    let bare = url.path() == "/" && url.query().is_none() && url.fragment().is_none() && url.username().is_empty();
    (scheme_ok && bare && url.host().is_some() && !text.trim_end_matches('/').ends_with(':'))
        .then(|| url.origin().ascii_serialization())
}

/// Replaces an account's branding.
pub async fn set(store: &dyn AccountStore, account_id: &str, branding: Branding) -> Result<Branding, ApiError> {
    let branding = branding.checked()?;
    store.set_branding(account_id, &branding).await.map_err(|e| match e {
        StoreError::NotFound => ApiError::not_found("account"),
        other => ApiError::from_store(other, "account"),
    })?;
    Ok(branding)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Result<Branding, ApiError> {
        Branding { allowed_origins: list.iter().map(|s| s.to_string()).collect(), ..Default::default() }.checked()
    }

    #[test]
    fn origins_are_origins_alone() {
        let ok = origins(&["https://App.Example.com/", "https://a.example:8443", "http://localhost:3000"]).unwrap();
        assert_eq!(ok.allowed_origins, ["https://app.example.com", "https://a.example:8443", "http://localhost:3000"]);
        assert_eq!(ok.frame_ancestors(), "https://app.example.com https://a.example:8443 http://localhost:3000");
        for bad in
            ["http://app.example.com", "https://app.example.com/path", "javascript:alert(1)", "*", "https://x.com?q"]
        {
            let err = origins(&["https://fine.example", bad]).unwrap_err();
            assert_eq!(err.details[0].field.as_deref(), Some("allowedOrigins[1]"), "{bad}");
        }
        assert_eq!(Branding::default().frame_ancestors(), "'none'");
    }

    #[test]
    fn colours_names_and_logos_are_checked() {
        let b = Branding { accent_color: Some("#1F4FD1".into()), ..Default::default() }.checked().unwrap();
        assert_eq!((b.accent_color.as_deref(), b.accent_hex()), (Some("#1f4fd1"), Some("1f4fd1")));
        for bad in ["1f4fd1", "#1f4fd", "#1f4fdz", "red", "#1f4fd1;}"] {
            let err = Branding { accent_color: Some(bad.into()), ..Default::default() }.checked().unwrap_err();
            assert_eq!(err.details[0].field.as_deref(), Some("accentColor"), "{bad}");
        }
        let logo = |u: &str| Branding { logo_url: Some(u.into()), ..Default::default() }.checked();
        assert!(logo("https://cdn.example.com/logo.svg").is_ok());
        assert!(logo("http://cdn.example.com/logo.svg").is_err() && logo("data:image/png;base64,AA").is_err());
        assert!(Branding { name: Some(" ".into()), ..Default::default() }.checked().is_err());
    }
}
