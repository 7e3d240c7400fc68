//! The SOAP 1.1 of `GetData`: the request envelope, written by an XML writer that escapes every
//! value (a password may hold `<`, `&` or `]]>`), and the answer read back — the rows of the
//! result string (an escaped `NewDataSet` document, or JSON), or the fault, or what else came
//! instead (an HTML error page, a cut-off envelope, an error message in place of rows).

use quick_xml::{Writer, events::BytesText};
use serde_json::{Map, Value};

use crate::assumed::{FIELDS, GET_DATA, NAMESPACE, RESULT};

/// SOAP 1.1's envelope namespace.
const ENVELOPE: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The longest text of the system's passed on in an error.
const MAX_TEXT: usize = 300;

/// One row of an object: column → value (text from XML rows; JSON rows keep their types).
pub type Row = Map<String, Value>;

/// What `GetData` is asked.
pub struct Request<'a> {
    /// The web-service user.
    pub user: &'a str,
    /// Its password.
    pub password: &'a str,
    /// The view or stored procedure.
    pub object: &'a str,
    /// `View` or `StoredProcedure`.
    pub kind: &'a str,
    /// The encoded parameters (empty for none).
    pub parameters: &'a str,
}

/// The request envelope.
pub fn envelope(request: &Request<'_>) -> Vec<u8> {
    let fields = [
        (FIELDS.user, request.user),
        (FIELDS.password, request.password),
        (FIELDS.object, request.object),
        (FIELDS.kind, request.kind),
        (FIELDS.parameters, request.parameters),
    ];
    let mut writer = Writer::new(Vec::new());
    writer
        .create_element("s:Envelope")
        .with_attribute(("xmlns:s", ENVELOPE))
        .write_inner_content(|w| {
            w.create_element("s:Body").write_inner_content(|w| {
                w.create_element(GET_DATA).with_attribute(("xmlns", NAMESPACE)).write_inner_content(|w| {
                    for (name, value) in fields {
                        w.create_element(name).write_text_content(BytesText::new(value))?;
                    }
                    Ok(())
                })?;
                Ok(())
            })?;
            Ok(())
        })
        .expect("writing to memory cannot fail");
    writer.into_inner()
}

/// What an answer held.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// The object's rows.
    Rows(Vec<Row>),
    /// A SOAP fault: the local name of its code (`Client`, `InternalServiceFault`, …) and text.
    Fault {
        /// `faultcode` without its prefix.
        code: String,
        /// `faultstring`.
        text: String,
    },
    /// Not a SOAP answer this connector can read; why.
    Unreadable(String),
    /// A result that is neither rows nor empty: an error message in place of rows.
    Message(String),
}

/// The first `MAX_TEXT` characters of a text, on one line.
pub fn clip(text: &str) -> String {
    let line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_TEXT) {
        Some((at, _)) => format!("{}…", &line[..at]),
        None => line,
    }
}

/// All the text under a node (a value may come in several text and CDATA pieces).
fn text_of(node: roxmltree::Node<'_, '_>) -> String {
    node.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect()
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.is_element() && n.tag_name().name().eq_ignore_ascii_case(name))
}

/// Reads an answer's body, whatever its status.
pub fn reply(body: &[u8]) -> Reply {
    let Ok(text) = std::str::from_utf8(body) else { return Reply::Unreadable("the answer is not UTF-8 text".into()) };
    if text.trim().is_empty() {
        return Reply::Unreadable("the answer is empty".into());
    }
    let document = match roxmltree::Document::parse(text) {
        Ok(document) => document,
        Err(_) if looks_like_html(text) => return Reply::Unreadable("the answer is an HTML page, not SOAP".into()),
        Err(e) if text.trim_start().starts_with('<') => {
            return Reply::Unreadable(format!("the answer is not well-formed XML ({e})"));
        }
        Err(_) => return Reply::Unreadable(format!("the answer is not SOAP but: {}", clip(text))),
    };
    let root = document.root_element();
    let soap = |n: roxmltree::Node<'_, '_>, name: &str| {
        n.tag_name().namespace() == Some(ENVELOPE) && n.tag_name().name() == name
    };
    if !soap(root, "Envelope") {
        return Reply::Unreadable(format!("the answer is not a SOAP envelope but <{}>", root.tag_name().name()));
    }
    let Some(body) = root.children().find(|n| soap(*n, "Body")) else {
        return Reply::Unreadable("the envelope has no Body".into());
    };
    let Some(first) = body.children().find(roxmltree::Node::is_element) else {
        return Reply::Unreadable("the envelope's Body is empty".into());
    };
    if soap(first, "Fault") {
        let code = child(first, "faultcode").map(text_of).unwrap_or_default();
        let code = code.trim().rsplit(':').next().unwrap_or_default().to_owned();
        let text = child(first, "faultstring").map(text_of).unwrap_or_default();
        return Reply::Fault { code, text: clip(&text) };
    }
    let result = (first.tag_name().name() == RESULT.0).then(|| child(first, RESULT.1)).flatten();
    let Some(result) = result else {
        return Reply::Unreadable(format!("the Body holds <{}>, not {}", first.tag_name().name(), RESULT.0));
    };
    rows(&text_of(result))
}

/// The rows of a result string: sniffed by its first character, as the dossier advises.
pub fn rows(result: &str) -> Reply {
    let trimmed = result.trim();
    match trimmed.chars().next() {
        None => Reply::Rows(Vec::new()),
        Some('<') => xml_rows(trimmed),
        Some('[' | '{') => json_rows(trimmed),
        Some(_) => Reply::Message(clip(trimmed)),
    }
}

/// `<NewDataSet><Table><Column>value</Column>…</Table>…</NewDataSet>`: a column left out is NULL.
fn xml_rows(text: &str) -> Reply {
    let document = match roxmltree::Document::parse(text) {
        Ok(document) => document,
        Err(e) => return Reply::Unreadable(format!("the rows are not well-formed XML ({e})")),
    };
    let rows = document
        .root_element()
        .children()
        .filter(roxmltree::Node::is_element)
        .map(|table| {
            table
                .children()
                .filter(roxmltree::Node::is_element)
                .map(|cell| (cell.tag_name().name().to_owned(), Value::String(text_of(cell))))
                .collect()
        })
        .collect();
    Reply::Rows(rows)
}

/// A JSON array of row objects, or an object holding one (`{"Table": […]}`).
fn json_rows(text: &str) -> Reply {
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(e) => return Reply::Unreadable(format!("the rows are not JSON ({e})")),
    };
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut object) if object.len() == 1 => match object.values_mut().next().map(Value::take) {
            Some(Value::Array(list)) => list,
            _ => return Reply::Unreadable("the JSON rows are not an array".into()),
        },
        _ => return Reply::Unreadable("the JSON rows are not an array".into()),
    };
    let rows: Option<Vec<Row>> = list
        .into_iter()
        .map(|row| match row {
            Value::Object(row) => Some(row.into_iter().filter(|(_, v)| !v.is_null()).collect()),
            _ => None,
        })
        .collect();
    rows.map_or_else(|| Reply::Unreadable("a JSON row is not an object".into()), Reply::Rows)
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text.chars().take(200).collect::<String>().to_ascii_lowercase();
    head.contains("<!doctype html") || head.contains("<html")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_value_is_escaped_and_the_password_comes_back_whole() {
        let password = "Mw<Demo&Pass]]>1";
        let request = Request { user: "svc", password, object: "vw_WS_Sites", kind: "View", parameters: "@A=1" };
        let sent = String::from_utf8(envelope(&request)).unwrap();
        assert!(!sent.contains(password) && sent.contains("Mw&lt;Demo&amp;Pass]]&gt;1"), "{sent}");
        let document = roxmltree::Document::parse(&sent).unwrap();
        let read = document.descendants().find(|n| n.has_tag_name((NAMESPACE, "password"))).unwrap();
        assert_eq!(text_of(read), password);
    }

    #[test]
    fn rows_come_from_xml_or_json_and_nulls_are_absent() {
        let xml = "<NewDataSet>\n  <Table>\n    <SiteID>1</SiteID>\n    <SiteName>A &amp; B</SiteName>\n  </Table>\n</NewDataSet>";
        assert_eq!(
            rows(xml),
            Reply::Rows(vec![json!({"SiteID": "1", "SiteName": "A & B"}).as_object().unwrap().clone()])
        );
        assert_eq!(rows("<NewDataSet />"), Reply::Rows(Vec::new()));
        let json = r#"[{"SiteID":1,"City":null}]"#;
        assert_eq!(rows(json), Reply::Rows(vec![json!({"SiteID": 1}).as_object().unwrap().clone()]));
        assert_eq!(
            rows(r#"{"Table":[{"SiteID":2}]}"#),
            Reply::Rows(vec![json!({"SiteID": 2}).as_object().unwrap().clone()])
        );
        assert_eq!(rows("Error: Timeout expired."), Reply::Message("Error: Timeout expired.".into()));
        assert!(matches!(rows("<NewDataSet><Table>"), Reply::Unreadable(_)));
    }

    #[test]
    fn what_is_not_a_soap_answer_is_named() {
        let html = b"<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"><HTML><HEAD><TITLE>Service Unavailable</TITLE></HEAD><BODY><h2>Service Unavailable</h2></BODY></HTML>";
        assert_eq!(reply(html), Reply::Unreadable("the answer is an HTML page, not SOAP".into()));
        let cut = format!(
            "<s:Envelope xmlns:s=\"{ENVELOPE}\"><s:Body><GetDataResponse xmlns=\"{NAMESPACE}\"><GetDataResult>&lt;NewData"
        );
        assert!(matches!(reply(cut.as_bytes()), Reply::Unreadable(m) if m.contains("not well-formed")));
        let doctype = "<!DOCTYPE x [<!ENTITY a \"b\">]><x>&a;</x>";
        assert!(matches!(reply(doctype.as_bytes()), Reply::Unreadable(_)), "a DTD is never read");
        assert!(matches!(reply(b"plain words"), Reply::Unreadable(m) if m.contains("plain words")));
    }
}
