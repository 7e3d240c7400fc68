//! Connect links: create one for a customer and copy its URL.

use maud::html;
use millwright::{catalog, connect_sessions::SessionRequest, error::ApiError};
use millwright_aws::http::{ApiRequest, Reply};

use super::{Visitor, problem, said, shell, shell_with_status, shown_once, when, with_copy};
use crate::{State, page::Options};

pub async fn handle(state: &State, visitor: &Visitor, request: &ApiRequest) -> Result<Reply, ApiError> {
    if request.method != "POST" {
        return Ok(form_page(state, visitor, None));
    }
    let form = match visitor.form(request)? {
        Ok(form) => form,
        Err(invalid) => return Ok(form_page(state, visitor, Some((400, invalid.0)))),
    };
    let systems: Vec<String> = form.prefixed("system.").map(|(id, _)| id.to_owned()).collect();
    let minutes = match form.get("expiresInMinutes").map(str::parse::<u32>).transpose() {
        Ok(m) => m,
        Err(_) => {
            return Ok(form_page(state, visitor, Some((400, "The expiry must be a whole number of minutes.".into()))));
        }
    };
    let asked = SessionRequest {
        external_id: form.get("externalId").map(str::to_owned),
        systems: (!systems.is_empty()).then_some(systems),
        redirect_url: form.get("redirectUrl").map(str::to_owned),
        expires_in_minutes: minutes,
        ..Default::default()
    };
    match state.sessions.create(&visitor.account, asked).await {
        Ok(created) => {
            let url = format!("{}{}", request.origin(), created.path);
            Ok(shell(
                visitor,
                "Connect link created",
                html! {
                    p { "Send this link to the customer. It works once, until " (when(&created.session.expires_at)) "." }
                    (shown_once("link", "Connect link", &url))
                    p { "Session " code { (created.session.id) } ". Once the customer connects, fetch the connection's token with "
                        code { "POST /v1/connect-sessions/" (created.session.id) "/token" } "." }
                    p { a href="/dashboard/connect-links" { "Create another" } }
                },
                with_copy(),
            ))
        }
        Err(e) if e.code.status() < 500 => Ok(form_page(state, visitor, Some((e.code.status(), said(&e))))),
        Err(e) => Err(e),
    }
}

fn form_page(state: &State, visitor: &Visitor, refused: Option<(u16, String)>) -> Reply {
    let connections = state.sessions.connections();
    let content = html! {
        @if let Some((_, text)) = &refused { (problem(text)) }
        form method="post" action="/dashboard/connect-links" {
            (visitor.csrf())
            fieldset {
                legend { "Systems offered " span class="muted" { "(none checked: all)" } }
                @for system in catalog::systems().iter().filter(|s| connections.available(s.id)) {
                    label class="check" { input type="checkbox" name={ "system." (system.id) } value="on"; " " (system.name) }
                }
            }
            div class="field" {
                label for="externalId" { "External id " span class="muted" { "(your id for the customer, optional)" } }
                input id="externalId" name="externalId" type="text" maxlength="200";
            }
            div class="field" {
                label for="redirectUrl" { "Redirect URL " span class="muted" { "(optional)" } }
                input id="redirectUrl" name="redirectUrl" type="url" placeholder="https://your.app/connected";
            }
            div class="field" {
                label for="expires" { "Expires after (minutes)" }
                input id="expires" name="expiresInMinutes" type="number" min="1" max="10080" value="30";
            }
            button type="submit" { "Create link" }
        }
    };
    shell_with_status(refused.as_ref().map_or(200, |(s, _)| *s), visitor, "Connect links", content, Options::default())
}
