//! Reads through SuiteQL (`POST /services/rest/query/v1/suiteql`, `Prefer: transient`): one call
//! returns up to a thousand rows with their columns, where the record service's collections
//! answer only ids and need a request per record. A feed reads a table in the order of its change
//! time and id, and each page starts after the last row read — (time, id) greater than the last
//! seen, not an offset — so a record changed while a sync pages through moves past the position
//! and is read again later instead of shifting another record out of reach.

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::Method;
use serde_json::{Map, Value, json};

use millwright::connectors::ConnectorError;
use millwright_outbound::upstream::Replay;

use crate::{
    assumed::CHANGED,
    session::{Call, Session},
};

/// The path of the SuiteQL resource.
const SUITEQL: &str = "services/rest/query/v1/suiteql";
/// The format SuiteQL renders and reads change times in.
const TIME_FORMAT: &str = "YYYY-MM-DD HH24:MI:SS";
/// The same format, as chrono writes it.
const CHRONO_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// How a table is read in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By `lastmodifieddate`, then `id`: incremental reads start at a time.
    Changed,
    /// By two whole-number key columns: the table keeps no change time, so every read is whole.
    Keys(&'static str, &'static str),
}

/// A table as a feed reads it.
#[derive(Debug)]
pub struct Table {
    /// The SuiteQL table, e.g. `vendor`.
    pub name: &'static str,
    /// Its alias in queries.
    pub alias: &'static str,
    /// The columns selected, without the alias.
    pub columns: &'static [&'static str],
    /// Extra conditions every read has, e.g. `t.type = 'PurchOrd'`.
    pub filter: Option<&'static str>,
    /// How it is ordered.
    pub order: Order,
    /// Rows per page.
    pub page: u32,
}

/// Where a feed carries on: after this change time and id, or after these keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// After the row changed at this second with this id.
    Changed(NaiveDateTime, u64),
    /// After the row with these keys.
    Keys(u64, u64),
}

impl Position {
    /// Reads a cursor this module wrote.
    pub fn parse(cursor: &str) -> Result<Self, ConnectorError> {
        let foreign = || ConnectorError::Upstream("not a position this connector gave".into());
        let parts: Vec<&str> = cursor.split(' ').collect();
        match parts.as_slice() {
            ["c", date, time, id] => Ok(Position::Changed(
                NaiveDateTime::parse_from_str(&format!("{date} {time}"), CHRONO_FORMAT).map_err(|_| foreign())?,
                id.parse().map_err(|_| foreign())?,
            )),
            ["k", a, b] => Ok(Position::Keys(a.parse().map_err(|_| foreign())?, b.parse().map_err(|_| foreign())?)),
            _ => Err(foreign()),
        }
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Changed(at, id) => write!(f, "c {} {id}", at.format(CHRONO_FORMAT)),
            Position::Keys(a, b) => write!(f, "k {a} {b}"),
        }
    }
}

/// `TO_TIMESTAMP('…', '…')` of an instant, to the second.
fn timestamp(at: &NaiveDateTime) -> String {
    format!("TO_TIMESTAMP('{}', '{TIME_FORMAT}')", at.format(CHRONO_FORMAT))
}

impl Table {
    /// The `SELECT` list: the columns, then the change time as text.
    fn select(&self) -> String {
        let a = self.alias;
        let mut items: Vec<String> = self.columns.iter().map(|c| format!("{a}.{c}")).collect();
        if self.order == Order::Changed {
            items.push(format!("TO_CHAR({a}.{CHANGED}, '{TIME_FORMAT}') AS lastmodified"));
        }
        format!("SELECT {} FROM {} {a}", items.join(", "), self.name)
    }

    /// The `ORDER BY` clause.
    fn order_by(&self) -> String {
        let a = self.alias;
        match self.order {
            Order::Changed => format!("ORDER BY {a}.{CHANGED}, {a}.id"),
            Order::Keys(x, y) => format!("ORDER BY {a}.{x}, {a}.{y}"),
        }
    }

    /// The query of a feed's page: rows changed at or after `since` (for tables that keep change
    /// times), after `after`, in order.
    pub fn feed(&self, since: Option<DateTime<Utc>>, after: Option<&Position>) -> String {
        let a = self.alias;
        let mut conditions: Vec<String> = self.filter.iter().map(|f| f.to_string()).collect();
        match (self.order, after) {
            (Order::Changed, Some(Position::Changed(at, id))) => {
                let at = timestamp(at);
                conditions.push(format!("({a}.{CHANGED} > {at} OR ({a}.{CHANGED} = {at} AND {a}.id > {id}))"));
            }
            (Order::Changed, _) => {
                // Inclusive and to the second: a change in the same second as the mark is read.
                if let Some(since) = since {
                    conditions.push(format!("{a}.{CHANGED} >= {}", timestamp(&since.naive_utc())));
                }
            }
            (Order::Keys(x, y), Some(Position::Keys(i, j))) => {
                conditions.push(format!("({a}.{x} > {i} OR ({a}.{x} = {i} AND {a}.{y} > {j}))"));
            }
            (Order::Keys(..), _) => {}
        }
        self.query(&conditions)
    }

    /// The query of the rows matching `conditions`, in order.
    pub fn query(&self, conditions: &[String]) -> String {
        let mut q = self.select();
        if !conditions.is_empty() {
            q.push_str(" WHERE ");
            q.push_str(&conditions.join(" AND "));
        }
        q.push(' ');
        q.push_str(&self.order_by());
        q
    }

    /// The position after a row of this table.
    pub fn position(&self, row: &Map<String, Value>) -> Option<Position> {
        match self.order {
            Order::Changed => {
                let at = NaiveDateTime::parse_from_str(text(row, "lastmodified")?.trim(), CHRONO_FORMAT).ok()?;
                Some(Position::Changed(at, number(row, "id")?))
            }
            Order::Keys(x, y) => Some(Position::Keys(number(row, x)?, number(row, y)?)),
        }
    }
}

/// A column's value as text: SuiteQL renders ids and numbers as strings, though some report
/// numbers; a NULL column is left out of the row altogether.
pub fn text<'r>(row: &'r Map<String, Value>, column: &str) -> Option<&'r str> {
    row.get(column).and_then(Value::as_str)
}

/// A whole-number column, from a string or a number.
pub fn number(row: &Map<String, Value>, column: &str) -> Option<u64> {
    match row.get(column)? {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

/// A page of rows and whether NetSuite has more.
pub struct Rows {
    /// The rows, without their (empty) `links`.
    pub rows: Vec<Map<String, Value>>,
    /// `hasMore`.
    pub more: bool,
}

/// Runs a query for its first `limit` rows.
pub async fn run(session: &Session<'_>, query: &str, limit: u32) -> Result<Rows, ConnectorError> {
    let limit = limit.to_string();
    let url = session.url(SUITEQL, &[("limit", &limit), ("offset", "0")])?;
    let body = json!({ "q": query });
    let headers = [("prefer", "transient".to_owned())];
    let answer = session
        .ok(&Call { method: Method::POST, url, headers: &headers, body: Some(&body), replay: Replay::Safe })
        .await?;
    let page = answer.json("SuiteQL")?;
    let items = page
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| ConnectorError::Upstream("SuiteQL: the answer has no items".into()))?;
    let rows = items
        .iter()
        .filter_map(Value::as_object)
        .map(|row| row.iter().filter(|(k, _)| *k != "links").map(|(k, v)| (k.clone(), v.clone())).collect())
        .collect();
    Ok(Rows { rows, more: page.get("hasMore").and_then(Value::as_bool).unwrap_or(false) })
}

/// A text value quoted for a SuiteQL literal, when it is plain enough to need no escaping.
pub fn quoted(value: &str) -> Option<String> {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        .then(|| format!("'{value}'"))
        .filter(|_| !value.is_empty() && value.len() <= 100)
}

#[cfg(test)]
mod tests {
    use super::*;

    static VENDORS: Table = Table {
        name: "vendor",
        alias: "v",
        columns: &["id", "entityid"],
        filter: None,
        order: Order::Changed,
        page: 1000,
    };

    static STOCK: Table = Table {
        name: "inventoryitemlocations",
        alias: "il",
        columns: &["item", "location"],
        filter: None,
        order: Order::Keys("item", "location"),
        page: 1000,
    };

    #[test]
    fn feeds_start_at_the_mark_and_go_on_after_the_last_row() {
        let since = DateTime::parse_from_rfc3339("2026-01-15T00:00:00.750Z").unwrap().to_utc();
        assert_eq!(
            VENDORS.feed(Some(since), None),
            "SELECT v.id, v.entityid, TO_CHAR(v.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS') AS lastmodified FROM vendor v \
             WHERE v.lastmodifieddate >= TO_TIMESTAMP('2026-01-15 00:00:00', 'YYYY-MM-DD HH24:MI:SS') \
             ORDER BY v.lastmodifieddate, v.id"
        );
        let row: Map<String, Value> =
            serde_json::from_value(json!({"id": "322", "lastmodified": "2026-01-21 10:02:07"})).unwrap();
        let after = VENDORS.position(&row).unwrap();
        assert_eq!(after.to_string(), "c 2026-01-21 10:02:07 322");
        assert_eq!(Position::parse(&after.to_string()).unwrap(), after);
        let at = "TO_TIMESTAMP('2026-01-21 10:02:07', 'YYYY-MM-DD HH24:MI:SS')";
        assert!(VENDORS.feed(Some(since), Some(&after)).contains(&format!(
            "WHERE (v.lastmodifieddate > {at} OR (v.lastmodifieddate = {at} AND v.id > 322)) ORDER BY"
        )));
    }

    #[test]
    fn tables_without_change_times_page_by_their_keys() {
        assert_eq!(
            STOCK.feed(None, None),
            "SELECT il.item, il.location FROM inventoryitemlocations il ORDER BY il.item, il.location"
        );
        let row: Map<String, Value> = serde_json::from_value(json!({"item": "880", "location": 5})).unwrap();
        let after = STOCK.position(&row).unwrap();
        assert_eq!(after, Position::Keys(880, 5));
        assert!(
            STOCK.feed(None, Some(&after)).contains("WHERE (il.item > 880 OR (il.item = 880 AND il.location > 5))")
        );
        for bad in ["", "c 2026-01-01 x 1", "k 1", "z 1 2", "c 2026-13-01 00:00:00 1"] {
            assert!(Position::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_plain_values_are_quoted_into_queries() {
        assert_eq!(quoted("MW0123ABCDEF").as_deref(), Some("'MW0123ABCDEF'"));
        for bad in ["", "a'b", "a b", "x OR 1=1"] {
            assert_eq!(quoted(bad), None, "{bad}");
        }
        assert_eq!(
            crate::assumed::suiteql_time("2026-01-21 09:15:32").unwrap().to_rfc3339(),
            "2026-01-21T09:15:32+00:00"
        );
    }
}
