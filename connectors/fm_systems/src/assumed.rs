//! What the connector relies on that FM:Systems does not publish — marked `[ASSUMPTION]` in the
//! vendor dossier — kept here, in one place, so that a real tenant's `?wsdl` and views change one
//! line. The wire names are WCF's defaults for a `basicHttpBinding` service; the object names are
//! the dossier's stand-in catalogue (each tenant's administrator names their own, which is why
//! they are connection fields); the column names are the tables of `mapping`.

use chrono::{DateTime, NaiveDateTime, Utc};

/// The service's path under a tenant's host, when the connection's `baseUrl` gives only the host
/// (test tenants use another path segment and give the whole URL).
pub const SERVICE_PATH: &str = "/FMIWebService/FMInteractWebService.svc";

/// The service contract's namespace (WCF's default).
pub const NAMESPACE: &str = "http://tempuri.org/";

/// The `SOAPAction` of `GetData`: `<namespace><contract>/<operation>`.
pub const GET_DATA_ACTION: &str = "http://tempuri.org/IFMInteractWebService/GetData";

/// `GetData`'s request element and its fields, in the WSDL's order.
pub const GET_DATA: &str = "GetData";
/// The fields of `GetData`.
pub const FIELDS: Fields = Fields {
    user: "userName",
    password: "password",
    object: "objectName",
    kind: "objectType",
    parameters: "parameters",
};
/// The response's wrapper and its string result.
pub const RESULT: (&str, &str) = ("GetDataResponse", "GetDataResult");

/// The element names of `GetData`'s fields.
pub struct Fields {
    /// The web-service user's name.
    pub user: &'static str,
    /// Its password.
    pub password: &'static str,
    /// The view or stored procedure.
    pub object: &'static str,
    /// `View` or `StoredProcedure`.
    pub kind: &'static str,
    /// The parameters, `@Name=Value;…`.
    pub parameters: &'static str,
}

/// The `objectType` of a view and of a stored procedure.
pub const VIEW: &str = "View";
/// See `VIEW`.
pub const PROCEDURE: &str = "StoredProcedure";

/// What a parameter value keeps as it is: letters, digits and what dates and codes hold.
const PLAIN: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b':');

/// `parameters` as `@Name=Value;@Name2=Value2`, each value percent-encoded (`;`, `=`, `%`, `+`
/// and spaces among what is encoded).
pub fn parameters(pairs: &[(&str, String)]) -> String {
    let encode = |v: &str| percent_encoding::utf8_percent_encode(v, PLAIN).to_string();
    pairs.iter().map(|(name, value)| format!("@{name}={}", encode(value))).collect::<Vec<_>>().join(";")
}

/// The application faults' texts (`s:Client`): what marks refused credentials and an object the
/// web-service user may not read.
pub const INVALID_CREDENTIALS: &str = "Invalid web service credentials";
/// See `INVALID_CREDENTIALS`.
pub const NOT_AVAILABLE: &str = "is not available to this web service user";

/// A time as FM:Systems writes it (`yyyy-MM-ddTHH:mm:ss`, no offset), read as UTC; one with an
/// offset is converted.
pub fn time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok().map(|t| t.and_utc())
}

/// A time as `@Since` takes it: UTC, to the second (down, so the bound stays inclusive).
pub fn since(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The objects a connection reads when its fields name none: the connection field, the default.
pub const OBJECTS: [(&str, &str); 7] = [
    ("sitesObject", "vw_WS_Sites"),
    ("buildingsObject", "vw_WS_Buildings"),
    ("floorsObject", "vw_WS_Floors"),
    ("spacesObject", "vw_WS_Spaces"),
    ("assetsObject", "vw_WS_Assets"),
    ("workOrdersObject", "vw_WS_WorkOrders"),
    (SINCE_PROCEDURE, "sp_WS_GetWorkOrdersModifiedSince"),
];

/// The connection field of the procedure of work orders modified since a time.
pub const SINCE_PROCEDURE: &str = "workOrdersSinceProcedure";

/// The value of `workOrdersSinceProcedure` for a tenant without one: work orders are then read
/// whole, like the other objects.
pub const NO_PROCEDURE: &str = "none";

/// The stored procedure's one argument: work orders modified at or after it.
pub const SINCE_ARGUMENT: &str = "Since";

/// Every object's change time, where it has one.
pub const MODIFIED: &str = "ModifiedDate";

/// Work order statuses as tenants commonly name them: FM:Systems', the unified key, the name.
/// Tenants configure their own; one not listed here is kept as it is.
pub const WO_STATUSES: [(&str, &str, &str); 7] = [
    ("New", "open", "New"),
    ("Assigned", "assigned", "Assigned"),
    ("In Progress", "in_progress", "In progress"),
    ("On Hold", "on_hold", "On hold"),
    ("Completed", "completed", "Completed"),
    ("Closed", "closed", "Closed"),
    ("Cancelled", "cancelled", "Cancelled"),
];

/// Asset statuses: FM:Systems', the unified key, the name; the first is the active one.
pub const ASSET_STATUSES: [(&str, &str, &str); 2] = [("Active", "active", "Active"), ("Retired", "retired", "Retired")];

/// Priorities as `"<rank> - <name>"`: the name, the unified severity.
pub const SEVERITIES: [(&str, &str); 4] =
    [("Emergency", "urgent"), ("High", "high"), ("Medium", "medium"), ("Low", "low")];

/// Area units: FM:Systems' code, the unified unit.
pub const AREA_UNITS: [(&str, &str); 2] = [("SF", "sqft"), ("SM", "m2")];
