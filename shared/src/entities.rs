//! The entities of the unified data model and the fields each carries. Field names follow the
//! Makini reference model (camelCase, references as `…Key`); every record also carries `key`,
//! `updatedAt`, `deletedAt`, `customFields` and `remoteData`. Records travel as JSON objects;
//! money and quantities are decimal strings, never binary floats.

use serde::Serialize;
use serde_json::{Map, Value};

/// A record of any entity in the unified model.
pub type Record = Map<String, Value>;

/// An entity of the unified model, named as in its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    /// Orders to vendors, with `lineItems`.
    PurchaseOrders,
    /// Maintenance jobs.
    WorkOrders,
    /// Equipment that is maintained.
    Assets,
    /// Parts and supplies.
    Materials,
    /// Stock of a material at a site.
    Inventories,
    /// Suppliers.
    Vendors,
    /// Plants and facilities.
    Sites,
    /// Places within a site.
    Locations,
}

/// The type a field's value must have in a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// A JSON string.
    Text,
    /// A decimal number as a string, e.g. `"12.50"`.
    Decimal,
    /// An RFC 3339 timestamp string.
    DateTime,
    /// A JSON boolean.
    Bool,
    /// A JSON object.
    Object,
    /// The line items of a purchase order.
    LineItems,
}

use FieldType::*;

/// Fields every record has.
pub const COMMON_FIELDS: [(&str, FieldType); 6] = [
    ("key", Text),
    ("createdAt", DateTime),
    ("updatedAt", DateTime),
    ("deletedAt", DateTime),
    ("customFields", Object),
    ("remoteData", Object),
];

/// Fields of a purchase order's line item.
pub const LINE_ITEM_FIELDS: [(&str, FieldType); 11] = [
    ("key", Text),
    ("lineNo", Text),
    ("materialKey", Text),
    ("name", Text),
    ("description", Text),
    ("quantity", Decimal),
    ("uomKey", Text),
    ("price", Decimal),
    ("currencyKey", Text),
    ("lineTotalValue", Decimal),
    ("statusKey", Text),
];

impl Entity {
    /// Every entity, in the order the API lists them.
    pub const ALL: [Entity; 8] = [
        Entity::PurchaseOrders,
        Entity::WorkOrders,
        Entity::Assets,
        Entity::Materials,
        Entity::Inventories,
        Entity::Vendors,
        Entity::Sites,
        Entity::Locations,
    ];

    /// The URL segment, e.g. `purchase-orders`.
    pub fn path(self) -> &'static str {
        match self {
            Entity::PurchaseOrders => "purchase-orders",
            Entity::WorkOrders => "work-orders",
            Entity::Assets => "assets",
            Entity::Materials => "materials",
            Entity::Inventories => "inventories",
            Entity::Vendors => "vendors",
            Entity::Sites => "sites",
            Entity::Locations => "locations",
        }
    }

    /// The entity behind a URL segment.
    pub fn from_path(segment: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.path() == segment)
    }

    /// One record of it, in words.
    pub fn singular(self) -> &'static str {
        match self {
            Entity::PurchaseOrders => "purchase order",
            Entity::WorkOrders => "work order",
            Entity::Assets => "asset",
            Entity::Materials => "material",
            Entity::Inventories => "inventory",
            Entity::Vendors => "vendor",
            Entity::Sites => "site",
            Entity::Locations => "location",
        }
    }

    /// The name of its schema in the OpenAPI document.
    pub fn schema_name(self) -> &'static str {
        match self {
            Entity::PurchaseOrders => "PurchaseOrder",
            Entity::WorkOrders => "WorkOrder",
            Entity::Assets => "Asset",
            Entity::Materials => "Material",
            Entity::Inventories => "Inventory",
            Entity::Vendors => "Vendor",
            Entity::Sites => "Site",
            Entity::Locations => "Location",
        }
    }

    /// The entity's own fields (beyond `COMMON_FIELDS`).
    pub fn fields(self) -> &'static [(&'static str, FieldType)] {
        match self {
            Entity::PurchaseOrders => &[
                ("orderNo", Text),
                ("title", Text),
                ("description", Text),
                ("statusKey", Text),
                ("vendorKey", Text),
                ("siteKey", Text),
                ("locationKey", Text),
                ("currencyKey", Text),
                ("orderDate", DateTime),
                ("dueAt", DateTime),
                ("approvedAt", DateTime),
                ("completedAt", DateTime),
                ("terms", Text),
                ("notes", Text),
                ("totalNetValue", Decimal),
                ("totalGrossValue", Decimal),
                ("lineItems", LineItems),
            ],
            Entity::WorkOrders => &[
                ("code", Text),
                ("title", Text),
                ("instructions", Text),
                ("statusKey", Text),
                ("severity", Text),
                ("siteKey", Text),
                ("locationKey", Text),
                ("assetKey", Text),
                ("categoryName", Text),
                ("estimatedTime", Decimal),
                ("dueAt", DateTime),
                ("scheduledAt", DateTime),
                ("completedAt", DateTime),
                ("completionRemarks", Text),
                ("notes", Text),
            ],
            Entity::Assets => &[
                ("name", Text),
                ("description", Text),
                ("statusKey", Text),
                ("siteKey", Text),
                ("locationKey", Text),
                ("parentKey", Text),
                ("vendorKey", Text),
                ("categoryName", Text),
                ("criticality", Text),
                ("makeName", Text),
                ("modelName", Text),
                ("serialNumber", Text),
                ("isActive", Bool),
                ("notes", Text),
            ],
            Entity::Materials => &[
                ("code", Text),
                ("partNumber", Text),
                ("name", Text),
                ("description", Text),
                ("statusKey", Text),
                ("uomKey", Text),
                ("manufacturerName", Text),
                ("criticality", Text),
                ("isActive", Bool),
            ],
            Entity::Inventories => &[
                ("code", Text),
                ("name", Text),
                ("statusKey", Text),
                ("materialKey", Text),
                ("siteKey", Text),
                ("locationKey", Text),
                ("quantity", Decimal),
                ("unitCost", Decimal),
            ],
            Entity::Vendors => &[("code", Text), ("name", Text), ("statusKey", Text)],
            Entity::Sites => &[
                ("code", Text),
                ("name", Text),
                ("description", Text),
                ("statusKey", Text),
                ("lat", Decimal),
                ("lng", Decimal),
            ],
            Entity::Locations => &[
                ("code", Text),
                ("name", Text),
                ("description", Text),
                ("statusKey", Text),
                ("siteKey", Text),
                ("parentKey", Text),
                ("type", Text),
                ("isActive", Bool),
                // Space, as workplace systems keep it: floor area in `areaUnit`, the people it
                // seats, what it is used for and which department holds it.
                ("area", Decimal),
                ("areaUnit", Text),
                ("capacity", Decimal),
                ("spaceUse", Text),
                ("department", Text),
            ],
        }
    }

    /// The type of one of the entity's fields, if it has it.
    pub fn field(self, name: &str) -> Option<FieldType> {
        self.fields().iter().chain(COMMON_FIELDS.iter()).find(|(n, _)| *n == name).map(|(_, t)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip() {
        for e in Entity::ALL {
            assert_eq!(Entity::from_path(e.path()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.path());
            assert!(e.field("statusKey").is_some(), "{e:?} has statuses");
        }
        assert_eq!(Entity::from_path("connections"), None);
    }
}
