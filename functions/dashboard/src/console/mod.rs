//! The platform team's dashboard (`/dashboard/…`): sign-in with an account key, then pages over
//! the account's credits, connections, syncs, webhooks and connect links. Every page and form
//! is scoped to the signed-in account; every form carries the CSRF token of the session.

mod connections;
mod links;
mod overview;
mod settings;
mod webhooks;

use maud::{Markup, html};
use millwright::{
    error::ApiError,
    sign_in::{FORM_COOKIE, LIFETIME, SESSION_COOKIE, csrf_token},
    token,
};
use millwright_aws::http::{ApiRequest, Reply};

use crate::{
    State,
    form::{CSRF_FIELD, Form, Invalid, forged},
    page::{self, Options},
    routes::no_page,
};

/// The signed-in visitor.
pub struct Visitor {
    /// The account every page shows.
    pub account: String,
    /// The session cookie's value: the forms' CSRF tokens derive from it.
    session: String,
}

impl Visitor {
    /// The hidden field every form of this visitor carries.
    pub fn csrf(&self) -> Markup {
        html! { input type="hidden" name=(CSRF_FIELD) value=(csrf_token(&self.session)); }
    }

    /// The submitted form, refused (403) without this session's CSRF token.
    pub fn form(&self, request: &ApiRequest) -> Result<Result<Form, Invalid>, ApiError> {
        let form = match Form::parse(request) {
            Ok(form) => form,
            // A form too large or malformed to read cannot show its token either.
            Err(invalid) => return Ok(Err(invalid)),
        };
        form.check_csrf(&self.session)?;
        Ok(Ok(form))
    }
}

/// Answers `/dashboard/…` (`path` is what follows `/dashboard`).
pub async fn handle(state: &State, request: &ApiRequest, path: &[&str]) -> Result<Reply, ApiError> {
    let method = request.method.as_str();
    match (method, path) {
        ("GET", ["sign-in"]) => return Ok(sign_in_page(request, None)),
        ("POST", ["sign-in"]) => return sign_in(state, request).await,
        _ => {}
    }
    let Some(visitor) = visitor(state, request).await? else {
        return Ok(match method {
            "GET" => Reply::see_other("/dashboard/sign-in"),
            _ => page::error(&forged()),
        });
    };
    match (method, path) {
        ("POST", ["sign-out"]) => {
            visitor.form(request)?.map_err(|_| forged())?;
            state.sign_ins.sign_out(&visitor.session).await?;
            Ok(Reply::see_other("/dashboard/sign-in").with_header("set-cookie", expired(SESSION_COOKIE)))
        }
        ("GET", []) => overview::page(state, &visitor).await,
        (_, ["connections", rest @ ..]) => connections::handle(state, &visitor, request, rest).await,
        (_, ["webhooks", rest @ ..]) => webhooks::handle(state, &visitor, request, rest).await,
        (_, ["connect-links"]) => links::handle(state, &visitor, request).await,
        (_, ["settings"]) => settings::handle(state, &visitor, request).await,
        _ => Err(no_page()),
    }
}

/// The visitor a request's session cookie signs in.
async fn visitor(state: &State, request: &ApiRequest) -> Result<Option<Visitor>, ApiError> {
    let Some(session) = request.cookie(SESSION_COOKIE) else { return Ok(None) };
    Ok(state.sign_ins.account(session).await?.map(|account| Visitor { account, session: session.to_owned() }))
}

/// A cookie as the pages set it: this origin only, https, out of scripts' reach, never sent
/// from another site.
fn cookie(name: &str, value: &str, max_age: i64) -> String {
    format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age={max_age}")
}

/// A cookie removed.
fn expired(name: &str) -> String {
    cookie(name, "", 0)
}

/// The sign-in form. Before any session, its CSRF token derives from a cookie of its own.
fn sign_in_page(request: &ApiRequest, problem: Option<(u16, &str)>) -> Reply {
    let (secret, set) = match request.cookie(FORM_COOKIE).filter(|s| s.len() == 64) {
        Some(existing) => (existing.to_owned(), None),
        None => {
            let fresh = token::random_hex();
            let set = cookie(FORM_COOKIE, &fresh, 3600);
            (fresh, Some(set))
        }
    };
    let body = html! {
        main class="narrow" {
            h1 { "Sign in to Millwright" }
            @if let Some((_, why)) = problem {
                div class="problem" role="alert" { p { strong { (why) } } }
            }
            form method="post" action="/dashboard/sign-in" autocomplete="off" {
                input type="hidden" name=(CSRF_FIELD) value=(csrf_token(&secret));
                div class="field" {
                    label for="key" { "Account key" }
                    input id="key" name="key" type="password" required spellcheck="false" placeholder="mw_acct_…";
                }
                button type="submit" { "Sign in" }
            }
            p class="muted small" { "The key is checked once; the browser keeps only a session that ends after 8 hours or when you sign out." }
        }
    };
    let reply = page::reply(problem.map_or(200, |(s, _)| s), "Sign in", body, Options::default());
    match set {
        Some(cookie) => reply.with_header("set-cookie", cookie),
        None => reply,
    }
}

async fn sign_in(state: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
    let form = match Form::parse(request) {
        Ok(form) => form,
        Err(Invalid(why)) => return Ok(sign_in_page(request, Some((400, &why)))),
    };
    let secret = request.cookie(FORM_COOKIE).ok_or_else(forged)?;
    form.check_csrf(secret)?;
    let Some(key) = form.get("key") else {
        return Ok(sign_in_page(request, Some((400, "Enter the account key."))));
    };
    match state.sign_ins.sign_in(key).await {
        Ok(signed_in) => Ok(Reply::see_other("/dashboard")
            .with_header("set-cookie", cookie(SESSION_COOKIE, &signed_in.session, LIFETIME.num_seconds()))
            .with_header("set-cookie", expired(FORM_COOKIE))),
        Err(e) if e.code.status() == 401 => Ok(sign_in_page(request, Some((401, &e.message)))),
        Err(e) => Err(e),
    }
}

/// A dashboard page: the navigation, then the content.
pub fn shell(visitor: &Visitor, title: &str, content: Markup, options: Options) -> Reply {
    shell_with_status(200, visitor, title, content, options)
}

/// `shell` with another status (a form shown again with its problem).
pub fn shell_with_status(status: u16, visitor: &Visitor, title: &str, content: Markup, options: Options) -> Reply {
    let body = html! {
        header class="top" {
            a class="brand" href="/dashboard" { "Millwright" }
            nav aria-label="Dashboard" {
                ul {
                    li { a href="/dashboard" { "Overview" } }
                    li { a href="/dashboard/connections" { "Connections" } }
                    li { a href="/dashboard/webhooks" { "Webhooks" } }
                    li { a href="/dashboard/connect-links" { "Connect links" } }
                    li { a href="/dashboard/settings" { "Settings" } }
                }
            }
            form method="post" action="/dashboard/sign-out" class="inline" {
                (visitor.csrf())
                button type="submit" class="link" { "Sign out" }
            }
        }
        main { h1 { (title) } (content) }
    };
    page::reply(status, &format!("{title} · Millwright"), body, options)
}

/// A form of one button that posts to `action` with the session's CSRF token.
pub fn button(visitor: &Visitor, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (visitor.csrf())
            button type="submit" class=(class) { (label) }
        }
    }
}

/// What an error says, its details after its message.
pub fn said(e: &ApiError) -> String {
    let details: Vec<&str> = e.details.iter().map(|d| d.message.as_str()).collect();
    match details.is_empty() {
        true => e.message.clone(),
        false => format!("{} ({})", e.message, details.join("; ")),
    }
}

/// A value shown once (a token, a secret, a link): a read-only field to select, and a Copy
/// button where the browser can copy (`copy.js`; pages with one load it).
pub fn shown_once(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            div class="copyable" {
                input id=(id) class="secret" type="text" readonly value=(value);
                button type="button" class="secondary" data-copy=(id) hidden { "Copy" }
            }
        }
    }
}

/// Options of a page that may show a value once.
pub fn with_copy() -> Options<'static> {
    Options { scripts: &["copy.js"], ..Options::default() }
}

/// A problem shown above a form.
pub fn problem(text: &str) -> Markup {
    html! { div class="problem" role="alert" { p { strong { (text) } } } }
}

/// A time as the pages show it.
pub fn when(t: &chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(t.to_rfc3339()) { (t.format("%Y-%m-%d %H:%M:%S UTC")) } }
}
