//! The webhooks pages: endpoints (create, edit, rotate secret, delete) and one endpoint's
//! deliveries with their attempts and answers, each with **Redeliver**.

use maud::html;
use millwright::{
    error::ApiError,
    webhooks::{CreateEndpoint, DeliveryStatus, EndpointStatus, UpdateEndpoint},
};
use millwright_aws::http::{ApiRequest, Reply};

use super::{Visitor, button, problem, said, shell, shell_with_status, shown_once, when, with_copy};
use crate::{State, page::Options, routes::no_page};

/// Deliveries shown on an endpoint's page.
const DELIVERIES_SHOWN: usize = 50;

pub async fn handle(state: &State, visitor: &Visitor, request: &ApiRequest, path: &[&str]) -> Result<Reply, ApiError> {
    match (request.method.as_str(), path) {
        ("GET", []) => list(state, visitor, None).await,
        ("POST", []) => create(state, visitor, request).await,
        ("GET", [id]) => show(state, visitor, id, None).await,
        ("POST", [id, "deliveries", delivery, "redeliver"]) => {
            state.webhooks.get(&visitor.account, id).await?;
            visitor.form(request)?.map_err(|i| ApiError::invalid_field("form", i.0))?;
            match state.webhooks.redeliver(&visitor.account, delivery).await {
                Ok(_) => Ok(Reply::see_other(format!("/dashboard/webhooks/{id}"))),
                Err(e) if e.code.status() == 409 => show(state, visitor, id, Some((409, e.message))).await,
                Err(e) => Err(e),
            }
        }
        ("POST", [id, action @ ("rotate" | "delete" | "edit")]) => act(state, visitor, request, id, action).await,
        _ => Err(no_page()),
    }
}

async fn list(state: &State, visitor: &Visitor, notice: Option<(u16, maud::Markup)>) -> Result<Reply, ApiError> {
    let (endpoints, _) = state.webhooks.list(&visitor.account, None, 100).await?;
    let content = html! {
        @if let Some((_, notice)) = &notice { (notice) }
        @if endpoints.is_empty() { p { "No endpoints yet." } } @else {
            div class="scroll" {
                table {
                    caption class="visually-hidden" { "Webhook endpoints" }
                    thead { tr { th scope="col" { "URL" } th scope="col" { "Status" } th scope="col" { "Connection" } th scope="col" { "Created" } } }
                    tbody {
                        @for e in &endpoints {
                            tr {
                                td { a href={ "/dashboard/webhooks/" (e.id) } { (e.url) } }
                                td { (if e.status == EndpointStatus::Enabled { "enabled" } else { "disabled" }) }
                                td { (e.connection_id.as_deref().unwrap_or("all")) }
                                td { (when(&e.created_at)) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="new-endpoint" {
            h2 id="new-endpoint" { "New endpoint" }
            form method="post" action="/dashboard/webhooks" {
                (visitor.csrf())
                div class="field" {
                    label for="url" { "URL" }
                    input id="url" name="url" type="url" required placeholder="https://example.com/webhooks";
                }
                div class="field" {
                    label for="description" { "Description " span class="muted" { "(optional)" } }
                    input id="description" name="description" type="text";
                }
                button type="submit" { "Create endpoint" }
            }
        }
    };
    let status = notice.as_ref().map_or(200, |(s, _)| *s);
    Ok(shell_with_status(status, visitor, "Webhooks", content, Options::default()))
}

async fn create(state: &State, visitor: &Visitor, request: &ApiRequest) -> Result<Reply, ApiError> {
    let form = match visitor.form(request)? {
        Ok(form) => form,
        Err(invalid) => return list(state, visitor, Some((400, problem(&invalid.0)))).await,
    };
    let asked = CreateEndpoint {
        url: form.get("url").unwrap_or_default().to_owned(),
        events: None,
        description: form.get("description").map(str::to_owned),
        connection_id: None,
    };
    match state.webhooks.create(&visitor.account, asked).await {
        Ok((endpoint, secret)) => Ok(shell(
            visitor,
            "Endpoint created",
            html! {
                p { "Deliveries to " code { (endpoint.url) } " are signed with this secret. Copy it now: it is not shown again." }
                (shown_once("secret", "Signing secret", &secret.expose()))
                p { a href={ "/dashboard/webhooks/" (endpoint.id) } { "Go to the endpoint" } }
            },
            with_copy(),
        )),
        Err(e) if e.code.status() < 500 => list(state, visitor, Some((e.code.status(), problem(&said(&e))))).await,
        Err(e) => Err(e),
    }
}

async fn show(state: &State, visitor: &Visitor, id: &str, notice: Option<(u16, String)>) -> Result<Reply, ApiError> {
    let endpoint = state.webhooks.get(&visitor.account, id).await?;
    let (deliveries, _) = state.webhooks.deliveries(&visitor.account, id, None, DELIVERIES_SHOWN).await?;
    let base = format!("/dashboard/webhooks/{}", endpoint.id);
    let content = html! {
        @if let Some((_, text)) = &notice { (problem(text)) }
        dl class="facts" {
            dt { "URL" } dd { code { (endpoint.url) } }
            dt { "Status" } dd { (if endpoint.status == EndpointStatus::Enabled { "enabled" } else { "disabled" })
                @if let Some(reason) = &endpoint.disabled_reason { " — " (reason) } }
            dt { "Connection" } dd { (endpoint.connection_id.as_deref().unwrap_or("every connection")) }
        }
        section aria-labelledby="edit" {
            h2 id="edit" { "Edit" }
            form method="post" action={ (base) "/edit" } class="row" {
                (visitor.csrf())
                div class="field" {
                    label for="url" { "URL" }
                    input id="url" name="url" type="url" required value=(endpoint.url);
                }
                div class="field" {
                    label for="state" { "State" }
                    select id="state" name="status" {
                        option value="enabled" selected[endpoint.status == EndpointStatus::Enabled] { "enabled" }
                        option value="disabled" selected[endpoint.status == EndpointStatus::Disabled] { "disabled" }
                    }
                }
                button type="submit" { "Save" }
            }
            div class="row" {
                (button(visitor, &format!("{base}/rotate"), "Rotate secret", "secondary"))
                (button(visitor, &format!("{base}/delete"), "Delete endpoint", "danger"))
            }
        }
        section aria-labelledby="deliveries" {
            h2 id="deliveries" { "Deliveries" }
            @if deliveries.is_empty() { p { "No deliveries yet." } } @else {
                div class="scroll" {
                    table {
                        caption class="visually-hidden" { "Deliveries" }
                        thead { tr { th scope="col" { "Event" } th scope="col" { "Status" } th scope="col" { "Attempts" } th scope="col" { "Created" } th scope="col" { span class="visually-hidden" { "Actions" } } } }
                        tbody {
                            @for d in &deliveries {
                                tr class="delivery" id=(d.id) {
                                    td { (d.event_type.as_str()) br; code class="small" { (d.event_id) } }
                                    td { (match d.status { DeliveryStatus::Pending => "pending", DeliveryStatus::Succeeded => "succeeded", DeliveryStatus::Failed => "failed" }) }
                                    td {
                                        ol class="attempts" {
                                            @for a in &d.attempts {
                                                li class="attempt" {
                                                    (when(&a.at)) " · "
                                                    @match a.status_code { Some(code) => { "HTTP " (code) }, None => { "no answer" } }
                                                    " · " (a.latency_ms) " ms"
                                                    @if let Some(error) = &a.error { " · " (error) }
                                                }
                                            }
                                        }
                                    }
                                    td { (when(&d.created_at)) }
                                    td {
                                        form method="post" action={ (base) "/deliveries/" (d.id) "/redeliver" } {
                                            (visitor.csrf())
                                            button type="submit" class="secondary" aria-label={ "Redeliver " (d.id) } { "Redeliver" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let status = notice.as_ref().map_or(200, |(s, _)| *s);
    Ok(shell_with_status(status, visitor, "Webhook endpoint", content, Options::default()))
}

async fn act(
    state: &State,
    visitor: &Visitor,
    request: &ApiRequest,
    id: &str,
    action: &str,
) -> Result<Reply, ApiError> {
    state.webhooks.get(&visitor.account, id).await?;
    let form = match visitor.form(request)? {
        Ok(form) => form,
        Err(invalid) => return show(state, visitor, id, Some((400, invalid.0))).await,
    };
    match action {
        "rotate" => {
            let (endpoint, secret) = state.webhooks.rotate(&visitor.account, id).await?;
            Ok(shell(
                visitor,
                "Secret rotated",
                html! {
                    p { "The new signing secret. Copy it now: it is not shown again. The old one keeps signing for 24 hours." }
                    (shown_once("secret", "New signing secret", &secret.expose()))
                    p { a href={ "/dashboard/webhooks/" (endpoint.id) } { "Back to the endpoint" } }
                },
                with_copy(),
            ))
        }
        "delete" => {
            state.webhooks.delete(&visitor.account, id).await?;
            Ok(Reply::see_other("/dashboard/webhooks"))
        }
        _ => {
            let status = match form.get("status") {
                Some("disabled") => Some(EndpointStatus::Disabled),
                Some("enabled") => Some(EndpointStatus::Enabled),
                _ => None,
            };
            let change = UpdateEndpoint { url: form.get("url").map(str::to_owned), status, ..Default::default() };
            match state.webhooks.update(&visitor.account, id, change).await {
                Ok(_) => Ok(Reply::see_other(format!("/dashboard/webhooks/{id}"))),
                Err(e) if e.code.status() < 500 => show(state, visitor, id, Some((e.code.status(), said(&e)))).await,
                Err(e) => Err(e),
            }
        }
    }
}
