//! Settings: the branding of the account's hosted connect page — name, logo, accent colour and
//! the origins that may frame it — as `PUT /v1/account/branding` sets it.

use maud::html;
use millwright::{
    branding::{self, Branding},
    error::ApiError,
};
use millwright_aws::http::{ApiRequest, Reply};

use super::{Visitor, problem, said, shell_with_status};
use crate::{State, page::Options};

pub async fn handle(state: &State, visitor: &Visitor, request: &ApiRequest) -> Result<Reply, ApiError> {
    let account = state.accounts.account(&visitor.account).await.map_err(|e| ApiError::from_store(e, "account"))?;
    let current = account.ok_or_else(|| ApiError::not_found("account"))?.branding;
    if request.method != "POST" {
        return Ok(page(visitor, &current, None));
    }
    let form = match visitor.form(request)? {
        Ok(form) => form,
        Err(invalid) => return Ok(page(visitor, &current, Some((400, invalid.0)))),
    };
    let asked = Branding {
        name: form.get("name").map(str::to_owned),
        logo_url: form.get("logoUrl").map(str::to_owned),
        accent_color: form.get("accentColor").map(str::to_owned),
        allowed_origins: form
            .get("allowedOrigins")
            .map_or_else(Vec::new, |list| list.split_whitespace().map(str::to_owned).collect()),
    };
    match branding::set(state.accounts.as_ref(), &visitor.account, asked.clone()).await {
        Ok(saved) => Ok(page(visitor, &saved, Some((200, String::new())))),
        Err(e) if e.code.status() < 500 => Ok(page(visitor, &asked, Some((e.code.status(), said(&e))))),
        Err(e) => Err(e),
    }
}

/// The form, with what the last submission came to (an empty text: saved).
fn page(visitor: &Visitor, branding: &Branding, outcome: Option<(u16, String)>) -> Reply {
    let content = html! {
        @match &outcome {
            Some((_, text)) if text.is_empty() => div class="notice" role="status" { p { "Saved." } },
            Some((_, text)) => (problem(text)),
            None => {},
        }
        p { "How the hosted connect page presents your product. Nothing else appears on it." }
        form method="post" action="/dashboard/settings" {
            (visitor.csrf())
            div class="field" {
                label for="name" { "Product name " span class="muted" { "(optional)" } }
                input id="name" name="name" type="text" maxlength="100" value=[branding.name.as_deref()];
            }
            div class="field" {
                label for="logoUrl" { "Logo URL " span class="muted" { "(https, optional)" } }
                input id="logoUrl" name="logoUrl" type="url" value=[branding.logo_url.as_deref()];
            }
            div class="field" {
                label for="accentColor" { "Accent colour " span class="muted" { "(#rrggbb, optional)" } }
                input id="accentColor" name="accentColor" type="text" value=[branding.accent_color.as_deref()];
            }
            div class="field" {
                label for="allowedOrigins" { "Origins that may embed the page in a frame " span class="muted" { "(one per line; none: no one)" } }
                textarea id="allowedOrigins" name="allowedOrigins" rows="3" { (branding.allowed_origins.join("\n")) }
            }
            button type="submit" { "Save" }
        }
    };
    let status = outcome.as_ref().map_or(200, |(s, _)| *s);
    shell_with_status(status, visitor, "Settings", content, Options::default())
}
