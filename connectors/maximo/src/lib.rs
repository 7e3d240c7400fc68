//! The IBM Maximo connector. It speaks Maximo's REST API in the lean JSON format
//! (`{baseUrl}/api/os/{object structure}`), authenticated by an API key (`apikey`) or a user
//! (`maxauth`). Syncs page through each structure in `changedate` order; purchase orders and
//! work orders are also created, updated and moved through their statuses in Maximo. `mapping`
//! converts records; this module builds the requests and reads Maximo's answers and errors.

pub mod mapping;

use async_trait::async_trait;
use base64::Engine;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode, header::HeaderValue};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use url::Url;

use millwright::{
    capabilities::{Capabilities, EntityCapabilities, FieldRule, Operation, StateRule},
    connectors::{Changes, Connector, ConnectorError, Credentials, key_of as key_of_record},
    entities::{Entity, Record},
    error::ErrorCode,
};
use millwright_outbound::upstream::{Answer, Replay, Upstream};

use mapping::{Shape, is_key, key_in, key_of, maximo_time, shape};

/// Records per page of a sync.
const PAGE_SIZE: &str = "100";
/// What Maximo's status history records for a status change made here.
const MEMO: &str = "Changed through Millwright";
/// Asks Maximo to answer a write with the whole record.
const PROPERTIES: (&str, &str) = ("properties", "*");
/// Carries the `_rowstamp` a change was based on (optimistic locking).
const IF_MATCH: &str = "if-match";
/// Makes a POST an update (Maximo's HTTP method tunnel).
const PATCH: (&str, &str) = ("x-method-override", "PATCH");
/// Keeps the attributes (and child lines) an update does not mention.
const MERGE: (&str, &str) = ("patchtype", "MERGE");
/// The lean format, which every request asks for.
const LEAN: (&str, &str) = ("lean", "1");
/// Every attribute of a record, its child objects included.
const ALL: (&str, &str) = ("oslc.select", "*");
/// The longest error text of Maximo's passed on.
const MAX_MESSAGE: usize = 500;

/// The Maximo connector; `Connectors::standard()` registers it as `ibm_maximo`.
pub struct Maximo {
    upstream: Upstream,
}

impl Maximo {
    /// A connector that sends every request through `upstream`.
    pub fn new(upstream: Upstream) -> Self {
        Self { upstream }
    }

    /// A session with the server the credentials name, or why they cannot name one.
    fn session(&self, credentials: &Credentials) -> Result<Session<'_>, ConnectorError> {
        Ok(Session { upstream: &self.upstream, base: base_url(credentials)?, auth: authentication(credentials)? })
    }
}

/// The base URL from the credentials, with a trailing `/` so API paths join under it.
fn base_url(credentials: &Credentials) -> Result<Url, ConnectorError> {
    let invalid = |why: &str| ConnectorError::Rejected(format!("baseUrl {why}"));
    let text = credentials.text("baseUrl").ok_or_else(|| invalid("is required"))?;
    let mut url = Url::parse(text.trim()).map_err(|_| invalid("is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an http or https URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must have no query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user or password"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// The header that authenticates: `apikey`, else `maxauth` with base64 of `user:password`.
fn authentication(credentials: &Credentials) -> Result<(&'static str, HeaderValue), ConnectorError> {
    let (name, value) = match (credentials.text("apiKey"), credentials.text("username"), credentials.text("password")) {
        (Some(key), _, _) => ("apikey", key.to_owned()),
        (None, Some(user), Some(password)) => {
            ("maxauth", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
        }
        _ => return Err(ConnectorError::Rejected("an apiKey, or a username and password, are required".into())),
    };
    let mut value = HeaderValue::from_str(&value)
        .map_err(|_| ConnectorError::Rejected("the apiKey has characters an HTTP header cannot carry".into()))?;
    value.set_sensitive(true);
    Ok((name, value))
}

/// What a Maximo error answer means: its `Error.reasonCode` decides business rules, and its
/// message (reason code first) is what the caller reads.
fn failure(answer: &Answer) -> ConnectorError {
    let body = serde_json::from_slice::<Value>(&answer.body).ok();
    let error = body.as_ref().and_then(|b| b.get("Error"));
    let text =
        |name: &str| error.and_then(|e| e.get(name)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let code = text("reasonCode");
    let reason = answer.status.canonical_reason().unwrap_or("no reason given");
    let message = match (code, text("message")) {
        (Some(code), Some(message)) if message.contains(code) => message.to_owned(),
        (Some(code), message) => format!("{code} - {}", message.unwrap_or(reason)),
        (None, message) => message.unwrap_or(reason).to_owned(),
    };
    let message: String = message.chars().take(MAX_MESSAGE).collect();
    let rule = |code, field: Option<&str>| ConnectorError::Rule {
        code,
        message: message.clone(),
        field: field.map(Into::into),
    };
    match answer.status {
        StatusCode::UNAUTHORIZED => ConnectorError::Rejected(message),
        StatusCode::FORBIDDEN => ConnectorError::Forbidden(message),
        StatusCode::NOT_FOUND => ConnectorError::NotFound,
        // A stale If-Match: the record changed in Maximo since it was read.
        StatusCode::PRECONDITION_FAILED => rule(ErrorCode::Conflict, None),
        StatusCode::BAD_REQUEST => match code {
            // An approved purchase order changes only through a revision; a status change the
            // record's status does not allow.
            Some("BMXAA4179E" | "BMXAA4590E") => rule(ErrorCode::InvalidState, None),
            Some("BMXAA4155E") => rule(ErrorCode::InvalidVendor, Some("vendorKey")),
            // Everything else, "a value is required for …" (BMXAA4195E) among it, is a bad request.
            _ => rule(ErrorCode::InvalidRequest, None),
        },
        status => ConnectorError::Upstream(format!("HTTP {}: {message}", status.as_u16())),
    }
}

/// The shape of an entity the connector serves.
fn served(entity: Entity) -> Result<&'static Shape, ConnectorError> {
    shape(entity).ok_or(ConnectorError::Unsupported)
}

/// The shape of an entity the connector writes: purchase orders and work orders.
fn writable(entity: Entity) -> Result<&'static Shape, ConnectorError> {
    match entity {
        Entity::PurchaseOrders | Entity::WorkOrders => served(entity),
        _ => Err(ConnectorError::Unsupported),
    }
}

/// The shape of a record to write, when `key` can name one (anything else names none).
fn writable_record(entity: Entity, key: &str) -> Result<&'static Shape, ConnectorError> {
    let shape = writable(entity)?;
    if is_key(key) { Ok(shape) } else { Err(ConnectorError::NotFound) }
}

/// Where the next page of changes starts. Maximo's `oslc.where` joins terms with `and` only, so
/// a position cannot be "after this record" as it is for SAP; it is "changed at or after `from`"
/// (the last record read), less the records changed in that second already read (`seen`). A
/// record changed while a sync pages through only moves further on, and no page is asked for by
/// an offset that such a move shifts — except within one second holding more than a page of
/// records (then `page` counts on within it). As a cursor: `<from> <page> <key,key,…>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct After {
    from: DateTime<Utc>,
    page: u32,
    seen: BTreeSet<String>,
}

impl After {
    fn parse(cursor: &str) -> Result<Self, ConnectorError> {
        let foreign = || ConnectorError::Upstream("not a position this connector gave".into());
        let mut parts = cursor.splitn(3, ' ');
        let from = DateTime::parse_from_rfc3339(parts.next().unwrap_or_default()).map_err(|_| foreign())?.to_utc();
        let page = parts.next().and_then(|p| p.parse().ok()).filter(|&p| p >= 1).ok_or_else(foreign)?;
        let seen: BTreeSet<String> =
            parts.next().unwrap_or_default().split(',').filter(|k| !k.is_empty()).map(String::from).collect();
        if seen.iter().all(|k| is_key(k)) { Ok(Self { from, page, seen }) } else { Err(foreign()) }
    }

    /// The position after a page read at `after` (or from `from` when the feed began): past
    /// the last record's second, or the next page within it when the whole page was that second.
    fn following(
        after: Option<&Self>,
        from: Option<DateTime<Utc>>,
        last: DateTime<Utc>,
        read: &[(DateTime<Utc>, String, Record)],
    ) -> Self {
        let at_last = read.iter().filter(|(stamp, ..)| *stamp == last).map(|(_, key, _)| key.clone());
        match after {
            Some(a) if Some(last) == from => {
                Self { from: a.from, page: a.page + 1, seen: a.seen.iter().cloned().chain(at_last).collect() }
            }
            _ if Some(last) == from => Self { from: last, page: 2, seen: at_last.collect() },
            _ => Self { from: last, page: 1, seen: at_last.collect() },
        }
    }
}

impl std::fmt::Display for After {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let seen: Vec<&str> = self.seen.iter().map(String::as_str).collect();
        write!(f, "{} {} {}", maximo_time(self.from), self.page, seen.join(","))
    }
}

/// One call's view of a Maximo server: where it is and how to authenticate.
struct Session<'a> {
    upstream: &'a Upstream,
    base: Url,
    auth: (&'static str, HeaderValue),
}

impl Session<'_> {
    /// `{base}/api/os/{structure}`, or the record `key` in it, with a query.
    fn url(&self, shape: &Shape, key: Option<&str>, query: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let path = match key {
            Some(key) => format!("api/os/{}/{key}", shape.structure),
            None => format!("api/os/{}", shape.structure),
        };
        let mut url = self.base.join(&path).map_err(|e| ConnectorError::Upstream(format!("building a URL: {e}")))?;
        url.query_pairs_mut().extend_pairs(query);
        Ok(url)
    }

    /// Sends a GET (no body) or a POST with a JSON body, through the shared client: reads may
    /// be repeated after transient failures, writes only where Maximo did not act.
    async fn exchange(
        &self,
        url: Url,
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Answer, ConnectorError> {
        let (method, replay) =
            if body.is_some() { (Method::POST, Replay::Unsafe) } else { (Method::GET, Replay::Safe) };
        self.upstream
            .send(replay, || {
                let request = self.upstream.client().request(method.clone(), url.clone());
                let request = request
                    .header(reqwest::header::ACCEPT, "application/json")
                    .header(self.auth.0, self.auth.1.clone());
                let request = headers.iter().fold(request, |r, &(name, value)| r.header(name, value));
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await
    }

    /// A JSON document; none when Maximo answers 404.
    async fn read(&self, url: Url, what: &str) -> Result<Option<Value>, ConnectorError> {
        let answer = self.exchange(url, &[], None).await?;
        match answer.status {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => answer.json(what).map(Some),
            _ => Err(failure(&answer)),
        }
    }

    /// Sends a write; the answer when Maximo took it.
    async fn write(&self, url: Url, headers: &[(&str, &str)], body: &Value) -> Result<Answer, ConnectorError> {
        let answer = self.exchange(url, headers, Some(body)).await?;
        if answer.status.is_success() { Ok(answer) } else { Err(failure(&answer)) }
    }

    /// One record by its (valid) key; none when Maximo has none.
    async fn record(&self, shape: &Shape, key: &str) -> Result<Option<Record>, ConnectorError> {
        let url = self.url(shape, Some(key), &[LEAN, ALL])?;
        let Some(found) = self.read(url, shape.structure).await? else { return Ok(None) };
        let member = found.as_object().ok_or_else(|| not_a_record(shape))?;
        Ok(Some(shape.record(key_of(member).unwrap_or(key), member)))
    }

    /// The record a write produced: as Maximo answered it, or read again under `key` when the
    /// answer does not carry it (an empty body, or an action's own result).
    async fn written(&self, shape: &Shape, answer: &Answer, key: Option<&str>) -> Result<Record, ConnectorError> {
        let returned = if answer.body.is_empty() { None } else { Some(answer.json(shape.structure)?) };
        if let Some(member) = returned.as_ref().and_then(Value::as_object)
            && let Some(href_key) = key_of(member)
        {
            return Ok(shape.record(href_key, member));
        }
        let key = key.ok_or_else(|| {
            ConnectorError::Upstream(format!("{}: Maximo did not say which record it wrote", shape.structure))
        })?;
        self.record(shape, key).await?.ok_or(ConnectorError::NotFound)
    }
}

/// The `_rowstamp` of the record a change is based on (as Maximo sent it, in `remoteData`): the
/// change sends it as `If-Match`, so Maximo refuses it (412) when someone changed the record since
/// it was read — and its state rules checked — instead of overwriting their change.
fn rowstamp<'a>(current: &'a Record, shape: &Shape) -> Result<&'a str, ConnectorError> {
    current
        .get("remoteData")
        .and_then(|r| r.get("_rowstamp"))
        .and_then(Value::as_str)
        .ok_or_else(|| not_a_record(shape))
}

/// The error of an answer that should have been a record and is not.
fn not_a_record(shape: &Shape) -> ConnectorError {
    ConnectorError::Upstream(format!("{}: the answer is not a record with an href", shape.structure))
}

/// Capabilities of an entity; its statuses come from the mapping.
fn entity(
    entity: Entity,
    operations: Vec<Operation>,
    creatable: &[(&'static str, bool)],
    updatable: Vec<&'static str>,
    rules: Vec<StateRule>,
) -> EntityCapabilities {
    EntityCapabilities {
        entity,
        operations,
        creatable: FieldRule::list(creatable),
        updatable,
        statuses: shape(entity).map(Shape::statuses).unwrap_or_default(),
        rules,
    }
}

/// The status moves Maximo allows, from each status to the ones listed.
fn transitions(allowed: &[(&'static str, &[&'static str])]) -> StateRule {
    StateRule::Transitions {
        allowed: allowed.iter().map(|&(from, to)| (from, to.to_vec())).collect::<BTreeMap<_, _>>(),
    }
}

/// What Maximo supports: purchase orders and work orders with their lifecycles; assets,
/// inventories, vendors and locations read-only; no materials or sites.
pub fn capabilities() -> Capabilities {
    use Operation::*;
    let lifecycle = || vec![List, Get, Create, Update, ChangeStatus];
    let read_only = |e| EntityCapabilities::read_only(e, shape(e).map(Shape::statuses).unwrap_or_default());
    Capabilities(vec![
        entity(
            Entity::PurchaseOrders,
            lifecycle(),
            &[
                ("vendorKey", true),
                ("siteKey", true),
                ("lineItems", true),
                ("lineItems[].quantity", true),
                ("lineItems[].materialKey", false),
                ("lineItems[].description", false),
                ("lineItems[].price", false),
                ("lineItems[].uomKey", false),
                ("title", false),
                ("currencyKey", false),
                ("dueAt", false),
            ],
            vec!["title", "dueAt"],
            vec![
                StateRule::Frozen {
                    statuses: vec!["approved", "in_progress", "completed", "cancelled"],
                    operations: vec![Update],
                    description: "An approved purchase order changes only through a revision in Maximo",
                },
                transitions(&[
                    ("pending_approval", &["approved", "cancelled"]),
                    ("approved", &["in_progress", "completed", "cancelled"]),
                    ("in_progress", &["completed", "cancelled"]),
                    ("completed", &[]),
                    ("cancelled", &[]),
                ]),
            ],
        ),
        entity(
            Entity::WorkOrders,
            lifecycle(),
            &[
                ("title", true),
                ("siteKey", true),
                ("assetKey", false),
                ("locationKey", false),
                ("severity", false),
                ("dueAt", false),
            ],
            vec!["title", "severity", "dueAt", "scheduledAt"],
            vec![
                StateRule::Frozen {
                    statuses: vec!["closed", "cancelled"],
                    operations: vec![Update],
                    description: "A closed or cancelled work order cannot change in Maximo",
                },
                transitions(&[
                    ("pending_approval", &["approved", "cancelled"]),
                    ("approved", &["in_progress", "completed", "cancelled"]),
                    ("in_progress", &["completed", "cancelled"]),
                    ("completed", &["closed"]),
                    ("closed", &[]),
                    ("cancelled", &[]),
                ]),
            ],
        ),
        read_only(Entity::Assets),
        read_only(Entity::Inventories),
        read_only(Entity::Vendors),
        read_only(Entity::Locations),
    ])
}

#[async_trait]
impl Connector for Maximo {
    async fn verify(&self, credentials: &Credentials) -> Result<(), ConnectorError> {
        let session = self.session(credentials)?;
        let assets = served(Entity::Assets)?;
        let url = session.url(assets, None, &[LEAN, ("oslc.select", "assetnum"), ("oslc.pageSize", "1")])?;
        let answer = session.exchange(url, &[], None).await?;
        match answer.status {
            s if s.is_success() => Ok(()),
            // No REST API under the base URL: the address is wrong, not a record missing.
            StatusCode::NOT_FOUND => {
                Err(ConnectorError::Rejected("baseUrl: no Maximo REST API answers there (HTTP 404)".into()))
            }
            _ => Err(failure(&answer)),
        }
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
        let shape = served(entity)?;
        let session = self.session(credentials)?;
        let after = cursor.map(After::parse).transpose()?;
        let from = after.as_ref().map(|a| a.from).or(since);
        let pageno = after.as_ref().map_or(1, |a| a.page).to_string();
        // Maximo compares to the second: `from` truncated down keeps the bound inclusive.
        let changed = from.map(|t| format!("changedate>=\"{}\"", maximo_time(t)));
        let mut query = vec![LEAN, ALL, ("oslc.pageSize", PAGE_SIZE), ("oslc.orderBy", "+changedate")];
        query.extend(changed.as_deref().map(|w| ("oslc.where", w)));
        if pageno != "1" {
            query.push(("pageno", &pageno));
        }
        let page = session.read(session.url(shape, None, &query)?, shape.structure).await?.ok_or_else(|| {
            ConnectorError::Upstream(format!(
                "{}: Maximo does not serve this object structure (HTTP 404)",
                shape.structure
            ))
        })?;
        let members = page
            .get("member")
            .and_then(Value::as_array)
            .ok_or_else(|| ConnectorError::Upstream(format!("{}: the answer has no member list", shape.structure)))?;
        let mut read = Vec::with_capacity(members.len());
        for member in members {
            let member = member.as_object().ok_or_else(|| not_a_record(shape))?;
            let key = key_of(member).ok_or_else(|| not_a_record(shape))?;
            let stamp =
                member.get("changedate").and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok());
            let stamp = stamp.map(|t| t.to_utc()).ok_or_else(|| not_a_record(shape))?;
            read.push((stamp, key.to_owned(), shape.record(key, member)));
        }
        // An empty page ends the feed even if Maximo offers another, so a sync cannot loop.
        let more = page.pointer("/responseInfo/nextPage").is_some() && !read.is_empty();
        let next = match read.last() {
            Some((last, ..)) if more => Some(After::following(after.as_ref(), from, *last, &read).to_string()),
            _ => None,
        };
        let seen = after.map(|a| a.seen).unwrap_or_default();
        let records = read
            .into_iter()
            .filter(|(stamp, key, _)| !(Some(*stamp) == from && seen.contains(key)))
            .map(|(.., record)| record)
            .collect();
        Ok(Changes { records, next })
    }

    async fn get(
        &self,
        credentials: &Credentials,
        entity: Entity,
        key: &str,
    ) -> Result<Option<Record>, ConnectorError> {
        let shape = served(entity)?;
        if !is_key(key) {
            return Ok(None);
        }
        self.session(credentials)?.record(shape, key).await
    }

    async fn create(
        &self,
        credentials: &Credentials,
        entity: Entity,
        body: &Record,
        _: Option<&str>,
    ) -> Result<Record, ConnectorError> {
        let shape = writable(entity)?;
        let body = Value::Object(shape.body(body)?);
        let session = self.session(credentials)?;
        let answer = session.write(session.url(shape, None, &[LEAN])?, &[PROPERTIES], &body).await?;
        let location = answer.header("location").and_then(key_in).map(str::to_owned);
        session.written(shape, &answer, location.as_deref()).await
    }

    async fn update(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        patch: &Record,
    ) -> Result<Record, ConnectorError> {
        let key = key_of_record(current);
        let shape = writable_record(entity, key)?;
        let body = Value::Object(shape.body(patch)?);
        let session = self.session(credentials)?;
        let read = rowstamp(current, shape)?;
        let headers = [PATCH, MERGE, PROPERTIES, (IF_MATCH, read)];
        let answer = session.write(session.url(shape, Some(key), &[LEAN])?, &headers, &body).await?;
        session.written(shape, &answer, Some(key)).await
    }

    async fn change_status(
        &self,
        credentials: &Credentials,
        entity: Entity,
        current: &Record,
        status: &str,
    ) -> Result<Record, ConnectorError> {
        let key = key_of_record(current);
        let shape = writable_record(entity, key)?;
        let body = json!({"status": shape.maximo_status(status), "memo": MEMO});
        let session = self.session(credentials)?;
        let url = session.url(shape, Some(key), &[("action", "wsmethod:changeStatus"), LEAN])?;
        let answer = session.write(url, &[PATCH, PROPERTIES, (IF_MATCH, rowstamp(current, shape)?)], &body).await?;
        session.written(shape, &answer, Some(key)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use millwright::webhooks::AddressPolicy;
    use millwright_outbound::upstream::RetryPolicy;
    use std::{
        io::{Read, Write},
        net::TcpListener,
        thread::JoinHandle,
        time::Duration,
    };

    fn credentials(v: Value) -> Credentials {
        Credentials(v.as_object().cloned().unwrap())
    }

    /// A canned answer: status, extra headers, body.
    type Canned = (u16, Vec<(&'static str, String)>, String);

    /// A local HTTP server that answers one request per canned answer, in order, and hands back
    /// each request it received (request line, headers and body, as text).
    fn serve(answers: impl FnOnce(&str) -> Vec<Canned>) -> (String, JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}/maximo", listener.local_addr().unwrap());
        let answers = answers(&base);
        let handle = std::thread::spawn(move || {
            answers
                .into_iter()
                .map(|(status, headers, body)| {
                    let (mut stream, _) = listener.accept().unwrap();
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 4096];
                    let complete = |seen: &[u8]| {
                        let text = String::from_utf8_lossy(seen);
                        let Some(end) = text.find("\r\n\r\n") else { return false };
                        let length = text[..end]
                            .lines()
                            .find_map(|l| l.to_lowercase().strip_prefix("content-length:").map(|n| n.trim().to_owned()))
                            .map_or(0, |n| n.parse::<usize>().unwrap());
                        seen.len() >= end + 4 + length
                    };
                    while !complete(&seen) {
                        let n = stream.read(&mut buf).unwrap();
                        assert!(n > 0, "the client closed early");
                        seen.extend_from_slice(&buf[..n]);
                    }
                    let extra: String = headers.iter().map(|(n, v)| format!("{n}: {v}\r\n")).collect();
                    let answer = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                         connection: close\r\n{extra}\r\n{body}",
                        body.len()
                    );
                    stream.write_all(answer.as_bytes()).unwrap();
                    String::from_utf8(seen).unwrap()
                })
                .collect()
        });
        (base, handle)
    }

    fn maximo() -> Maximo {
        let policy = RetryPolicy { attempts: 1, timeout: Duration::from_secs(30), ..RetryPolicy::default() };
        Maximo::new(Upstream::with_retries(AddressPolicy { allow_local: true }, policy))
    }

    fn api_key(base: &str) -> Credentials {
        credentials(json!({"baseUrl": base, "apiKey": "secret-key"}))
    }

    fn ok(body: Value) -> Canned {
        (200, Vec::new(), body.to_string())
    }

    /// Maximo's error body.
    fn error_body(status: u16, code: &str, message: &str) -> Value {
        let status = status.to_string();
        json!({"Error": {"reasonCode": code, "message": message, "statusCode": status, "extendedError": {}}})
    }

    fn maximo_error(status: u16, code: &str, message: &str) -> Canned {
        (status, Vec::new(), error_body(status, code, message).to_string())
    }

    /// A request's first line, decoded so queries read as written.
    fn request_line(request: &str) -> String {
        let line = request.lines().next().unwrap_or_default();
        url::form_urlencoded::parse(line.as_bytes())
            .map(|(k, v)| if v.is_empty() { k.into_owned() } else { format!("{k}={v}") })
            .collect::<Vec<_>>()
            .join("&")
    }

    fn body_of(request: &str) -> Value {
        serde_json::from_str(request.split("\r\n\r\n").nth(1).unwrap()).unwrap()
    }

    fn po_member(base: &str, key: &str, status: &str) -> Value {
        json!({"href": format!("{base}/api/os/mxapipo/{key}"), "_rowstamp": "1", "ponum": "1022", "status": status,
               "vendor": "KENNEDY", "siteid": "BEDFORD", "changedate": "2026-11-30T10:00:05+00:00"})
    }

    #[test]
    fn base_urls_and_authentication_are_checked() {
        for bad in ["", "ftp://h/maximo", "http://h/maximo?x=1", "http://u:p@h/maximo", "not a url", "mailto:a@b"] {
            let err = base_url(&credentials(json!({"baseUrl": bad}))).unwrap_err();
            assert!(matches!(&err, ConnectorError::Rejected(m) if m.starts_with("baseUrl")), "{bad}: {err:?}");
        }
        let url = base_url(&credentials(json!({"baseUrl": "https://h.example:9443/maximo"}))).unwrap();
        assert_eq!(url.as_str(), "https://h.example:9443/maximo/");

        let (name, value) =
            authentication(&credentials(json!({"apiKey": "k", "username": "u", "password": "p"}))).unwrap();
        assert_eq!((name, value.to_str().unwrap()), ("apikey", "k"));
        assert!(value.is_sensitive());
        let (name, value) = authentication(&credentials(json!({"username": "maxadmin", "password": "pw"}))).unwrap();
        assert_eq!((name, value.to_str().unwrap()), ("maxauth", "bWF4YWRtaW46cHc="));
        assert!(matches!(authentication(&credentials(json!({"username": "u"}))), Err(ConnectorError::Rejected(_))));
        let err = authentication(&credentials(json!({"apiKey": "bad\nkey"}))).unwrap_err();
        assert!(!err.to_string().contains("bad"), "no secret in error texts");
    }

    #[test]
    fn maximo_errors_map_by_status_and_reason_code() {
        let answer = |status: u16, body: Value| Answer {
            status: StatusCode::from_u16(status).unwrap(),
            headers: Default::default(),
            body: body.to_string().into_bytes(),
        };
        let error = |code: &str, message: &str| error_body(400, code, message);
        let rule = |e: ConnectorError| match e {
            ConnectorError::Rule { code, field, message } => (code, field, message),
            other => panic!("{other:?}"),
        };
        let approved = rule(failure(&answer(400, error("BMXAA4179E", "BMXAA4179E - The PO is approved."))));
        assert_eq!(approved, (ErrorCode::InvalidState, None, "BMXAA4179E - The PO is approved.".into()));
        assert_eq!(rule(failure(&answer(400, error("BMXAA4590E", "Not allowed")))).0, ErrorCode::InvalidState);
        let vendor = rule(failure(&answer(400, error("BMXAA4155E", "Vendor NOPE is not valid."))));
        assert_eq!(
            vendor,
            (ErrorCode::InvalidVendor, Some("vendorKey".into()), "BMXAA4155E - Vendor NOPE is not valid.".into())
        );
        assert_eq!(
            rule(failure(&answer(400, error("BMXAA4195E", "A value is required")))).0,
            ErrorCode::InvalidRequest
        );
        assert_eq!(rule(failure(&answer(400, error("BMXAA0001E", "other")))).0, ErrorCode::InvalidRequest);
        assert_eq!(
            failure(&answer(401, error("BMXAA0021E", "User name and password combination are not valid."))),
            ConnectorError::Rejected("BMXAA0021E - User name and password combination are not valid.".into())
        );
        // 403: Maximo knows the user, whose security group lacks the application's rights.
        assert_eq!(
            failure(&answer(403, error("BMXAA9051E", "You are not authorized to view the management data."))),
            ConnectorError::Forbidden("BMXAA9051E - You are not authorized to view the management data.".into())
        );
        assert_eq!(failure(&answer(404, json!({}))), ConnectorError::NotFound);
        assert_eq!(
            failure(&answer(409, error("BMXAA8229W", "BMXAA8229W - updated by another user"))),
            ConnectorError::Upstream("HTTP 409: BMXAA8229W - updated by another user".into())
        );
        let html = Answer { status: StatusCode::BAD_GATEWAY, headers: Default::default(), body: b"<html>".to_vec() };
        assert_eq!(failure(&html), ConnectorError::Upstream("HTTP 502: Bad Gateway".into()));
    }

    #[test]
    fn capabilities_declare_what_maximo_does() {
        let caps = capabilities();
        let po = caps.of(Entity::PurchaseOrders);
        assert!(po.operations.contains(&Operation::ChangeStatus) && !po.operations.contains(&Operation::Delete));
        let approved = serde_json::json!({"statusKey": "approved"}).as_object().cloned().unwrap();
        let title = serde_json::json!({"title": "x"}).as_object().cloned().unwrap();
        assert_eq!(po.check_update(&title, &approved).unwrap_err().code, ErrorCode::InvalidState);
        assert!(po.check_status(&approved, "in_progress").is_ok());
        let wo = caps.of(Entity::WorkOrders);
        let completed = serde_json::json!({"statusKey": "completed"}).as_object().cloned().unwrap();
        assert!(wo.check_status(&completed, "closed").is_ok() && wo.check_update(&title, &completed).is_ok());
        assert_eq!(caps.of(Entity::Vendors).statuses.iter().map(|s| s.key).collect::<Vec<_>>(), ["active", "blocked"]);
        assert_eq!(caps.of(Entity::Assets).operations, [Operation::List, Operation::Get]);
        assert!(caps.of(Entity::Materials).operations.is_empty() && caps.of(Entity::Sites).operations.is_empty());
    }

    #[tokio::test]
    async fn changes_page_on_from_the_last_change_read_not_by_page_number() {
        let member = |base: &str, key: &str, status: &str, changed: &str| {
            let mut m = po_member(base, key, status);
            m["changedate"] = json!(changed);
            m
        };
        let (base, done) = serve(|base| {
            let more = json!({"nextPage": {"href": format!("{base}/api/os/mxapipo?pageno=2")}});
            vec![
                ok(json!({"member": [member(base, "_MTAyMQ--", "WAPPR", "2026-11-30T10:00:06+00:00"),
                                     member(base, "_MTAyMi8wL0JFREZPUkQ-", "WAPPR", "2026-11-30T10:00:07+00:00")],
                    "responseInfo": more})),
                // Asked from 10:00:07 on: the record of that second already read comes again.
                ok(json!({"member": [member(base, "_MTAyMi8wL0JFREZPUkQ-", "WAPPR", "2026-11-30T10:00:07+00:00"),
                                     member(base, "_MTAyMy8wL0JFREZPUkQ-", "APPR", "2026-11-30T10:00:09+00:00")],
                        "responseInfo": {}})),
            ]
        });
        let since = "2026-11-30T10:00:05.750Z".parse().unwrap();
        let maximo = maximo();
        let first = maximo.changes(&api_key(&base), Entity::PurchaseOrders, Some(since), None).await.unwrap();
        assert_eq!(first.records.len(), 2);
        assert_eq!(first.records[1]["statusKey"], "pending_approval");
        let cursor = first.next.unwrap();
        assert_eq!(cursor, "2026-11-30T10:00:07+00:00 1 _MTAyMi8wL0JFREZPUkQ-");
        let second = maximo.changes(&api_key(&base), Entity::PurchaseOrders, Some(since), Some(&cursor)).await.unwrap();
        let keys: Vec<_> = second.records.iter().map(|r| r["key"].as_str().unwrap()).collect();
        assert_eq!((keys, second.next), (vec!["_MTAyMy8wL0JFREZPUkQ-"], None), "the one read before is not again");

        let requests = done.join().unwrap();
        assert_eq!(
            request_line(&requests[0]),
            "GET /maximo/api/os/mxapipo?lean=1&oslc.select=*&oslc.pageSize=100&oslc.orderBy=+changedate\
             &oslc.where=changedate>=\"2026-11-30T10:00:05+00:00\" HTTP/1.1"
        );
        assert_eq!(
            request_line(&requests[1]),
            "GET /maximo/api/os/mxapipo?lean=1&oslc.select=*&oslc.pageSize=100&oslc.orderBy=+changedate\
             &oslc.where=changedate>=\"2026-11-30T10:00:07+00:00\" HTTP/1.1"
        );
        for request in &requests {
            assert!(request.contains("apikey: secret-key\r\n") && request.contains("accept: application/json\r\n"));
        }
    }

    #[test]
    fn a_second_fuller_than_a_page_is_read_on_by_page_number() {
        let at = |t: &str| -> DateTime<Utc> { t.parse().unwrap() };
        let read = |keys: &[&str], t: &str| -> Vec<(DateTime<Utc>, String, Record)> {
            keys.iter().map(|k| (at(t), (*k).to_owned(), Record::new())).collect()
        };
        let after = After::parse("2026-11-30T10:00:07+00:00 1 _A").unwrap();
        let next = After::following(
            Some(&after),
            Some(after.from),
            at("2026-11-30T10:00:07Z"),
            &read(&["_A", "_B"], "2026-11-30T10:00:07Z"),
        );
        assert_eq!(next.to_string(), "2026-11-30T10:00:07+00:00 2 _A,_B");
        let on = After::following(
            Some(&next),
            Some(next.from),
            at("2026-11-30T10:00:08Z"),
            &read(&["_C"], "2026-11-30T10:00:08Z"),
        );
        assert_eq!(on.to_string(), "2026-11-30T10:00:08+00:00 1 _C");
        for foreign in [
            "http://evil.example/maximo/api/os/mxapivendor",
            "2026-11-30T10:00:07+00:00 0 _A",
            "2026-11-30T10:00:07+00:00 1 ../x",
        ] {
            assert!(After::parse(foreign).is_err(), "{foreign}");
        }
    }

    #[tokio::test]
    async fn get_reads_one_record_and_404_is_none() {
        let (base, done) = serve(|base| {
            vec![
                ok(po_member(base, "_MTAyMi8wL0JFREZPUkQ-", "INPRG")),
                maximo_error(404, "BMXAA8727E", "BMXAA8727E - The record does not exist."),
            ]
        });
        let credentials = credentials(json!({"baseUrl": base, "username": "maxadmin", "password": "pw"}));
        let found = maximo().get(&credentials, Entity::PurchaseOrders, "_MTAyMi8wL0JFREZPUkQ-").await.unwrap().unwrap();
        assert_eq!(found["statusKey"], "in_progress");
        assert_eq!(maximo().get(&credentials, Entity::PurchaseOrders, "_MTAyOS8wL0JFREZPUkQ-").await.unwrap(), None);
        // A key that is no record id never reaches Maximo.
        assert_eq!(maximo().get(&credentials, Entity::PurchaseOrders, "../mxapiasset").await.unwrap(), None);
        assert_eq!(maximo().get(&credentials, Entity::Sites, "_x").await, Err(ConnectorError::Unsupported));
        let requests = done.join().unwrap();
        assert_eq!(
            request_line(&requests[0]),
            "GET /maximo/api/os/mxapipo/_MTAyMi8wL0JFREZPUkQ-?lean=1&oslc.select=* HTTP/1.1"
        );
        assert!(requests[0].contains("maxauth: bWF4YWRtaW46cHc=\r\n") && !requests[0].contains("apikey"));
    }

    #[tokio::test]
    async fn writes_send_maximo_bodies_and_headers() {
        let key = "_MTAyMi8wL0JFREZPUkQ-";
        let (base, done) = serve(|base| {
            vec![
                (201, Vec::new(), po_member(base, key, "WAPPR").to_string()),
                ok(po_member(base, key, "WAPPR")),
                // The status action answers nothing: the record is read again.
                (200, Vec::new(), String::new()),
                ok(po_member(base, key, "APPR")),
                maximo_error(400, "BMXAA4179E", "BMXAA4179E - PO 1022 is approved; revise it."),
                maximo_error(412, "BMXAA8229W", "Record MXAPIPO has been updated by another user."),
            ]
        });
        let credentials = api_key(&base);
        let maximo = maximo();
        let line = json!({"materialKey": "900810", "quantity": "3"});
        let order = json!({"vendorKey": "KENNEDY", "siteKey": "BEDFORD", "lineItems": [line]});
        let created =
            maximo.create(&credentials, Entity::PurchaseOrders, order.as_object().unwrap(), None).await.unwrap();
        assert_eq!((created["key"].as_str(), created["statusKey"].as_str()), (Some(key), Some("pending_approval")));
        let patch = json!({"title": "Seals", "dueAt": "2026-12-10T08:00:00Z"});
        let patch = patch.as_object().unwrap();
        // Changes are based on the record as read: its _rowstamp ("1") goes out as If-Match.
        maximo.update(&credentials, Entity::PurchaseOrders, &created, patch).await.unwrap();
        let approved = maximo.change_status(&credentials, Entity::PurchaseOrders, &created, "approved").await.unwrap();
        assert_eq!(approved["statusKey"], "approved");
        let refused = maximo.update(&credentials, Entity::PurchaseOrders, &approved, patch).await.unwrap_err();
        assert!(matches!(refused, ConnectorError::Rule { code: ErrorCode::InvalidState, .. }));
        let stale = maximo.update(&credentials, Entity::PurchaseOrders, &approved, patch).await.unwrap_err();
        assert!(matches!(stale, ConnectorError::Rule { code: ErrorCode::Conflict, .. }), "{stale:?}");
        let mut unkeyed = created.clone();
        unkeyed.insert("key".into(), json!("1022"));
        assert_eq!(
            maximo.update(&credentials, Entity::PurchaseOrders, &unkeyed, patch).await,
            Err(ConnectorError::NotFound)
        );
        assert_eq!(
            maximo.create(&credentials, Entity::Assets, &Record::new(), None).await,
            Err(ConnectorError::Unsupported)
        );

        let requests = done.join().unwrap();
        assert_eq!(request_line(&requests[0]), "POST /maximo/api/os/mxapipo?lean=1 HTTP/1.1");
        assert!(requests[0].contains("properties: *\r\n") && !requests[0].contains("x-method-override"));
        assert_eq!(
            body_of(&requests[0]),
            json!({"vendor": "KENNEDY", "siteid": "BEDFORD", "poline": [{"itemnum": "900810", "orderqty": 3}]})
        );
        assert_eq!(request_line(&requests[1]), format!("POST /maximo/api/os/mxapipo/{key}?lean=1 HTTP/1.1"));
        for header in ["x-method-override: PATCH", "patchtype: MERGE", "properties: *", "if-match: 1"] {
            assert!(requests[1].contains(&format!("{header}\r\n")), "{header}");
        }
        assert_eq!(body_of(&requests[1]), json!({"description": "Seals", "requireddate": "2026-12-10T08:00:00+00:00"}));
        assert_eq!(
            request_line(&requests[2]),
            format!("POST /maximo/api/os/mxapipo/{key}?action=wsmethod:changeStatus&lean=1 HTTP/1.1")
        );
        assert!(requests[2].contains("x-method-override: PATCH\r\n") && !requests[2].contains("patchtype"));
        assert!(requests[2].contains("if-match: 1\r\n"));
        assert_eq!(body_of(&requests[2]), json!({"status": "APPR", "memo": "Changed through Millwright"}));
        assert_eq!(
            request_line(&requests[3]),
            format!("GET /maximo/api/os/mxapipo/{key}?lean=1&oslc.select=* HTTP/1.1")
        );
    }

    #[tokio::test]
    async fn a_create_answered_without_a_body_is_read_from_its_location() {
        let key = "_QkVERk9SRC8xMjAw";
        let (base, done) = serve(|base| {
            let location = format!("{base}/api/os/mxapiwodetail/{key}");
            let member = json!({"href": location, "wonum": "1200", "description": "Replace seal", "status": "WAPPR",
                "siteid": "BEDFORD", "wopriority": 2, "changedate": "2026-11-30T10:00:00+00:00"});
            vec![(201, vec![("location", location)], String::new()), ok(member)]
        });
        let order = json!({"title": "Replace seal", "siteKey": "BEDFORD", "severity": "2"});
        let created =
            maximo().create(&api_key(&base), Entity::WorkOrders, order.as_object().unwrap(), None).await.unwrap();
        assert_eq!((created["key"].as_str(), created["severity"].as_str()), (Some(key), Some("2")));
        let requests = done.join().unwrap();
        assert_eq!(body_of(&requests[0]), json!({"description": "Replace seal", "siteid": "BEDFORD", "wopriority": 2}));
        assert_eq!(
            request_line(&requests[1]),
            format!("GET /maximo/api/os/mxapiwodetail/{key}?lean=1&oslc.select=* HTTP/1.1")
        );
    }

    #[tokio::test]
    async fn verify_asks_for_one_asset_and_reports_refusals() {
        let (base, done) = serve(|_| {
            vec![
                ok(json!({"member": [], "responseInfo": {}})),
                maximo_error(401, "BMXAA7901E", "BMXAA7901E - You cannot log in at this time."),
            ]
        });
        assert_eq!(maximo().verify(&api_key(&base)).await, Ok(()));
        assert_eq!(
            maximo().verify(&api_key(&base)).await,
            Err(ConnectorError::Rejected("BMXAA7901E - You cannot log in at this time.".into()))
        );
        assert!(matches!(
            maximo().verify(&credentials(json!({"baseUrl": base}))).await,
            Err(ConnectorError::Rejected(_))
        ));
        let requests = done.join().unwrap();
        assert_eq!(
            request_line(&requests[0]),
            "GET /maximo/api/os/mxapiasset?lean=1&oslc.select=assetnum&oslc.pageSize=1 HTTP/1.1"
        );
    }
}
