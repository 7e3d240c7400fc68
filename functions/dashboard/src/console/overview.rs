//! The overview: the credit pool (total, used, available, by system), connections by status,
//! recent failed syncs and failing webhook endpoints.

use maud::html;
use millwright::{
    error::ApiError, model::ConnectionStatus, ports::RunScope, sync::SyncStatus, webhooks::EndpointStatus,
};
use millwright_aws::http::Reply;
use std::collections::BTreeMap;

use super::{Visitor, connections::all, shell, when};
use crate::{State, page::Options};

/// Runs read for the failed ones among them.
const RECENT_RUNS: usize = 100;

pub async fn page(state: &State, visitor: &Visitor) -> Result<Reply, ApiError> {
    let account = state
        .accounts
        .account(&visitor.account)
        .await
        .map_err(|e| ApiError::from_store(e, "account"))?
        .ok_or_else(|| ApiError::not_found("account"))?;
    let connections = all(state, &visitor.account).await?;
    let holding: Vec<_> = connections.iter().filter(|c| c.status != ConnectionStatus::Disconnected).collect();
    let mut by_system: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
    for c in &holding {
        let entry = by_system.entry(c.system.as_str()).or_default();
        entry.0 += 1;
        entry.1 += c.credits;
    }
    let used: u32 = holding.iter().map(|c| c.credits).sum();
    let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &connections {
        *by_status.entry(super::connections::status_name(c.status)).or_default() += 1;
    }
    let (runs, _) = state.syncs.list(RunScope::Account(&visitor.account), None, RECENT_RUNS).await?;
    let failed: Vec<_> = runs.iter().filter(|r| r.status == SyncStatus::Failed).take(10).collect();
    let (endpoints, _) = state.webhooks.list(&visitor.account, None, 100).await?;
    let failing: Vec<_> = endpoints.iter().filter(|e| e.status == EndpointStatus::Disabled).collect();
    let content = html! {
        section aria-labelledby="credits" {
            h2 id="credits" { "Credits" }
            dl class="figures" {
                div { dt { "Total" } dd id="credits-total" { (account.credits_total) } }
                div { dt { "Used" } dd id="credits-used" { (used) } }
                div { dt { "Available" } dd id="credits-available" { (account.credits_available) } }
            }
            @if !by_system.is_empty() {
                table {
                    caption { "Credits by system" }
                    thead { tr { th scope="col" { "System" } th scope="col" { "Connections" } th scope="col" { "Credits" } } }
                    tbody {
                        @for (system, (count, credits)) in &by_system {
                            tr { td { (super::connections::system_name(system)) } td { (count) } td { (credits) } }
                        }
                    }
                }
            }
        }
        section aria-labelledby="by-status" {
            h2 id="by-status" { "Connections" }
            @if by_status.is_empty() {
                p { "No connections yet. " a href="/dashboard/connect-links" { "Create a connect link" } " for a customer." }
            } @else {
                ul class="counts" {
                    @for (status, count) in &by_status {
                        li { a href={ "/dashboard/connections?status=" (status) } { (count) " " (status) } }
                    }
                }
            }
        }
        section aria-labelledby="failed-syncs" {
            h2 id="failed-syncs" { "Recent failed syncs" }
            @if failed.is_empty() { p { "None." } } @else {
                ul {
                    @for run in &failed {
                        li {
                            a href={ "/dashboard/connections/" (run.connection_id) } { (run.connection_id) }
                            " · " (run.entity) " · " (when(&run.created_at))
                            @if let Some(error) = &run.error { " · " (error.message) }
                        }
                    }
                }
            }
        }
        section aria-labelledby="failing-endpoints" {
            h2 id="failing-endpoints" { "Failing webhook endpoints" }
            @if failing.is_empty() { p { "None." } } @else {
                ul {
                    @for endpoint in &failing {
                        li {
                            a href={ "/dashboard/webhooks/" (endpoint.id) } { (endpoint.url) }
                            @if let Some(reason) = &endpoint.disabled_reason { " · " (reason) }
                        }
                    }
                }
            }
        }
    };
    Ok(shell(visitor, "Overview", content, Options::default()))
}
