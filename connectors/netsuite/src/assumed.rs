//! What the connector relies on that NetSuite's documentation does not confirm — each marked
//! inferred in the vendor dossier (its section 7) — kept here, in one place, so that a check
//! against a real account knows what to look at and a correction is made once.

/// SuiteQL's item stock by location. Public SuiteQL examples read `inventoryitemlocations`
/// (`item`, `location`, `quantityonhand`, `quantityavailable`); the dossier lists no stock table.
/// It keeps no change time, so inventories are read whole on every sync.
pub const STOCK_TABLE: &str = "inventoryitemlocations";

/// Change-time columns the dossier marks inferred: `location.lastmodifieddate`,
/// `subsidiary.lastmodifieddate` and `item.lastmodifieddate` (only `transaction` and `vendor`
/// are confirmed). Incremental reads of those tables depend on them.
pub const CHANGED: &str = "lastmodifieddate";

/// Columns read from SuiteQL tables that the dossier does not list for them (its rows for
/// `item`, `location` and `subsidiary` are partial).
pub const COLUMNS: [&str; 5] =
    ["item.stockunit", "location.parent", "subsidiary.fullname", "subsidiary.currency", "subsidiary.country"];

/// `transaction.externalid`: where a create's reference is looked for when its answer was lost.
pub const EXTERNAL_ID_COLUMN: &str = "externalid";

/// The purchase order `item` sublist is keyed by `line` for PATCH merges (SOAP keys it so; the
/// REST documentation gives only the generic keyed-sublist rules), and `isClosed: true` on a
/// line closes it.
pub const LINE_KEY: &str = "line";

/// Purchase order status letters beyond A–H: `P` (a planned order) is inferred, `Y` unknown.
pub const PLANNED: &str = "P";

/// `X-NetSuite-Idempotency-Key` is documented for asynchronous requests only; creates here are
/// synchronous, so what makes a retried create safe is the reference in `externalId`, unique
/// per record type. The header is sent all the same, in case NetSuite honours it.
pub const IDEMPOTENCY_HEADER: &str = "x-netsuite-idempotency-key";

/// The assertion's `scope` claim: a JSON array, as Oracle's own sample assertion has it (Oracle's
/// prose says comma-separated).
pub fn scope_claim(scopes: &[String]) -> serde_json::Value {
    serde_json::Value::from(scopes.to_vec())
}

/// A change time as SuiteQL rendered it through `TO_CHAR`, read as UTC: SuiteQL renders and reads
/// (`TO_TIMESTAMP`) datetimes in one zone, taken to be UTC. The record service's ISO times are
/// UTC (`…Z`).
pub fn suiteql_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc())
}
