//! FM:Systems rows ↔ unified records, per the dossier's mapping: sites; buildings, floors and
//! spaces as one hierarchy of locations (space's area, capacity, use and department on them);
//! assets and work orders, placed in that hierarchy by a space's id or by building, floor and
//! space codes. The tables below are where every column name lives: the dossier's invented
//! catalogue, which a real tenant's views change here.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{Map, Value};

use millwright::{capabilities::Status, entities::Record};

use crate::{
    assumed::{self, AREA_UNITS, ASSET_STATUSES, MODIFIED, SEVERITIES, WO_STATUSES},
    soap::Row,
};

/// How a column's text becomes a unified value.
#[derive(Clone, Copy)]
pub enum As {
    /// As it is.
    Text,
    /// A decimal string.
    Decimal,
    /// An RFC 3339 time.
    Time,
    /// A boolean.
    Flag,
}

/// An object's columns: its key, and unified field ← column.
pub struct Columns {
    /// The key column.
    pub key: &'static str,
    /// Unified field, column, conversion.
    pub fields: &'static [(&'static str, &'static str, As)],
    /// Columns kept in `customFields` under their own names.
    pub extra: &'static [&'static str],
}

/// Sites.
pub const SITES: Columns =
    Columns { key: "SiteID", fields: &[("code", "SiteCode", As::Text), ("name", "SiteName", As::Text)], extra: &[] };
/// A site's address, for its description.
const SITE_ADDRESS: [&str; 3] = ["City", "State", "Country"];

/// Buildings; `BUILDING_SITE` is the site they are on.
pub const BUILDINGS: Columns = Columns {
    key: "BuildingID",
    fields: &[
        ("code", BUILDING_CODE, As::Text),
        ("name", "BuildingName", As::Text),
        ("description", "Address1", As::Text),
        ("area", "GrossArea", As::Decimal),
        ("isActive", "IsActive", As::Flag),
    ],
    extra: &["City", "PostalCode"],
};
const BUILDING_SITE: &str = "SiteID";
const BUILDING_CODE: &str = "BuildingCode";

/// Floors; `FLOOR_BUILDING` is the building they are in, `FLOOR_CODE` their code in it.
pub const FLOORS: Columns = Columns {
    key: "FloorID",
    fields: &[("name", "FloorName", As::Text), ("area", "GrossArea", As::Decimal)],
    extra: &[],
};
const FLOOR_BUILDING: &str = "BuildingID";
const FLOOR_CODE: &str = "FloorCode";

/// Spaces (rooms); `SPACE_FLOOR` is the floor they are on, `SPACE_NUMBER` their number on it.
pub const SPACES: Columns = Columns {
    key: "SpaceID",
    fields: &[
        ("name", "SpaceName", As::Text),
        ("spaceUse", "SpaceUse", As::Text),
        ("department", "Department", As::Text),
        ("area", "Area", As::Decimal),
        ("capacity", "Capacity", As::Decimal),
    ],
    extra: &["SpaceType", "IsOccupiable"],
};
const SPACE_FLOOR: &str = "FloorID";
const SPACE_NUMBER: &str = "SpaceNumber";
const AREA_UNIT: &str = "AreaUnit";

/// Assets.
pub const ASSETS: Columns = Columns {
    key: "AssetID",
    fields: &[
        ("name", "Description", As::Text),
        ("categoryName", "Category", As::Text),
        ("makeName", "Manufacturer", As::Text),
        ("modelName", "Model", As::Text),
        ("serialNumber", "SerialNumber", As::Text),
    ],
    extra: &["AssetTag", "InstallDate", "WarrantyExpiration"],
};

/// Work orders.
pub const WORK_ORDERS: Columns = Columns {
    key: "WorkOrderID",
    fields: &[
        ("code", "WorkOrderNumber", As::Text),
        ("title", "Description", As::Text),
        ("categoryName", "WorkType", As::Text),
        ("scheduledAt", "ScheduledStart", As::Time),
        ("dueAt", "DueDate", As::Time),
        ("completedAt", "CompletedDate", As::Time),
        ("assetKey", "AssetID", As::Text),
    ],
    extra: &["WorkRequestID", "AssignedTo", "Trade", "LaborHours", "MaterialCost"],
};
const STATUS: &str = "Status";
const PRIORITY: &str = "Priority";

/// Where an asset or a work order is: a space's id, or building, floor and space codes.
const PLACE: [&str; 4] = ["SpaceID", "BuildingCode", "FloorCode", "SpaceNumber"];

/// The three levels of locations: their `type`, which also begins their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// A building, under its site.
    Building,
    /// A floor, in a building.
    Floor,
    /// A space on a floor.
    Room,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Self::Building => "building",
            Self::Floor => "floor",
            Self::Room => "room",
        }
    }

    /// The unified key of a location of this level: `building-10`, `floor-101`, `room-5001`.
    pub fn key(self, id: &str) -> String {
        format!("{}-{id}", self.name())
    }
}

/// A column's value as text (JSON rows carry numbers and booleans), if it has one.
pub fn cell(row: &Row, column: &str) -> Option<String> {
    let value = row.get(column).or_else(|| row.iter().find(|(k, _)| k.eq_ignore_ascii_case(column)).map(|(_, v)| v))?;
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

/// A row's change time.
pub fn modified(row: &Row) -> Option<DateTime<Utc>> {
    cell(row, MODIFIED).and_then(|t| assumed::time(&t))
}

fn stamp(t: DateTime<Utc>) -> Value {
    t.to_rfc3339_opts(SecondsFormat::Millis, true).into()
}

fn convert(text: Option<String>, kind: As) -> Value {
    let Some(text) = text else { return Value::Null };
    match kind {
        As::Text => text.into(),
        As::Decimal => text.parse::<Decimal>().map_or(Value::Null, |d| d.normalize().to_string().into()),
        As::Time => assumed::time(&text).map_or(Value::Null, stamp),
        As::Flag => match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::Null,
        },
    }
}

/// The key of a row of an object, if it has one.
pub fn key(row: &Row, columns: &Columns) -> Option<String> {
    cell(row, columns.key)
}

/// A row as a record: its fields by the table, its key, times, custom fields and the row itself.
fn base(row: &Row, columns: &Columns, key: String) -> Record {
    let mut record = Record::new();
    for &(field, column, kind) in columns.fields {
        record.insert(field.into(), convert(cell(row, column), kind));
    }
    let custom: Map<String, Value> =
        columns.extra.iter().filter_map(|&c| Some((c.to_owned(), Value::String(cell(row, c)?)))).collect();
    record.insert("key".into(), key.into());
    record.insert("createdAt".into(), Value::Null);
    record.insert("updatedAt".into(), modified(row).map_or(Value::Null, stamp));
    record.insert("deletedAt".into(), Value::Null);
    record.insert("customFields".into(), Value::Object(custom));
    record.insert("remoteData".into(), Value::Object(row.clone()));
    record
}

/// The statuses of a table, as capabilities declare them.
pub fn statuses(list: &[(&str, &'static str, &'static str)]) -> Vec<Status> {
    list.iter().map(|&(_, key, name)| Status { key, name }).collect()
}

/// The unified key of a status (one the table does not know, as snake case).
fn status_key(list: &[(&str, &str, &str)], status: Option<String>) -> Value {
    let Some(status) = status else { return Value::Null };
    match list.iter().find(|t| t.0.eq_ignore_ascii_case(&status)) {
        Some(t) => t.1.into(),
        None => status.to_lowercase().split_whitespace().collect::<Vec<_>>().join("_").into(),
    }
}

/// A priority's severity: by the name after `"<rank> - "`.
fn severity(priority: Option<String>) -> Value {
    let Some(priority) = priority else { return Value::Null };
    let name = priority.rsplit(" - ").next().unwrap_or_default().trim();
    SEVERITIES
        .iter()
        .find(|t| t.0.eq_ignore_ascii_case(name))
        .map_or_else(|| name.to_lowercase().into(), |t| t.1.into())
}

/// A site.
pub fn site(row: &Row) -> Option<Record> {
    let key = key(row, &SITES)?;
    let mut record = base(row, &SITES, key);
    let address: Vec<String> = SITE_ADDRESS.iter().filter_map(|c| cell(row, c)).collect();
    record.insert("description".into(), if address.is_empty() { Value::Null } else { address.join(", ").into() });
    record.insert("statusKey".into(), "active".into());
    Some(record)
}

/// Buildings, floors and spaces by id, each with its parent's id and its own code: to set
/// parents and sites, and to place assets and work orders.
#[derive(Default)]
pub struct Places {
    buildings: Tier,
    floors: Tier,
    spaces: Tier,
}

/// One level of places: id → (parent's id, own code).
type Tier = HashMap<String, (Option<String>, Option<String>)>;

/// Rows by id: (parent id, code).
fn by_id(rows: &[Row], columns: &Columns, parent: &str, code: &str) -> Tier {
    rows.iter().filter_map(|r| Some((key(r, columns)?, (cell(r, parent), cell(r, code))))).collect()
}

/// Whether a code is `wanted`, as SQL Server compares them (case-insensitively).
fn same(code: &Option<String>, wanted: &str) -> bool {
    code.as_deref().is_some_and(|c| c.eq_ignore_ascii_case(wanted))
}

/// The id of the child of `parent` whose code is `code`.
fn find(level: &Tier, parent: &str, code: &str) -> Option<String> {
    level.iter().find(|(_, (p, c))| p.as_deref() == Some(parent) && same(c, code)).map(|(id, _)| id.clone())
}

impl Places {
    /// The places of these rows.
    pub fn of(buildings: &[Row], floors: &[Row], spaces: &[Row]) -> Self {
        Self {
            buildings: by_id(buildings, &BUILDINGS, BUILDING_SITE, BUILDING_CODE),
            floors: by_id(floors, &FLOORS, FLOOR_BUILDING, FLOOR_CODE),
            spaces: by_id(spaces, &SPACES, SPACE_FLOOR, SPACE_NUMBER),
        }
    }

    fn parent<'a>(level: &'a Tier, id: &str) -> Option<&'a str> {
        level.get(id)?.0.as_deref()
    }

    fn code<'a>(level: &'a Tier, id: &str) -> Option<&'a str> {
        level.get(id)?.1.as_deref()
    }

    /// The site of a building.
    fn site(&self, building: &str) -> Option<String> {
        Self::parent(&self.buildings, building).map(str::to_owned)
    }

    /// The location an asset's or a work order's row names, at its most precise (a space by id,
    /// else building, floor and space by code), and its site.
    fn place(&self, row: &Row) -> (Option<String>, Option<String>) {
        let [space_id, building_code, floor_code, number] = PLACE.map(|c| cell(row, c));
        let space = space_id.filter(|id| self.spaces.contains_key(id));
        let floor = space.as_deref().and_then(|s| Self::parent(&self.spaces, s)).map(str::to_owned);
        let building = match &floor {
            Some(f) => Self::parent(&self.floors, f).map(str::to_owned),
            None => building_code
                .and_then(|code| self.buildings.iter().find(|(_, (_, c))| same(c, &code)).map(|(id, _)| id.clone())),
        };
        let floor = floor.or_else(|| find(&self.floors, building.as_deref()?, &floor_code?));
        let space = space.or_else(|| find(&self.spaces, floor.as_deref()?, &number?));
        let location = match (space, &floor, &building) {
            (Some(s), _, _) => Some(Level::Room.key(&s)),
            (None, Some(f), _) => Some(Level::Floor.key(f)),
            (None, None, Some(b)) => Some(Level::Building.key(b)),
            _ => None,
        };
        (location, building.and_then(|b| self.site(&b)))
    }
}

/// A location of a level: its fields by the table, its type, parent and site.
pub fn location(level: Level, row: &Row, places: &Places) -> Option<Record> {
    let columns = match level {
        Level::Building => &BUILDINGS,
        Level::Floor => &FLOORS,
        Level::Room => &SPACES,
    };
    let id = key(row, columns)?;
    let mut record = base(row, columns, level.key(&id));
    let (parent, building) = match level {
        Level::Building => (None, Some(id.clone())),
        Level::Floor => {
            let building = cell(row, FLOOR_BUILDING);
            (building.as_deref().map(|b| Level::Building.key(b)), building)
        }
        Level::Room => {
            let floor = cell(row, SPACE_FLOOR);
            let building = floor.as_deref().and_then(|f| Places::parent(&places.floors, f)).map(str::to_owned);
            (floor.as_deref().map(|f| Level::Floor.key(f)), building)
        }
    };
    let site = match level {
        Level::Building => cell(row, BUILDING_SITE),
        _ => building.as_deref().and_then(|b| places.site(b)),
    };
    // A code that says where it is: HQ1, HQ1-03, HQ1-03-0312.
    let building_code = building.as_deref().and_then(|b| Places::code(&places.buildings, b)).map(str::to_owned);
    let code = match level {
        Level::Building => cell(row, BUILDING_CODE),
        Level::Floor => cell(row, FLOOR_CODE).map(|f| building_code.map_or(f.clone(), |b| format!("{b}-{f}"))),
        Level::Room => {
            let floor_code = cell(row, SPACE_FLOOR).and_then(|f| Places::code(&places.floors, &f).map(str::to_owned));
            cell(row, SPACE_NUMBER)
                .map(|n| [building_code, floor_code, Some(n)].into_iter().flatten().collect::<Vec<_>>().join("-"))
        }
    };
    let unit = cell(row, AREA_UNIT)
        .map(|u| AREA_UNITS.iter().find(|t| t.0.eq_ignore_ascii_case(&u)).map_or(u.clone(), |t| t.1.to_owned()));
    let active = record.get("isActive").and_then(Value::as_bool).unwrap_or(true);
    record.insert("code".into(), code.map_or(Value::Null, Value::from));
    record.insert("type".into(), level.name().into());
    record.insert("parentKey".into(), parent.map_or(Value::Null, Value::from));
    record.insert("siteKey".into(), site.map_or(Value::Null, Value::from));
    record.insert("isActive".into(), active.into());
    record.insert("statusKey".into(), if active { "active" } else { "inactive" }.into());
    record.entry("areaUnit").or_insert(unit.map_or(Value::Null, Value::from));
    Some(record)
}

/// An asset, placed.
pub fn asset(row: &Row, places: &Places) -> Option<Record> {
    let key = key(row, &ASSETS)?;
    let mut record = base(row, &ASSETS, key);
    let status = cell(row, STATUS);
    let active = status.as_deref().is_some_and(|s| s.eq_ignore_ascii_case(ASSET_STATUSES[0].0));
    let (location, site) = places.place(row);
    record.insert("statusKey".into(), status_key(&ASSET_STATUSES, status));
    record.insert("isActive".into(), active.into());
    record.insert("locationKey".into(), location.map_or(Value::Null, Value::from));
    record.insert("siteKey".into(), site.map_or(Value::Null, Value::from));
    Some(record)
}

/// A work order, placed.
pub fn work_order(row: &Row, places: &Places) -> Option<Record> {
    let key = key(row, &WORK_ORDERS)?;
    let mut record = base(row, &WORK_ORDERS, key);
    let (location, site) = places.place(row);
    record.insert("statusKey".into(), status_key(&WO_STATUSES, cell(row, STATUS)));
    record.insert("severity".into(), severity(cell(row, PRIORITY)));
    record.insert("locationKey".into(), location.map_or(Value::Null, Value::from));
    record.insert("siteKey".into(), site.map_or(Value::Null, Value::from));
    Some(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Row {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn places_are_found_by_id_or_by_codes_of_any_case() {
        let buildings = [row(json!({"BuildingID": "30", "SiteID": "3", "BuildingCode": "Mtl1"}))];
        let floors = [row(json!({"FloorID": "301", "BuildingID": "30", "FloorCode": "RDC"}))];
        let spaces = [row(json!({"SpaceID": "5050", "FloorID": "301", "SpaceNumber": "R-010"}))];
        let places = Places::of(&buildings, &floors, &spaces);
        let by_codes = row(json!({"WorkOrderID": "1", "BuildingCode": "MTL1", "FloorCode": "rdc",
            "SpaceNumber": "r-010", "Priority": "1 - Emergency", "Status": "Waiting Parts"}));
        let wo = work_order(&by_codes, &places).unwrap();
        assert_eq!((&wo["locationKey"], &wo["siteKey"]), (&json!("room-5050"), &json!("3")));
        assert_eq!((&wo["severity"], &wo["statusKey"]), (&json!("urgent"), &json!("waiting_parts")));
        let floor_only = row(json!({"AssetID": "7", "BuildingCode": "mtl1", "FloorCode": "RDC", "Status": "Retired"}));
        let retired = asset(&floor_only, &places).unwrap();
        assert_eq!(
            (&retired["locationKey"], &retired["isActive"], &retired["statusKey"]),
            (&json!("floor-301"), &json!(false), &json!("retired"))
        );
        let room = location(Level::Room, &spaces[0], &places).unwrap();
        assert_eq!(
            (&room["code"], &room["parentKey"], &room["siteKey"]),
            (&json!("Mtl1-RDC-R-010"), &json!("floor-301"), &json!("3")),
            "codes as the tenant writes them"
        );
        let nowhere = row(json!({"AssetID": "8", "BuildingCode": "ELSEWHERE"}));
        assert_eq!(asset(&nowhere, &places).unwrap()["locationKey"], Value::Null);
    }
}
