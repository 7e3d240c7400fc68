//! The connections pages: the list with search and filters, and one connection's page — status,
//! settings, runs with live progress, Sync now, rotate token, re-authentication link and
//! Disconnect.

use maud::{Markup, html};
use millwright::{
    catalog,
    connect_sessions::SessionRequest,
    connections::{ConnectionPatch, SettingsInput},
    connectors::ListQuery,
    entities::{Entity, Record},
    error::ApiError,
    model::{Connection, ConnectionStatus},
    page::MAX_LIMIT,
    ports::{Disconnected, RunScope},
    sync::{SyncMode, SyncRequest, SyncRun, Trigger, partition},
};
use millwright_aws::http::{ApiRequest, Reply};

use super::{Visitor, button, problem, said, shell, shell_with_status, shown_once, when, with_copy};
use crate::{State, page::Options, routes::no_page};

/// The most connections the list reads (it filters what it read).
const LIST_PAGES: usize = 10;
/// Runs shown on a connection's page.
const RUNS_SHOWN: usize = 20;
/// Records the data browser shows.
const RECORDS_SHOWN: usize = 25;
/// How often a page with a run in progress reloads.
const REFRESH_SECONDS: u32 = 2;

pub async fn handle(state: &State, visitor: &Visitor, request: &ApiRequest, path: &[&str]) -> Result<Reply, ApiError> {
    match (request.method.as_str(), path) {
        ("GET", []) => list(state, visitor, request).await,
        ("GET", [id]) => show(state, visitor, id, None, request.query("entity")).await,
        ("GET", [id, "disconnect"]) => confirm_disconnect(state, visitor, id).await,
        ("POST", [id, action]) => act(state, visitor, request, id, action).await,
        _ => Err(no_page()),
    }
}

/// Every connection of the account, up to `LIST_PAGES` pages.
pub async fn all(state: &State, account: &str) -> Result<Vec<Connection>, ApiError> {
    let connections = state.sessions.connections();
    let (mut all, mut after) = (Vec::new(), None::<String>);
    for _ in 0..LIST_PAGES {
        let (page, next) = connections.list(account, after.as_deref(), MAX_LIMIT).await?;
        all.extend(page);
        match next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    Ok(all)
}

/// The user's own id for the connection's customer, when it has one.
fn external_id(connection: &Connection) -> Option<&str> {
    connection.metadata.get("externalId").and_then(|v| v.as_str())
}

pub fn system_name(id: &str) -> String {
    catalog::find(id).map_or_else(|| id.to_owned(), |s| s.name.to_owned())
}

pub fn status_name(status: ConnectionStatus) -> &'static str {
    match status {
        ConnectionStatus::Active => "active",
        ConnectionStatus::Disconnected => "disconnected",
        ConnectionStatus::AuthRequired => "auth_required",
        ConnectionStatus::Error => "error",
    }
}

async fn list(state: &State, visitor: &Visitor, request: &ApiRequest) -> Result<Reply, ApiError> {
    let search = request.query("q").map(str::trim).filter(|q| !q.is_empty());
    let status = request.query("status").filter(|s| !s.is_empty());
    let system = request.query("system").filter(|s| !s.is_empty());
    let needle = search.map(str::to_lowercase);
    let shown: Vec<Connection> = all(state, &visitor.account)
        .await?
        .into_iter()
        .filter(|c| status.is_none_or(|s| status_name(c.status) == s))
        .filter(|c| system.is_none_or(|s| c.system == s))
        .filter(|c| {
            needle.as_deref().is_none_or(|n| {
                [Some(c.id.as_str()), c.name.as_deref(), external_id(c)]
                    .into_iter()
                    .flatten()
                    .any(|text| text.to_lowercase().contains(n))
            })
        })
        .collect();
    let statuses = ["active", "auth_required", "error", "disconnected"];
    let content = html! {
        form method="get" action="/dashboard/connections" class="filters" role="search" {
            div class="field" {
                label for="q" { "Search" }
                input id="q" name="q" type="search" value=[search] placeholder="id, name or external id";
            }
            div class="field" {
                label for="status" { "Status" }
                select id="status" name="status" {
                    option value="" { "Any" }
                    @for s in statuses { option value=(s) selected[status == Some(s)] { (s) } }
                }
            }
            div class="field" {
                label for="system" { "System" }
                select id="system" name="system" {
                    option value="" { "Any" }
                    @for s in catalog::systems() { option value=(s.id) selected[system == Some(s.id)] { (s.name) } }
                }
            }
            button type="submit" { "Filter" }
        }
        @if shown.is_empty() {
            p { "No connection matches." }
        } @else {
            div class="scroll" {
                table {
                    caption class="visually-hidden" { "Connections" }
                    thead { tr { th scope="col" { "Connection" } th scope="col" { "System" } th scope="col" { "Status" } th scope="col" { "External id" } th scope="col" { "Created" } } }
                    tbody {
                        @for c in &shown {
                            tr {
                                td { a href={ "/dashboard/connections/" (c.id) } { (c.name.as_deref().unwrap_or(&c.id)) } }
                                td { (system_name(&c.system)) }
                                td { span class={ "status " (status_name(c.status)) } { (status_name(c.status)) } }
                                td { (external_id(c).unwrap_or("")) }
                                td { (when(&c.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(shell(visitor, "Connections", content, Options::default()))
}

/// A connection's page, with a notice or problem above it.
async fn show(
    state: &State,
    visitor: &Visitor,
    id: &str,
    notice: Option<Notice>,
    browsed: Option<&str>,
) -> Result<Reply, ApiError> {
    let connection = state.sessions.connections().get(&visitor.account, id).await?;
    let (runs, _) = state.syncs.list(RunScope::Connection(&connection.id), None, RUNS_SHOWN).await?;
    let running = runs.iter().any(|r| !r.status.finished());
    let open = connection.status != ConnectionStatus::Disconnected;
    let base = format!("/dashboard/connections/{}", connection.id);
    let entities = &connection.settings.sync_entities;
    let browsed = browsed.or(entities.first().map(String::as_str)).and_then(Entity::from_path);
    let records = match browsed {
        Some(entity) => {
            let query = ListQuery { limit: RECORDS_SHOWN, include_deleted: true, ..ListQuery::default() };
            let page = state.records.page(&partition(&connection.id, entity), &query).await;
            page.map_err(|e| ApiError::from_store(e, "records"))?.records
        }
        None => Vec::new(),
    };
    let content = html! {
        @if let Some(notice) = &notice { (notice.markup()) }
        dl class="facts" {
            dt { "Id" } dd { code { (connection.id) } }
            dt { "System" } dd { (system_name(&connection.system)) " (" (connection.deployment.as_str()) ")" }
            dt { "Status" } dd { span class={ "status " (status_name(connection.status)) } { (status_name(connection.status)) } }
            dt { "Credits held" } dd { (if open { connection.credits } else { 0 }) }
            @if let Some(external) = external_id(&connection) { dt { "External id" } dd { (external) } }
            dt { "Created" } dd { (when(&connection.created_at)) }
        }
        @if open {
            section aria-labelledby="sync-now" {
                h2 id="sync-now" { "Sync now" }
                form method="post" action={ (base) "/sync" } class="row" {
                    (visitor.csrf())
                    div class="field" {
                        label for="entity" { "Entity" }
                        select id="entity" name="entity" {
                            option value="" { "All synced entities" }
                            @for e in entities { option value=(e) { (e) } }
                        }
                    }
                    fieldset {
                        legend { "Mode" }
                        label { input type="radio" name="mode" value="incremental" checked; " Incremental" }
                        label { input type="radio" name="mode" value="full"; " Full" }
                    }
                    button type="submit" { "Sync now" }
                }
            }
        }
        section aria-labelledby="runs" {
            h2 id="runs" { "Recent runs" }
            @if running { p class="muted" role="status" { "A run is in progress; this page refreshes every " (REFRESH_SECONDS) " seconds." } }
            (runs_table(&runs))
        }
        section aria-labelledby="data" {
            h2 id="data" { "Synced records" }
            @if !entities.is_empty() {
                nav aria-label="Entities" class="row" {
                    @for e in entities {
                        a href={ (base) "?entity=" (e) } aria-current=[(browsed.map(Entity::path) == Some(e.as_str())).then_some("page")] { (e) }
                    }
                }
            }
            (records_table(&records))
        }
        @if open {
            section aria-labelledby="settings" {
                h2 id="settings" { "Settings" }
                form method="post" action={ (base) "/settings" } class="row" {
                    (visitor.csrf())
                    div class="field" {
                        label for="interval" { "Minutes between scheduled syncs" }
                        input id="interval" name="syncIntervalMinutes" type="number" min="1" max="1440" required value=(connection.settings.sync_interval_minutes);
                    }
                    div class="field" {
                        label for="days" { "Days of history a full sync takes" }
                        input id="days" name="historicalDays" type="number" min="1" max="3650" required value=(connection.settings.historical_days);
                    }
                    button type="submit" { "Save settings" }
                }
            }
            section aria-labelledby="manage" {
                h2 id="manage" { "Manage" }
                div class="row" {
                    (button(visitor, &format!("{base}/token"), "Rotate token", "secondary"))
                    (button(visitor, &format!("{base}/reauthenticate"), "Create re-authentication link", "secondary"))
                    a class="button danger" href={ (base) "/disconnect" } { "Disconnect…" }
                }
            }
        }
    };
    let title = connection.name.clone().unwrap_or_else(|| system_name(&connection.system));
    // A value shown once is never reloaded away.
    let shows_once = matches!(notice, Some(Notice::Done(_)));
    let options = Options { refresh_seconds: (running && !shows_once).then_some(REFRESH_SECONDS), ..with_copy() };
    let status = notice.as_ref().map_or(200, Notice::status);
    Ok(shell_with_status(status, visitor, &title, content, options))
}

/// The first records of the synced copy, each with its whole record on demand.
fn records_table(records: &[Record]) -> Markup {
    let text = |r: &Record, field: &str| r.get(field).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    html! {
        @if records.is_empty() {
            p { "No synced records of this entity." }
        } @else {
            div class="scroll" {
                table {
                    caption class="visually-hidden" { "Synced records" }
                    thead { tr { th scope="col" { "Key" } th scope="col" { "Status" } th scope="col" { "Updated" } th scope="col" { "Record" } } }
                    tbody {
                        @for r in records {
                            tr class="record" {
                                td { code { (text(r, "key")) } }
                                td { (text(r, "status")) }
                                td { (text(r, "updatedAt")) }
                                td { details { summary { "JSON" } pre { (serde_json::to_string_pretty(r).unwrap_or_default()) } } }
                            }
                        }
                    }
                }
            }
            p class="muted small" { "The first " (records.len()) " in key order; read them all with the connection's token." }
        }
    }
}

fn runs_table(runs: &[SyncRun]) -> Markup {
    html! {
        @if runs.is_empty() {
            p { "No runs yet." }
        } @else {
            div class="scroll" {
                table {
                    caption class="visually-hidden" { "Recent runs" }
                    thead { tr {
                        th scope="col" { "Run" } th scope="col" { "Entity" } th scope="col" { "Mode" }
                        th scope="col" { "Status" } th scope="col" { "Fetched" } th scope="col" { "Created" }
                        th scope="col" { "Updated" } th scope="col" { "Deleted" } th scope="col" { "Queued" }
                    } }
                    tbody {
                        @for run in runs {
                            tr class="run" data-status=(run.status.as_str()) {
                                td { code { (run.id) } }
                                td { (run.entity) }
                                td { (match run.mode { SyncMode::Full => "full", SyncMode::Incremental => "incremental" }) }
                                td {
                                    span class={ "status " (run.status.as_str()) } { (run.status.as_str()) }
                                    @if let Some(error) = &run.error { br; span class="small" { (error.message) } }
                                }
                                td { (run.counts.fetched) } td { (run.counts.created) }
                                td { (run.counts.updated) } td { (run.counts.deleted) }
                                td { (when(&run.created_at)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What an action left to say on the connection's page.
enum Notice {
    /// It worked.
    Done(Markup),
    /// It was refused; the status of the refusal.
    Refused(u16, String),
}

impl Notice {
    fn status(&self) -> u16 {
        match self {
            Notice::Done(_) => 200,
            Notice::Refused(status, _) => *status,
        }
    }

    fn markup(&self) -> Markup {
        match self {
            Notice::Done(content) => html! { div class="notice" role="status" { (content) } },
            Notice::Refused(_, text) => problem(text),
        }
    }
}

async fn act(
    state: &State,
    visitor: &Visitor,
    request: &ApiRequest,
    id: &str,
    action: &str,
) -> Result<Reply, ApiError> {
    let connections = state.sessions.connections();
    // Another account's id is a 404 before the form is even read.
    let connection = connections.get(&visitor.account, id).await?;
    let form = match visitor.form(request)? {
        Ok(form) => form,
        Err(invalid) => return show(state, visitor, id, Some(Notice::Refused(400, invalid.0)), None).await,
    };
    let outcome: Result<Notice, ApiError> = match action {
        "sync" => {
            let mode = match form.get("mode") {
                Some("full") => SyncMode::Full,
                Some("incremental") | None => SyncMode::Incremental,
                Some(_) => {
                    return show(state, visitor, id, Some(Notice::Refused(400, "Choose a mode.".into())), None).await;
                }
            };
            let request = SyncRequest { entities: form.get("entity").map(|e| vec![e.to_owned()]), mode: Some(mode) };
            match state.syncs.start(&connection, request, Trigger::Manual).await {
                // Back to the page with a GET: a reload does not sync again.
                Ok(_) => return Ok(Reply::see_other(format!("/dashboard/connections/{id}"))),
                Err(e) => Err(e),
            }
        }
        "settings" => {
            let number = |name: &str| form.get(name).and_then(|v| v.parse::<u32>().ok());
            match (number("syncIntervalMinutes"), number("historicalDays")) {
                (Some(interval), Some(days)) => {
                    let settings = SettingsInput {
                        sync_entities: None,
                        sync_interval_minutes: Some(interval),
                        historical_days: Some(days),
                    };
                    let patch = ConnectionPatch { settings: Some(settings), ..Default::default() };
                    connections
                        .update(&visitor.account, id, patch)
                        .await
                        .map(|_| Notice::Done(html! { "Settings saved." }))
                }
                _ => Ok(Notice::Refused(400, "The settings must be whole numbers.".into())),
            }
        }
        "token" => connections.rotate(&visitor.account, id).await.map(|(_, issued)| {
            Notice::Done(html! {
                p { "The new token. Copy it now: it is not shown again, and the old one no longer works." }
                (shown_once("token", "New connection token", &issued.plaintext))
            })
        }),
        "reauthenticate" => {
            let asked = SessionRequest { connection_id: Some(id.to_owned()), ..Default::default() };
            state.sessions.create(&visitor.account, asked).await.map(|created| {
                let url = format!("{}{}", request.origin(), created.path);
                Notice::Done(html! {
                    p { "Send this link to the customer; it works once, until " (when(&created.session.expires_at)) "." }
                    (shown_once("link", "Re-authentication link", &url))
                })
            })
        }
        "disconnect" => {
            let outcome = connections.disconnect(&visitor.account, id).await?;
            let credits = match &outcome {
                Disconnected::Now(c) => c.credits,
                Disconnected::Already(_) => 0,
            };
            let available = state.accounts.account(&visitor.account).await.ok().flatten().map(|a| a.credits_available);
            Ok(Notice::Done(html! {
                p { strong { "Disconnected." } " " (credits) " credits returned to the pool"
                    @if let Some(available) = available { "; " (available) " available now" } "." }
            }))
        }
        _ => return Err(no_page()),
    };
    match outcome {
        Ok(notice) => show(state, visitor, id, Some(notice), None).await,
        Err(e) if e.code.status() < 500 && e.code.status() != 404 => {
            show(state, visitor, id, Some(Notice::Refused(e.code.status(), said(&e))), None).await
        }
        Err(e) => Err(e),
    }
}

async fn confirm_disconnect(state: &State, visitor: &Visitor, id: &str) -> Result<Reply, ApiError> {
    let connection = state.sessions.connections().get(&visitor.account, id).await?;
    if connection.status == ConnectionStatus::Disconnected {
        return show(state, visitor, id, None, None).await;
    }
    let content = html! {
        p { "Disconnecting ends the connection's token at once, stops its syncs and deletes its stored credentials. "
            (connection.credits) " credits return to the pool." }
        form method="post" action={ "/dashboard/connections/" (connection.id) "/disconnect" } class="row" {
            (visitor.csrf())
            button type="submit" class="danger" { "Disconnect" }
            a class="button secondary" href={ "/dashboard/connections/" (connection.id) } { "Cancel" }
        }
    };
    Ok(shell(visitor, &format!("Disconnect {}?", system_name(&connection.system)), content, Options::default()))
}
