//! SAP S/4HANA (cloud and on-premises) and SAP ECC through SAP Gateway, over OData V2:
//! `API_PURCHASEORDER_PROCESS_SRV` (purchase orders with items), `API_MAINTENANCEORDER` (work
//! orders and their status function imports) and `API_EQUIPMENT` (assets). Basic or OAuth 2.0
//! client-credentials authentication, the CSRF token flow for writes, server-driven paging
//! followed as the opaque link it is, and SAP's error body mapped to the API's codes.
//!
//! ECC differs in two ways: every request names the SAP client (`sap-client`), and its purchase
//! order headers carry no change timestamp. Incremental syncs of ECC purchase orders therefore
//! read the whole set and let the sync's content hashes find what changed; the sets that have
//! `LastChangeDateTime` are filtered on it as on S/4HANA.

pub mod mapping;
pub mod odata;

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::{Method, RequestBuilder, Url, header};
use serde_json::{Map, Value, json};
use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use millwright::{
    capabilities::{Capabilities, EntityCapabilities, FieldRule, Operation, StateRule, Status},
    connectors::{Changes, Connector, ConnectorError, Credentials, key_of},
    entities::{Entity, Record},
};
use millwright_outbound::{
    tokens::{self, Tokens},
    upstream::{Answer, Replay, Upstream},
};

use mapping::{ASSET_STATUSES, PO_STATUSES, WO_STATUSES};

/// Which SAP product a connection speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// S/4HANA: standard APIs with change timestamps everywhere.
    S4Hana,
    /// ECC through Gateway: `sap-client` on every call, no change timestamp on PO headers.
    Ecc,
}

/// The OData services, under the system's origin.
const PO_SERVICE: &str = "/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV";
const WO_SERVICE: &str = "/sap/opu/odata/sap/API_MAINTENANCEORDER";
const EQUIPMENT_SERVICE: &str = "/sap/opu/odata/sap/API_EQUIPMENT";

/// The change timestamp the sets are filtered and ordered on.
pub const CHANGED: &str = "LastChangeDateTime";

/// A purchase order's "Your Reference" (12 characters): where a create puts the reference that
/// finds the order again when the answer to the create was lost.
const REFERENCE: &str = "CorrespncExternalReference";

/// Records asked for per page; the server may send fewer and a `__next` link.
const PAGE: usize = 100;

/// Equipment is keyed by number and validity end; the current record ends at the end of time.
const CURRENT_VALIDITY: &str = "datetime'9999-12-31T00:00:00'";

/// The header defaults a new purchase order takes from the connection's credentials.
pub const PO_DEFAULTS: [(&str, &str); 3] = [
    ("companyCode", "CompanyCode"),
    ("purchasingOrganization", "PurchasingOrganization"),
    ("purchasingGroup", "PurchasingGroup"),
];

/// The header values a new purchase order starts from: a standard order (`NB`) and the
/// organisational defaults the connection's credentials name.
pub fn po_defaults(credentials: &Credentials) -> Map<String, Value> {
    let mut defaults = Map::from_iter([("PurchaseOrderType".to_owned(), json!("NB"))]);
    for (credential, property) in PO_DEFAULTS {
        if let Some(value) = credentials.text(credential) {
            defaults.insert(property.into(), value.into());
        }
    }
    defaults
}

/// An entity set the connector reads.
#[derive(Debug, Clone, Copy)]
struct Set {
    service: &'static str,
    name: &'static str,
    key: &'static str,
    expand: Option<&'static str>,
    read: fn(&Map<String, Value>) -> Option<Record>,
}

impl Set {
    fn of(entity: Entity) -> Option<Set> {
        Some(match entity {
            Entity::PurchaseOrders => Set {
                service: PO_SERVICE,
                name: "A_PurchaseOrder",
                key: "PurchaseOrder",
                expand: Some("to_PurchaseOrderItem"),
                read: mapping::purchase_order,
            },
            Entity::WorkOrders => Set {
                service: WO_SERVICE,
                name: "MaintenanceOrder",
                key: "MaintenanceOrder",
                expand: None,
                read: mapping::work_order,
            },
            Entity::Assets => Set {
                service: EQUIPMENT_SERVICE,
                name: "Equipment",
                key: "Equipment",
                expand: None,
                read: mapping::asset,
            },
            _ => return None,
        })
    }

    /// The path of one record.
    fn record(&self, key: &str) -> String {
        let key = odata::quoted(key);
        match self.name {
            "Equipment" => format!("{}/Equipment(Equipment={key},ValidityEndDate={CURRENT_VALIDITY})", self.service),
            _ => format!("{}/{}({key})", self.service, self.name),
        }
    }
}

/// The entity sets the connector reads, for each entity: service path, set and key property.
pub fn sets() -> Vec<(Entity, &'static str, &'static str, &'static str)> {
    Entity::ALL.into_iter().filter_map(|e| Set::of(e).map(|s| (e, s.service, s.name, s.key))).collect()
}

/// Whether a key can be a SAP document or equipment number (and so goes into a URL safely).
fn plausible(key: &str) -> bool {
    !key.is_empty() && key.len() <= 40 && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Where the next page of changes starts: after the record with this change stamp (none for a
/// set without one) and key. As a cursor: `<stamp or -> <key>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct After {
    stamp: Option<DateTime<Utc>>,
    key: String,
}

impl After {
    fn parse(cursor: &str) -> Result<Self, ConnectorError> {
        let foreign = || ConnectorError::Upstream("not a position this connector gave".into());
        let (stamp, key) = cursor.split_once(' ').ok_or_else(foreign)?;
        let stamp = match stamp {
            "-" => None,
            s => Some(DateTime::parse_from_rfc3339(s).map_err(|_| foreign())?.to_utc()),
        };
        plausible(key).then(|| Self { stamp, key: key.to_owned() }).ok_or_else(foreign)
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.stamp {
            Some(stamp) => write!(f, "{} {}", odata::rfc3339(stamp), self.key),
            None => write!(f, "- {}", self.key),
        }
    }
}

/// How one connection signs its requests.
#[derive(Clone)]
struct Session {
    base: Url,
    authorization: String,
    client: Option<String>,
}

/// A write's CSRF token and the session cookies it belongs to.
struct Csrf {
    token: String,
    cookies: String,
}

/// The SAP connector of one flavour.
pub struct Sap {
    upstream: Upstream,
    flavour: Flavour,
    /// OAuth access tokens by a digest of token URL, client id and secret.
    tokens: Tokens,
}

/// The status function imports of maintenance orders: from, to, function.
pub const WO_FUNCTIONS: [(&str, &str, &str); 4] = [
    ("open", "released", "ReleaseMaintenanceOrder"),
    ("released", "completed", "SetMaintOrdToTechCompleted"),
    ("completed", "released", "ResetMaintOrdStsTechCompleted"),
    ("completed", "closed", "SetMaintOrderStatusToClosed"),
];

fn rejected(what: &str) -> ConnectorError {
    ConnectorError::Rejected(what.into())
}

impl Sap {
    /// A connector of the flavour, sending through `upstream`.
    pub fn new(upstream: Upstream, flavour: Flavour) -> Self {
        Self { upstream, flavour, tokens: Tokens::default() }
    }

    /// The session of a connection: its base URL, how it authenticates, its SAP client.
    async fn session(&self, credentials: &Credentials) -> Result<Session, ConnectorError> {
        let base = credentials.text("baseUrl").ok_or_else(|| rejected("baseUrl is missing"))?;
        let base = Url::parse(base.trim_end_matches('/'))
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none())
            .ok_or_else(|| {
                rejected("baseUrl must be the system's http(s) origin, such as https://my.s4hana.ondemand.com")
            })?;
        let client = match self.flavour {
            Flavour::Ecc => Some(
                credentials
                    .text("sapClient")
                    .filter(|c| c.len() == 3 && c.chars().all(|d| d.is_ascii_digit()))
                    .ok_or_else(|| rejected("sapClient must be the three-digit SAP client"))?
                    .to_owned(),
            ),
            Flavour::S4Hana => None,
        };
        let authorization = match (credentials.text("clientId"), credentials.text("clientSecret")) {
            (Some(id), Some(secret)) => {
                let url = credentials.text("tokenUrl").ok_or_else(|| rejected("tokenUrl is missing for OAuth"))?;
                format!("Bearer {}", self.access_token(url, id, secret).await?)
            }
            _ => {
                let user = credentials.text("username").ok_or_else(|| {
                    rejected("username and password, or clientId, clientSecret and tokenUrl, are needed")
                })?;
                let password = credentials.text("password").ok_or_else(|| rejected("password is missing"))?;
                let pair = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                format!("Basic {pair}")
            }
        };
        Ok(Session { base, authorization, client })
    }

    /// An OAuth 2.0 client-credentials token, cached until shortly before it expires.
    async fn access_token(&self, url: &str, id: &str, secret: &str) -> Result<String, ConnectorError> {
        let cache_key = tokens::key(&[url, id, secret]);
        if let Some(token) = self.tokens.get(&cache_key) {
            return Ok(token.to_string());
        }
        let asked = Instant::now();
        let endpoint = Url::parse(url).map_err(|_| rejected("tokenUrl is not a URL"))?;
        let answer = self
            .upstream
            .send(Replay::Safe, || {
                self.upstream
                    .client()
                    .post(endpoint.clone())
                    .basic_auth(id, Some(secret))
                    .form(&[("grant_type", "client_credentials")])
            })
            .await?;
        if !answer.status.is_success() {
            let reason = String::from_utf8_lossy(&answer.body).chars().take(200).collect::<String>();
            return Err(ConnectorError::Rejected(format!(
                "the token endpoint answered HTTP {}: {reason}",
                answer.status
            )));
        }
        let body = answer.json("the OAuth token")?;
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| ConnectorError::Upstream("the token answer has no access_token".into()))?;
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(300));
        Ok(self.tokens.put(&cache_key, token, asked, lifetime).to_string())
    }

    /// The URL of a path under the system's origin with query options (and the SAP client).
    fn url(&self, session: &Session, path: &str, options: &[(&str, String)]) -> Result<Url, ConnectorError> {
        let mut url = session.base.join(path).map_err(|e| ConnectorError::Upstream(format!("bad path {path}: {e}")))?;
        {
            let mut query = url.query_pairs_mut();
            for (name, value) in options {
                query.append_pair(name, value);
            }
            if let Some(client) = &session.client {
                query.append_pair("sap-client", client);
            }
        }
        Ok(url)
    }

    /// A request signed for the session, asking for JSON.
    fn request(&self, session: &Session, method: Method, url: Url) -> RequestBuilder {
        self.upstream
            .client()
            .request(method, url)
            .header(header::AUTHORIZATION, &session.authorization)
            .header(header::ACCEPT, "application/json")
    }

    /// GETs a URL; answers the JSON of a success, or what SAP's error means.
    async fn get_json(&self, session: &Session, url: Url) -> Result<Value, ConnectorError> {
        let answer = self.upstream.send(Replay::Safe, || self.request(session, Method::GET, url.clone())).await?;
        Self::success(&answer)?;
        answer.json("the OData answer")
    }

    fn success(answer: &Answer) -> Result<(), ConnectorError> {
        if answer.status.is_success() { Ok(()) } else { Err(odata::failure(answer.status.as_u16(), &answer.body)) }
    }

    /// The query options of a page of changes: at or after `since`, in (change stamp, key)
    /// order, after the record a cursor names. Paging by that position rather than by offset
    /// ($skip, or a $skiptoken that counts rows) means a record changed while a sync pages
    /// through the set only moves further on; it cannot shift one it did not read yet onto a
    /// page already read.
    fn page_query(
        &self,
        set: &Set,
        since: Option<DateTime<Utc>>,
        after: Option<&After>,
    ) -> Vec<(&'static str, String)> {
        let mut options = vec![("$format", "json".to_owned()), ("$top", PAGE.to_string())];
        let mut filter = Vec::new();
        let key_after = |key: &str| format!("{} gt {}", set.key, odata::quoted(key));
        if self.has_change_stamp(set) {
            options.push(("$orderby", format!("{CHANGED} asc,{} asc", set.key)));
            filter.extend(since.map(|since| format!("{CHANGED} ge {}", odata::datetimeoffset(since))));
            if let Some(After { stamp: Some(stamp), key }) = after {
                let stamp = odata::datetimeoffset(*stamp);
                filter.push(format!("({CHANGED} gt {stamp} or ({CHANGED} eq {stamp} and {}))", key_after(key)));
            }
        } else {
            options.push(("$orderby", format!("{} asc", set.key)));
            filter.extend(after.map(|a| key_after(&a.key)));
        }
        if !filter.is_empty() {
            options.push(("$filter", filter.join(" and ")));
        }
        if let Some(expand) = set.expand {
            options.push(("$expand", expand.to_owned()));
        }
        options
    }

    /// Whether the set carries `LastChangeDateTime` in this flavour.
    fn has_change_stamp(&self, set: &Set) -> bool {
        !(self.flavour == Flavour::Ecc && set.name == "A_PurchaseOrder")
    }

    /// Fetches a token for writes, with the session cookies it is bound to.
    async fn csrf(&self, session: &Session, service: &str) -> Result<Csrf, ConnectorError> {
        let url = self.url(session, &format!("{service}/"), &[])?;
        let answer = self
            .upstream
            .send(Replay::Safe, || self.request(session, Method::GET, url.clone()).header("x-csrf-token", "Fetch"))
            .await?;
        Self::success(&answer)?;
        let token = answer
            .header("x-csrf-token")
            .filter(|t| !t.eq_ignore_ascii_case("required"))
            .ok_or_else(|| ConnectorError::Upstream("the system issued no CSRF token".into()))?
            .to_owned();
        let cookies = answer
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|c| c.to_str().ok()?.split(';').next().map(str::trim).map(str::to_owned))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Csrf { token, cookies })
    }

    /// Sends a change with a CSRF token, fetching a fresh one once when SAP answers that it
    /// requires one (tokens end with their session).
    async fn write(
        &self,
        session: &Session,
        service: &str,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<Answer, ConnectorError> {
        for attempt in 0..2 {
            let csrf = self.csrf(session, service).await?;
            let answer = self
                .upstream
                .send(Replay::Unsafe, || {
                    let request = self
                        .request(session, method.clone(), url.clone())
                        .header("x-csrf-token", &csrf.token)
                        .header(header::COOKIE, &csrf.cookies);
                    match body {
                        Some(body) => request.json(body),
                        None => request,
                    }
                })
                .await?;
            let required = answer.status == reqwest::StatusCode::FORBIDDEN
                && answer.header("x-csrf-token").is_some_and(|t| t.eq_ignore_ascii_case("required"));
            if required && attempt == 0 {
                tracing::info!("CSRF token refused; fetching a new one");
                continue;
            }
            Self::success(&answer)?;
            return Ok(answer);
        }
        Err(ConnectorError::Upstream("the system refused a fresh CSRF token".into()))
    }

    /// One record, read in the unified model.
    async fn record(&self, session: &Session, entity: Entity, key: &str) -> Result<Option<Record>, ConnectorError> {
        let Some(set) = Set::of(entity) else { return Err(ConnectorError::Unsupported) };
        if !plausible(key) {
            return Ok(None);
        }
        let mut options = vec![("$format", "json".to_owned())];
        if let Some(expand) = set.expand {
            options.push(("$expand", expand.to_owned()));
        }
        let url = self.url(session, &set.record(key), &options)?;
        match self.get_json(session, url).await {
            Ok(body) => Ok((set.read)(&odata::entity(&body)?)),
            Err(ConnectorError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A record after a change, which SAP answered without a body.
    async fn reread(&self, session: &Session, entity: Entity, key: &str) -> Result<Record, ConnectorError> {
        self.record(session, entity, key).await?.ok_or(ConnectorError::NotFound)
    }
}

fn statuses(list: &[(&str, &'static str, &'static str)]) -> Vec<Status> {
    list.iter().map(|&(_, key, name)| Status { key, name }).collect()
}

/// What SAP supports through these services. Purchase orders are released by SAP's own
/// workflow, so their status is read, not set; maintenance orders move by function imports.
pub fn capabilities() -> Capabilities {
    use Operation::*;
    let transitions = WO_FUNCTIONS.iter().fold(BTreeMap::<&str, Vec<&str>>::new(), |mut m, (from, to, _)| {
        m.entry(from).or_default().push(to);
        m
    });
    Capabilities(vec![
        EntityCapabilities {
            entity: Entity::PurchaseOrders,
            operations: vec![List, Get, Create, Update],
            creatable: FieldRule::list(&[
                ("vendorKey", true),
                ("siteKey", true),
                ("currencyKey", false),
                ("terms", false),
                ("lineItems", true),
                ("lineItems[].materialKey", false),
                ("lineItems[].description", false),
                ("lineItems[].quantity", true),
                ("lineItems[].uomKey", false),
                ("lineItems[].price", false),
                ("customFields", false),
            ]),
            updatable: vec!["vendorKey", "currencyKey", "terms"],
            statuses: statuses(&PO_STATUSES),
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["approved"],
                    operations: vec![Update],
                    description: "A released purchase order cannot change",
                },
                StateRule::SoftDelete,
            ],
        },
        EntityCapabilities {
            entity: Entity::WorkOrders,
            operations: vec![List, Get, Update, ChangeStatus],
            creatable: Vec::new(),
            updatable: vec!["title", "severity"],
            statuses: statuses(&WO_STATUSES),
            rules: vec![
                StateRule::Frozen {
                    statuses: vec!["closed"],
                    operations: vec![Update, ChangeStatus],
                    description: "A closed maintenance order cannot change",
                },
                StateRule::Transitions { allowed: transitions },
            ],
        },
        EntityCapabilities {
            entity: Entity::Assets,
            operations: vec![List, Get],
            creatable: Vec::new(),
            updatable: Vec::new(),
            statuses: ASSET_STATUSES.iter().map(|&(key, name)| Status { key, name }).collect(),
            rules: vec![StateRule::SoftDelete],
        },
    ])
}

#[async_trait]
impl Connector for Sap {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        let session = self.session(credentials).await?;
        let options =
            [("$format", "json".to_owned()), ("$top", "1".to_owned()), ("$select", "PurchaseOrder".to_owned())];
        let url = self.url(&session, &format!("{PO_SERVICE}/A_PurchaseOrder"), &options)?;
        self.get_json(&session, url).await.map(drop)
    }

    fn capabilities(&self) -> Capabilities {
        capabilities()
    }

    async fn changes(
        &self,
        credentials: &Credentials,
        entity: Entity,
        since: Option<DateTime<Utc>>,
        cursor: Option<&str>,
    ) -> Result<Changes, ConnectorError> {
        let set = Set::of(entity).ok_or(ConnectorError::Unsupported)?;
        let session = self.session(credentials).await?;
        let after = cursor.map(After::parse).transpose()?;
        let path = format!("{}/{}", set.service, set.name);
        let url = self.url(&session, &path, &self.page_query(&set, since, after.as_ref()))?;
        let page = odata::collection(&self.get_json(&session, url).await?)?;
        let records = page
            .results
            .iter()
            .map(|r| (set.read)(r).ok_or_else(|| ConnectorError::Upstream(format!("a {} without its key", set.name))))
            .collect::<Result<Vec<_>, _>>()?;
        // More when the server says so (its own page may be smaller than $top) or the page is
        // full; the next one starts after this page's last record.
        let more = page.next.is_some() || page.results.len() >= PAGE;
        let next = match page.results.last() {
            Some(last) if more => {
                let key = last.get(set.key).and_then(Value::as_str).unwrap_or_default().to_owned();
                let stamp =
                    match self.has_change_stamp(&set) {
                        true => Some(last.get(CHANGED).and_then(odata::date).ok_or_else(|| {
                            ConnectorError::Upstream(format!("a {} without its {CHANGED}", set.name))
                        })?),
                        false => None,
                    };
                Some(After { stamp, key }.to_string())
            }
            _ => None,
        };
        Ok(Changes { records, next })
    }

    async fn get(
        &self,
        credentials: &Credentials,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        let session = self.session(credentials).await?;
        self.record(&session, entity, key).await
    }

    async fn create(
        &self,
        credentials: &Credentials,
        entity: Entity,
        body: &Record,
        reference: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        if entity != Entity::PurchaseOrders {
            return Err(ConnectorError::Unsupported);
        }
        let session = self.session(credentials).await?;
        let mut insert = mapping::new_purchase_order(body, &po_defaults(credentials));
        // The order's "Your Reference", unless the body set it: how a lost answer is found.
        if let (Some(reference), Some(header)) = (reference, insert.as_object_mut()) {
            header.entry(REFERENCE).or_insert_with(|| reference.into());
        }
        let url = self.url(&session, &format!("{PO_SERVICE}/A_PurchaseOrder"), &[])?;
        let answer = self.write(&session, PO_SERVICE, Method::POST, url, Some(&insert)).await?;
        let created = odata::entity(&answer.json("the created purchase order")?)?;
        match created.get("PurchaseOrder").and_then(Value::as_str) {
            // The answer of a deep insert may leave the items out; the record as stored has them.
            Some(key) if mapping::items(&created).is_empty() => self.reread(&session, entity, key).await,
            Some(_) => mapping::purchase_order(&created).ok_or(ConnectorError::NotFound),
            None => Err(ConnectorError::Upstream("the created purchase order has no number".into())),
        }
    }

    async fn created(
        &self,
        credentials: &Credentials,
        entity: Entity,
        reference: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        let Some(set) = Set::of(entity).filter(|_| entity == Entity::PurchaseOrders) else { return Ok(None) };
        let session = self.session(credentials).await?;
        let mut options = vec![
            ("$format", "json".to_owned()),
            ("$top", "1".to_owned()),
            ("$filter", format!("{REFERENCE} eq {}", odata::quoted(reference))),
        ];
        options.extend(set.expand.map(|e| ("$expand", e.to_owned())));
        let url = self.url(&session, &format!("{}/{}", set.service, set.name), &options)?;
        let found = odata::collection(&self.get_json(&session, url).await?)?;
        Ok(found.results.first().and_then(|r| (set.read)(r)))
    }

    async fn update(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        patch: &Record,
    ) -> Result<Record, ConnectorError> {
        let key = key_of(current);
        let fields = match entity {
            Entity::PurchaseOrders => &mapping::PO_HEADER_FIELDS[..],
            Entity::WorkOrders => &mapping::WO_FIELDS[..],
            _ => return Err(ConnectorError::Unsupported),
        };
        let set = Set::of(entity).ok_or(ConnectorError::Unsupported)?;
        if !plausible(key) {
            return Err(ConnectorError::NotFound);
        }
        let session = self.session(credentials).await?;
        let body = Value::Object(mapping::to_sap(patch, fields));
        let url = self.url(&session, &set.record(key), &[])?;
        self.write(&session, set.service, Method::PATCH, url, Some(&body)).await?;
        self.reread(&session, entity, key).await
    }

    async fn change_status(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        status: &str,
    ) -> Result<Record, ConnectorError> {
        if entity != Entity::WorkOrders {
            return Err(ConnectorError::Unsupported);
        }
        let key = key_of(current);
        if !plausible(key) {
            return Err(ConnectorError::NotFound);
        }
        let session = self.session(credentials).await?;
        let from = current.get("statusKey").and_then(Value::as_str).unwrap_or_default();
        let Some((.., function)) = WO_FUNCTIONS.iter().find(|(f, t, _)| *f == from && *t == status) else {
            return Err(ConnectorError::Rule {
                code: millwright::error::ErrorCode::InvalidState,
                message: format!("no SAP function moves a maintenance order from {from} to {status}"),
                field: None,
            });
        };
        let url =
            self.url(&session, &format!("{WO_SERVICE}/{function}"), &[("MaintenanceOrder", odata::quoted(key))])?;
        let answer = self.write(&session, WO_SERVICE, Method::POST, url, None).await?;
        // The function's result (named after the function, as OData V2 wraps a complex result)
        // says whether SAP carried it out.
        let result = answer.json("the function result").ok();
        let invalid = result
            .as_ref()
            .and_then(|b| b["d"].get(*function).unwrap_or(&b["d"])["IsInvalid"].as_bool())
            .unwrap_or(false);
        if invalid {
            return Err(ConnectorError::Rule {
                code: millwright::error::ErrorCode::InvalidState,
                message: format!("SAP did not carry out {function} on {key}"),
                field: None,
            });
        }
        self.reread(&session, entity, key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millwright::webhooks::AddressPolicy;
    use std::collections::HashMap;

    fn session(client: Option<&str>) -> Session {
        Session {
            base: Url::parse("https://sap.example.com").unwrap(),
            authorization: "Basic x".into(),
            client: client.map(Into::into),
        }
    }

    #[test]
    fn pages_filter_on_the_change_stamp_and_start_after_the_last_record_read() {
        let since = DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc);
        let po = Set::of(Entity::PurchaseOrders).unwrap();
        let s4 = Sap::new(Upstream::new(AddressPolicy::default()), Flavour::S4Hana);
        let options: HashMap<_, _> = s4.page_query(&po, Some(since), None).into_iter().collect();
        assert_eq!(options["$filter"], "LastChangeDateTime ge datetimeoffset'2026-11-30T10:00:00.000Z'");
        assert_eq!(options["$orderby"], "LastChangeDateTime asc,PurchaseOrder asc");
        assert_eq!(options["$expand"], "to_PurchaseOrderItem");
        let after = After::parse("2026-11-30T11:00:00.250Z 4500000007").unwrap();
        let options: HashMap<_, _> = s4.page_query(&po, Some(since), Some(&after)).into_iter().collect();
        assert_eq!(
            options["$filter"],
            "LastChangeDateTime ge datetimeoffset'2026-11-30T10:00:00.000Z' and (LastChangeDateTime gt \
             datetimeoffset'2026-11-30T11:00:00.250Z' or (LastChangeDateTime eq datetimeoffset'2026-11-30T11:00:00.250Z' \
             and PurchaseOrder gt '4500000007'))"
        );
        let ecc = Sap::new(Upstream::new(AddressPolicy::default()), Flavour::Ecc);
        let options: HashMap<_, _> = ecc.page_query(&po, Some(since), None).into_iter().collect();
        assert!(!options.contains_key("$filter"), "ECC purchase orders have no change stamp");
        assert_eq!(options["$orderby"], "PurchaseOrder asc");
        let after = After::parse("- 4500000007").unwrap();
        let options: HashMap<_, _> = ecc.page_query(&po, Some(since), Some(&after)).into_iter().collect();
        assert_eq!(options["$filter"], "PurchaseOrder gt '4500000007'");
        let wo = Set::of(Entity::WorkOrders).unwrap();
        assert!(ecc.page_query(&wo, Some(since), None).iter().any(|(k, _)| *k == "$filter"));
        let url =
            ecc.url(&session(Some("100")), "/sap/opu/odata/sap/API_MAINTENANCEORDER/MaintenanceOrder", &[]).unwrap();
        assert_eq!(url.query(), Some("sap-client=100"));
    }

    #[test]
    fn cursors_are_positions_this_connector_gave() {
        let after = After { stamp: Some("2026-11-30T11:00:00.250Z".parse().unwrap()), key: "4500000007".into() };
        assert_eq!(After::parse(&after.to_string()).unwrap(), after);
        for foreign in ["garbage", "0 https://sap.example.com/x", "2026-11-30T11:00:00Z 45'00", "- "] {
            assert!(After::parse(foreign).is_err(), "{foreign}");
        }
    }

    #[test]
    fn record_paths_quote_keys_and_equipment_names_its_validity() {
        let eq = Set::of(Entity::Assets).unwrap();
        assert_eq!(
            eq.record("10000001"),
            "/sap/opu/odata/sap/API_EQUIPMENT/Equipment(Equipment='10000001',ValidityEndDate=datetime'9999-12-31T00:00:00')"
        );
        assert!(!plausible("45'00") && !plausible("") && plausible("4500000001"));
        let caps = capabilities();
        let wo = caps.of(Entity::WorkOrders);
        assert!(wo.check_status(&Record::from_iter([("statusKey".into(), "open".into())]), "released").is_ok());
        assert!(wo.check_status(&Record::from_iter([("statusKey".into(), "open".into())]), "closed").is_err());
    }
}
