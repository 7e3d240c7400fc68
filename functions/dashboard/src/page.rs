//! The pages' shell and headers: every page is whole HTML with a strict Content-Security-Policy
//! (its own stylesheet and script only, no inline code), never cached, never sending a referrer
//! (the connect page's address holds its secret).

use maud::{DOCTYPE, Markup, html};
use millwright::error::ApiError;
use millwright_aws::http::Reply;

/// Where the assets are served from.
pub const ASSETS: &str = "/dashboard/assets";

/// A page's own settings beyond its content.
#[derive(Default)]
pub struct Options<'a> {
    /// Origins that may frame the page (`frame-ancestors`); none: no one.
    pub frame_ancestors: Option<&'a str>,
    /// Reload every few seconds (a run in progress).
    pub refresh_seconds: Option<u32>,
    /// Scripts of `ASSETS` the page loads.
    pub scripts: &'a [&'a str],
    /// An accent colour's hex digits: its stylesheet follows the main one.
    pub accent: Option<&'a str>,
}

/// A whole page as a reply.
pub fn reply(status: u16, title: &str, body: Markup, options: Options) -> Reply {
    let document = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(seconds) = options.refresh_seconds {
                    meta http-equiv="refresh" content=(seconds);
                }
                title { (title) }
                link rel="stylesheet" href={ (ASSETS) "/style.css" };
                @if let Some(hex) = options.accent {
                    link rel="stylesheet" href={ (ASSETS) "/accent/" (hex) ".css" };
                }
                @for script in options.scripts {
                    script src={ (ASSETS) "/" (script) } defer {}
                }
            }
            body { (body) }
        }
    };
    let ancestors = options.frame_ancestors.unwrap_or("'none'");
    let policy = format!(
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' https:; form-action 'self'; \
         base-uri 'none'; frame-ancestors {ancestors}"
    );
    Reply::text(status, "text/html; charset=utf-8", document.into_string())
        .with_header("content-security-policy", policy)
        .with_header("cache-control", "no-store")
        .with_header("referrer-policy", "no-referrer")
        .with_header("x-content-type-options", "nosniff")
}

/// A page that says only what went wrong: an error as its status and message.
pub fn error(e: &ApiError) -> Reply {
    let title = match e.code.status() {
        403 => "Not allowed",
        404 => "Not found",
        410 => "This link has ended",
        s if s >= 500 => "Something went wrong",
        _ => "That did not work",
    };
    message(e.code.status(), title, &e.message)
}

/// A page with a heading and a message.
pub fn message(status: u16, title: &str, text: &str) -> Reply {
    let body = html! {
        main class="narrow" {
            h1 { (title) }
            p { (text) }
        }
    };
    reply(status, title, body, Options::default())
}
