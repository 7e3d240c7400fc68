//! The hosted connect page (`/connect/{session}/{secret}`): the customer picks one of the
//! systems the link offers, reads what to set up, enters that system's fields and connects. The
//! credentials go from the form to the system and to Secrets Manager, never back to a page, a
//! log or a URL; the page shows the system's reason when it refuses them.

use chrono::Utc;
use maud::{Markup, html};
use millwright::{
    branding::Branding,
    catalog::{self, Deployment, System},
    connect_sessions::{ConnectSession, MAX_ATTEMPTS, Outcome, SessionStatus},
    connectors::Credentials,
    error::{ApiError, ErrorCode},
    model::Connection,
    sign_in::csrf_token,
};
use millwright_aws::http::{ApiRequest, Reply};
use serde_json::{Map, Value};

use crate::{
    State,
    form::{CSRF_FIELD, Form, Invalid},
    guides,
    page::{self, Options},
};

/// The prefix of credential fields in the form (`cred.apiKey`).
const CREDENTIAL: &str = "cred.";

/// Answers a request for a connect link.
pub async fn handle(state: &State, request: &ApiRequest, id: &str, secret: &str) -> Result<Reply, ApiError> {
    let Some(session) = state.sessions.unlock(id, secret).await? else {
        return Ok(page::message(
            404,
            "This link is not valid",
            "Check that the whole address was copied, or ask for a new link.",
        ));
    };
    let account = state.accounts.account(&session.account_id).await.map_err(|e| ApiError::from_store(e, "account"))?;
    let branding = account.map(|a| a.branding).unwrap_or_default();
    if let Some(closed) = closed(&session, &branding) {
        return Ok(closed);
    }
    let link = Link { session: &session, secret, branding: &branding };
    match request.method.as_str() {
        "GET" => Ok(link.get(request)),
        "POST" => link.post(state, request).await,
        _ => Err(crate::routes::no_page()),
    }
}

/// The page of a link that can no longer be used, if it can't.
fn closed(session: &ConnectSession, branding: &Branding) -> Option<Reply> {
    let (status, title, text) = match session.status {
        SessionStatus::Completed | SessionStatus::TokenFetched => {
            (410, "This link has been used", "The connection is made. You can close this window.")
        }
        SessionStatus::Verifying => {
            (409, "Checking your credentials", "Your credentials are being checked. Reload this page in a moment.")
        }
        SessionStatus::Pending if session.attempts >= MAX_ATTEMPTS => {
            (410, "Too many attempts", "This link allows no more attempts. Ask for a new link.")
        }
        SessionStatus::Pending if Utc::now() >= session.expires_at => {
            (410, "This link has expired", "Links work for a limited time. Ask for a new link.")
        }
        SessionStatus::Pending => return None,
    };
    Some(branded(branding, status, title, html! { p { (text) } }, &[]))
}

/// A connect page: the vendor's name and logo above the content, its accent colour, framed only
/// by its allowed origins.
fn branded(branding: &Branding, status: u16, title: &str, content: Markup, scripts: &[&str]) -> Reply {
    let body = html! {
        @if branding.name.is_some() || branding.logo_url.is_some() {
            header class="brand-bar" {
                @if let Some(logo) = &branding.logo_url {
                    img src=(logo) alt=(branding.name.as_deref().unwrap_or("Logo")) height="32";
                }
                @if let Some(name) = &branding.name { span { (name) } }
            }
        }
        main class="narrow" { h1 { (title) } (content) }
    };
    let ancestors = branding.frame_ancestors();
    let options =
        Options { frame_ancestors: Some(&ancestors), accent: branding.accent_hex(), scripts, ..Options::default() };
    page::reply(status, title, body, options)
}

/// An open link, its secret and its account's branding.
struct Link<'a> {
    session: &'a ConnectSession,
    secret: &'a str,
    branding: &'a Branding,
}

/// The system and deployment chosen.
struct Choice {
    system: System,
    deployment: Deployment,
}

impl Link<'_> {
    fn path(&self) -> String {
        format!("/connect/{}/{}", self.session.id, self.secret)
    }

    /// The systems and deployments the link offers, in the catalogue's order.
    fn options(&self) -> Vec<Choice> {
        let session = self.session;
        catalog::systems()
            .into_iter()
            .filter(|s| session.systems.iter().any(|id| id == s.id))
            .flat_map(|system| {
                let deployments: Vec<Deployment> = system
                    .deployments
                    .iter()
                    .map(|d| d.deployment)
                    .filter(|d| session.deployment.is_none_or(|fixed| fixed == *d))
                    .collect();
                deployments.into_iter().map(move |deployment| Choice { system: system.clone(), deployment })
            })
            .collect()
    }

    /// The choice a request names (`system`, `deployment`), or the only one there is.
    fn chosen(&self, system: Option<&str>, deployment: Option<&str>) -> Option<Choice> {
        let mut options = self.options();
        if options.len() == 1 {
            return options.pop();
        }
        let deployment = match deployment {
            Some(d) => serde_json::from_value::<Deployment>(Value::String(d.to_owned())).ok()?,
            None => Deployment::Cloud,
        };
        options.into_iter().find(|c| Some(c.system.id) == system && c.deployment == deployment)
    }

    fn get(&self, request: &ApiRequest) -> Reply {
        match self.chosen(request.query("system"), request.query("deployment")) {
            Some(choice) => self.form(200, &choice, &Map::new(), None),
            None => self.picker(),
        }
    }

    /// The list of systems to choose from.
    fn picker(&self) -> Reply {
        let body = html! {
                p { "Choose the system to connect." }
                ul class="choices" {
                    @for choice in self.options() {
                        li {
                            a class="choice" href={ (self.path()) "?system=" (choice.system.id) "&deployment=" (choice.deployment.as_str()) } {
                                strong { (choice.system.name) }
                                " " span class="muted" { (deployment_name(choice.deployment)) }
                            }
                        }
                    }
                }
        };
        branded(self.branding, 200, "Connect your system", body, &[])
    }

    /// The chosen system's fields, with its guide; non-secret values the customer typed come
    /// back, secret ones never do.
    fn form(&self, status: u16, choice: &Choice, typed: &Map<String, Value>, problem: Option<&ApiError>) -> Reply {
        let system = &choice.system;
        let verb = if self.session.reauthenticate { "Reconnect" } else { "Connect" };
        let title = format!("{verb} {}", system.name);
        let steps = guides::steps(system.id);
        let several = self.options().len() > 1;
        let body = html! {
                @if several {
                    p { a href=(self.path()) { "← Choose another system" } }
                }
                p class="muted" { (deployment_name(choice.deployment)) }
                @if let Some(problem) = problem {
                    (problem_box(problem))
                }
                @if !steps.is_empty() {
                    section aria-labelledby="setup" {
                        h2 id="setup" { "Before you start" }
                        ol { @for step in steps { li { (step) } } }
                    }
                }
                form method="post" action=(self.path()) autocomplete="off" {
                    input type="hidden" name=(CSRF_FIELD) value=(csrf_token(self.secret));
                    input type="hidden" name="system" value=(system.id);
                    input type="hidden" name="deployment" value=(choice.deployment.as_str());
                    @for field in &system.credentials {
                        @let id = format!("f-{}", field.name);
                        @let kept = typed.get(field.name).and_then(Value::as_str).filter(|_| !field.secret);
                        div class="field" {
                            label for=(id) {
                                (field.description)
                                @if !field.required { " " span class="muted" { "(optional)" } }
                            }
                            input id=(id) name={ (CREDENTIAL) (field.name) }
                                type=(if field.secret { "password" } else { "text" })
                                required[field.required] value=[kept] spellcheck="false";
                        }
                    }
                    button type="submit" { (verb) }
                }
                p class="muted small" {
                    "Your credentials go straight to the system to be checked and are stored encrypted. "
                    "Attempts left: " (MAX_ATTEMPTS.saturating_sub(self.session.attempts)) "."
                }
        };
        branded(self.branding, status, &title, body, &[])
    }

    async fn post(&self, state: &State, request: &ApiRequest) -> Result<Reply, ApiError> {
        let form = match Form::parse(request) {
            Ok(form) => form,
            Err(Invalid(why)) => return Ok(self.refused_input(&why)),
        };
        form.check_csrf(self.secret)?;
        let Some(choice) = self.chosen(form.get("system"), form.get("deployment")) else {
            return Ok(self.refused_input("Choose one of the systems this link offers."));
        };
        let typed: Map<String, Value> = form
            .prefixed(CREDENTIAL)
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| (k.to_owned(), Value::String(v.trim().to_owned())))
            .collect();
        let outcome = state
            .sessions
            .attempt(self.session, choice.system.id, choice.deployment, Credentials(typed.clone()))
            .await?;
        match outcome {
            Outcome::Connected(connection) => Ok(self.connected(&connection)),
            Outcome::Refused(problem) if problem.code == ErrorCode::InsufficientCredits => {
                // The customer's credentials were fine; the vendor's pool is not. Said plainly,
                // without the vendor's business.
                let text = "Your credentials were accepted, but the connection cannot be completed right now. \
                            Nothing was saved. Please contact the team that sent you this link.";
                Ok(branded(self.branding, 402, "The connection could not be completed", html! { p { (text) } }, &[]))
            }
            Outcome::Refused(problem) => {
                let mut after = self.session.clone();
                after.attempts += 1;
                if let Some(closed) = closed(&after, self.branding) {
                    return Ok(closed);
                }
                let link = Link { session: &after, secret: self.secret, branding: self.branding };
                Ok(link.form(problem.code.status(), &choice, &typed, Some(&problem)))
            }
        }
    }

    /// The form again (or the picker) with a message about the input.
    fn refused_input(&self, why: &str) -> Reply {
        let problem = ApiError::new(millwright::ErrorCode::InvalidRequest, why);
        match self.chosen(None, None) {
            Some(choice) => self.form(400, &choice, &Map::new(), Some(&problem)),
            None => branded(self.branding, 400, "That did not work", html! { p { (why) } }, &[]),
        }
    }

    /// The page after connecting: on to the redirect URL (the script, or the Continue link),
    /// telling the opener first when the page is a popup.
    fn connected(&self, connection: &Connection) -> Reply {
        let session = self.session;
        let redirect = session.redirect_url.as_deref().and_then(|u| url::Url::parse(u).ok()).map(|mut url| {
            url.query_pairs_mut().append_pair("connectionId", &connection.id).append_pair("sessionId", &session.id);
            url
        });
        let target_origin = redirect.as_ref().map(|u| u.origin().ascii_serialization());
        let system = catalog::find(&connection.system).map_or("Your system", |s| s.name);
        let body = html! {
            div id="connected" data-connection-id=(connection.id) data-session-id=(session.id)
                data-redirect=[redirect.as_ref().map(url::Url::as_str)] data-target-origin=[target_origin] {
                p { (system) " is connected." }
                @match &redirect {
                    Some(url) => p { a class="button" href=(url.as_str()) { "Continue" } },
                    None => p { "You can close this window." },
                }
            }
        };
        branded(self.branding, 200, "Connected", body, &["connect.js"])
    }
}

/// A refusal with its details, announced to screen readers.
fn problem_box(problem: &ApiError) -> Markup {
    html! {
        div class="problem" role="alert" {
            p { strong { (problem.message) } }
            @if !problem.details.is_empty() {
                ul { @for detail in &problem.details { li { (detail.message) } } }
            }
        }
    }
}

/// How a deployment reads on the page.
fn deployment_name(deployment: Deployment) -> &'static str {
    match deployment {
        Deployment::Cloud => "Cloud",
        Deployment::OnPrem => "On-premises",
    }
}
