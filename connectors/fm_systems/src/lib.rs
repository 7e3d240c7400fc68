//! The FM:Systems connector: FMS:Workplace's FMInteract Web Service, whose one operation,
//! `GetData`, answers the rows of a view or stored procedure the tenant's administrator granted
//! to the web-service user. It is read-only (the service has no write operation). The objects
//! are the connection's: `verify` reads each, naming the one that is not granted.
//!
//! Views take only equality filters and have no paging, so each sync reads an object whole and
//! keeps the rows whose `ModifiedDate` is at or after the sync's bound (a row without one always);
//! work orders are asked for by that bound where the tenant has a stored procedure for it.

pub mod assumed;
pub mod mapping;
pub mod service;
pub mod soap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use millwright::{
    capabilities::{Capabilities, EntityCapabilities},
    connectors::{Changes, Connector, ConnectorError, Credentials},
    entities::{Entity, Record},
    error::ErrorCode,
};
use millwright_outbound::upstream::Upstream;

use assumed::{ASSET_STATUSES, INVALID_CREDENTIALS, PROCEDURE, SINCE_ARGUMENT, SINCE_PROCEDURE, VIEW, WO_STATUSES};
use mapping::{ASSETS, BUILDINGS, Columns, FLOORS, Level, Places, SITES, SPACES, WORK_ORDERS, statuses};
use service::{Object, Service};
use soap::Row;

/// The FM:Systems connector; `standard()` registers it as `fm_systems`.
pub struct FmSystems {
    upstream: Upstream,
}

impl FmSystems {
    /// A connector that sends every request through `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }
}

/// The key column of the view a connection field names, to ask for no rows of it.
fn key_column(field: &str) -> Option<&'static Columns> {
    Some(match field {
        "sitesObject" => &SITES,
        "buildingsObject" => &BUILDINGS,
        "floorsObject" => &FLOORS,
        "spacesObject" => &SPACES,
        "assetsObject" => &ASSETS,
        "workOrdersObject" => &WORK_ORDERS,
        _ => return None,
    })
}

impl Service<'_> {
    fn named(&self, field: &str) -> Result<&Object, ConnectorError> {
        self.object(field).ok_or(ConnectorError::Unsupported)
    }

    /// A view's rows, whole (views take no other filter than equality).
    async fn view(&self, field: &str) -> Result<Vec<Row>, ConnectorError> {
        self.get_data(self.named(field)?, VIEW, &[]).await
    }

    /// Buildings, floors and spaces, whole.
    async fn places(&self) -> Result<(Vec<Row>, Vec<Row>, Vec<Row>), ConnectorError> {
        Ok((self.view("buildingsObject").await?, self.view("floorsObject").await?, self.view("spacesObject").await?))
    }

    /// Work orders changed at or after `since`: by the tenant's procedure when it has one.
    async fn work_orders(&self, since: Option<DateTime<Utc>>) -> Result<Vec<Row>, ConnectorError> {
        match (since, self.object(SINCE_PROCEDURE)) {
            (Some(since), Some(procedure)) => {
                self.get_data(procedure, PROCEDURE, &[(SINCE_ARGUMENT, assumed::since(since))]).await
            }
            _ => self.view("workOrdersObject").await,
        }
    }

    /// Reads no rows of an object, to learn whether the web-service user may read it; a refusal
    /// (not granted, no such column) names the connection field of the object.
    async fn probe(&self, object: &Object) -> Result<(), ConnectorError> {
        let answer = match key_column(object.field) {
            Some(columns) => self.send(object, VIEW, &[(columns.key, "0".into())]).await?,
            // Nothing can have changed after now.
            None => self.send(object, PROCEDURE, &[(SINCE_ARGUMENT, assumed::since(Utc::now()))]).await?,
        };
        match soap::reply(&answer.body) {
            soap::Reply::Fault { code, text } if service::is_client(&code) && !text.contains(INVALID_CREDENTIALS) => {
                Err(ConnectorError::Rule {
                    code: ErrorCode::InvalidCredentials,
                    message: format!("{}: {text}", object.name),
                    field: Some(format!("credentials.{}", object.field)),
                })
            }
            _ => service::outcome(&answer).map(drop),
        }
    }
}

/// The rows changed at or after `since` (all, without it); a row without a change time always.
fn kept(rows: &[Row], since: Option<DateTime<Utc>>) -> impl Iterator<Item = &Row> {
    rows.iter().filter(move |row| since.is_none_or(|s| mapping::modified(row).is_none_or(|t| t >= s)))
}

/// What FM:Systems supports: sites, locations, assets and work orders, read only.
pub fn capabilities() -> Capabilities {
    Capabilities(
        Entity::ALL
            .iter()
            .map(|&entity| match entity {
                Entity::Sites | Entity::Locations => EntityCapabilities::read_only(entity, Vec::new()),
                Entity::Assets => EntityCapabilities::read_only(entity, statuses(&ASSET_STATUSES)),
                Entity::WorkOrders => EntityCapabilities::read_only(entity, statuses(&WO_STATUSES)),
                _ => EntityCapabilities::none(entity),
            })
            .collect(),
    )
}

#[async_trait]
impl Connector for FmSystems {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        let service = Service::new(&self.upstream, credentials)?;
        for object in service.objects() {
            service.probe(object).await?;
        }
        Ok(())
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn changes(
        &self,
        credentials: &Credentials,
        entity: Entity,
        since: Option<DateTime<Utc>>,
        _cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        let service = Service::new(&self.upstream, credentials)?;
        let places = || async {
            let (buildings, floors, spaces) = service.places().await?;
            Ok::<_, ConnectorError>((Places::of(&buildings, &floors, &spaces), [buildings, floors, spaces]))
        };
        let records: Vec<Record> = match entity {
            Entity::Sites => kept(&service.view("sitesObject").await?, since).filter_map(mapping::site).collect(),
            Entity::Locations => {
                let (places, rows) = places().await?;
                let places = &places;
                let levels = [Level::Building, Level::Floor, Level::Room].into_iter().zip(&rows);
                levels
                    .flat_map(|(level, rows)| {
                        kept(rows, since).filter_map(move |row| mapping::location(level, row, places))
                    })
                    .collect()
            }
            Entity::Assets => {
                let rows = service.view("assetsObject").await?;
                let (places, _) = places().await?;
                kept(&rows, since).filter_map(|row| mapping::asset(row, &places)).collect()
            }
            Entity::WorkOrders => {
                let rows = service.work_orders(since).await?;
                let (places, _) = places().await?;
                kept(&rows, since).filter_map(|row| mapping::work_order(row, &places)).collect()
            }
            _ => return Err(ConnectorError::Unsupported),
        };
        // No paging: the whole row set is one page.
        Ok(Changes { records, next: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_entities_are_read_and_none_written() {
        let caps = capabilities();
        assert_eq!(caps.listable(), vec![Entity::WorkOrders, Entity::Assets, Entity::Sites, Entity::Locations]);
        for entity in Entity::ALL {
            let ops = &caps.of(entity).operations;
            assert!(
                ops.iter().all(|op| matches!(
                    op,
                    millwright::capabilities::Operation::List | millwright::capabilities::Operation::Get
                )),
                "{entity:?}"
            );
        }
        for field in
            ["sitesObject", "buildingsObject", "floorsObject", "spacesObject", "assetsObject", "workOrdersObject"]
        {
            assert!(key_column(field).is_some(), "{field}");
        }
    }
}
