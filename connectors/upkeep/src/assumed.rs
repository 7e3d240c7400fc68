//! What the connector relies on that UpKeep's public documentation does not confirm — marked
//! `[L]` or `[ASSUMPTION]` in the vendor dossier — kept here, in one place, so that an answer
//! from a real account changes one line.

/// The lower bound of a list's `updatedAt` (exclusive), a date-range filter whose wire name the
/// documentation does not show; the name integrations commonly use.
pub const UPDATED_AFTER: &str = "updatedAtGreaterThan";

/// The order of a list, `"<field> ASC|DESC"` under this name (the wire name is not documented).
pub const ORDER_BY: (&str, &str) = ("orderBy", "updatedAt ASC");

/// Rows per page: 200 is seen honoured by real extractions; the maximum is not documented.
pub const PAGE_SIZE: usize = 200;

/// UpKeep has no sites: root locations (no `parentLocation`) stand for them, and a location's
/// site is its root ancestor.
pub const SITES_ARE_ROOT_LOCATIONS: &str = "parentLocation";

/// A purchase order's approval, decline and fulfilment are a PATCH of `status` (no dedicated
/// calls are documented).
pub const PO_STATUS_FIELD: &str = "status";
