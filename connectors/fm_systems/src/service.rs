//! One connection's view of an FMInteract Web Service: where it is, the web-service user (whose
//! name and password travel in every request's body: there is no session), the objects its
//! administrator granted, and `GetData` — sent, retried where the fault says trying again can
//! help, and its answer turned into rows or into what its failure means.

use reqwest::{StatusCode, header};
use url::Url;

use millwright::{
    connectors::{ConnectorError, Credentials},
    error::ErrorCode,
};
use millwright_outbound::upstream::{Answer, Replay, Upstream};

use crate::{
    assumed::{
        self, GET_DATA_ACTION, INVALID_CREDENTIALS, NO_PROCEDURE, NOT_AVAILABLE, OBJECTS, SERVICE_PATH, SINCE_PROCEDURE,
    },
    soap::{self, Reply, Request, Row},
};

/// The longest object name taken (SQL Server's identifiers are at most 128 characters, and a
/// name may carry its schema).
const MAX_OBJECT_NAME: usize = 300;

/// One object of the connection: its connection field and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    /// The connection field that names it (`spacesObject`, …).
    pub field: &'static str,
    /// Its name in FM:Systems.
    pub name: String,
}

/// A connection's web service.
pub struct Service<'a> {
    upstream: &'a Upstream,
    url: Url,
    user: String,
    password: String,
    objects: Vec<Object>,
}

/// The service's URL: `baseUrl` as given when it has a path, else with the production path.
fn service_url(credentials: &Credentials) -> Result<Url, ConnectorError> {
    let refused = || ConnectorError::Rule {
        code: ErrorCode::InvalidCredentials,
        message: "must be the web service's address, such as https://acme.fmshosted.com".into(),
        field: Some("credentials.baseUrl".into()),
    };
    let text = credentials.text("baseUrl").ok_or_else(refused)?.trim();
    let mut url = Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.query().is_none())
        .ok_or_else(refused)?;
    if url.path().trim_end_matches('/').is_empty() {
        url.set_path(SERVICE_PATH);
    }
    Ok(url)
}

/// What an answer means: its rows, or the failure.
pub fn outcome(answer: &Answer) -> Result<Vec<Row>, ConnectorError> {
    let status = answer.status;
    match soap::reply(&answer.body) {
        Reply::Rows(rows) if status.is_success() => Ok(rows),
        Reply::Rows(_) => {
            Err(ConnectorError::Upstream(format!("HTTP {}: rows with a failure status", status.as_u16())))
        }
        Reply::Fault { code, text } if is_client(&code) => Err(if text.contains(INVALID_CREDENTIALS) {
            ConnectorError::Rejected(text)
        } else if text.contains(NOT_AVAILABLE) {
            ConnectorError::Forbidden(text)
        } else {
            ConnectorError::Upstream(format!("FM:Systems refused the request: {text}"))
        }),
        Reply::Fault { code, text } => Err(ConnectorError::Upstream(format!("SOAP fault {code}: {text}"))),
        Reply::Message(text) => {
            Err(ConnectorError::Upstream(format!("FM:Systems answered with a message instead of rows: {text}")))
        }
        Reply::Unreadable(why) => Err(ConnectorError::Upstream(format!("HTTP {}: {why}", status.as_u16()))),
    }
}

/// Whether a fault is the caller's (SOAP 1.1 `Client`, SOAP 1.2 `Sender`): asking again will not help.
pub fn is_client(code: &str) -> bool {
    code.eq_ignore_ascii_case("Client") || code.eq_ignore_ascii_case("Sender")
}

/// Whether an answer is worth another attempt: the system busy, a gateway failing, or a fault
/// that is not the caller's.
fn transient(answer: &Answer) -> bool {
    match answer.status {
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::BAD_GATEWAY
        | StatusCode::GATEWAY_TIMEOUT => true,
        StatusCode::INTERNAL_SERVER_ERROR => {
            !matches!(soap::reply(&answer.body), Reply::Fault { code, .. } if is_client(&code))
        }
        _ => false,
    }
}

impl<'a> Service<'a> {
    /// The service of a connection's credentials.
    pub fn new(upstream: &'a Upstream, credentials: &Credentials) -> Result<Self, ConnectorError> {
        let url = service_url(credentials)?;
        let field = |name: &str| {
            // Taken as given: a password may begin or end with a space.
            credentials.0.get(name).and_then(|v| v.as_str()).filter(|v| !v.is_empty()).map(str::to_owned).ok_or_else(
                || ConnectorError::Rule {
                    code: ErrorCode::InvalidCredentials,
                    message: "is required".into(),
                    field: Some(format!("credentials.{name}")),
                },
            )
        };
        let (user, password) = (field("username")?, field("password")?);
        let mut objects = Vec::new();
        for (field, default) in OBJECTS {
            let name = credentials.text(field).map_or(default, str::trim);
            if name.len() > MAX_OBJECT_NAME {
                return Err(ConnectorError::Rule {
                    code: ErrorCode::InvalidCredentials,
                    message: format!("is longer than {MAX_OBJECT_NAME} characters"),
                    field: Some(format!("credentials.{field}")),
                });
            }
            // Only the procedure may be left out: a tenant without one has work orders read whole.
            if field == SINCE_PROCEDURE && name.eq_ignore_ascii_case(NO_PROCEDURE) {
                continue;
            }
            objects.push(Object { field, name: name.to_owned() });
        }
        Ok(Self { upstream, url, user, password, objects })
    }

    /// The object a connection field names; none for a procedure set to `none`.
    pub fn object(&self, field: &str) -> Option<&Object> {
        self.objects.iter().find(|o| o.field == field)
    }

    /// Every object the connection reads.
    pub fn objects(&self) -> impl Iterator<Item = &Object> {
        self.objects.iter()
    }

    /// The rows of an object (`kind` is `View` or `StoredProcedure`) for these parameters.
    pub async fn get_data(
        &self,
        object: &Object,
        kind: &str,
        parameters: &[(&str, String)],
    ) -> Result<Vec<Row>, ConnectorError> {
        outcome(&self.send(object, kind, parameters).await?)
    }

    /// Sends `GetData`; answers the last answer, whatever it holds.
    pub async fn send(
        &self,
        object: &Object,
        kind: &str,
        parameters: &[(&str, String)],
    ) -> Result<Answer, ConnectorError> {
        let parameters = assumed::parameters(parameters);
        let body = soap::envelope(&Request {
            user: &self.user,
            password: &self.password,
            object: &object.name,
            kind,
            parameters: &parameters,
        });
        self.upstream
            .send_judged(
                Replay::Safe,
                || {
                    self.upstream
                        .client()
                        .post(self.url.clone())
                        .header(header::CONTENT_TYPE, "text/xml; charset=utf-8")
                        .header("SOAPAction", format!("\"{GET_DATA_ACTION}\""))
                        .body(body.clone())
                },
                transient,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn credentials(v: Value) -> Credentials {
        Credentials(v.as_object().cloned().unwrap())
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status: StatusCode::from_u16(status).unwrap(), headers: Default::default(), body: body.into() }
    }

    fn fault(code: &str, text: &str) -> String {
        format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:{code}</faultcode><faultstring xml:lang="en-US">{text}</faultstring></s:Fault></s:Body></s:Envelope>"#
        )
    }

    #[test]
    fn the_address_gets_the_production_path_unless_it_has_one() {
        let url = |base: &str| service_url(&credentials(json!({"baseUrl": base}))).map(|u| u.to_string());
        assert_eq!(
            url("https://acme.fmshosted.com").unwrap(),
            "https://acme.fmshosted.com/FMIWebService/FMInteractWebService.svc"
        );
        let test = "https://acme.fmshosted.com/TST_FMIWebservices/FMInteractWebService.svc";
        assert_eq!(url(test).unwrap(), test);
        assert!(url("ftp://acme").is_err() && url("https://acme.fmshosted.com/?x=1").is_err());
    }

    #[test]
    fn faults_map_to_what_they_mean() {
        let bad = answer(500, &fault("Client", "Invalid web service credentials."));
        assert_eq!(outcome(&bad), Err(ConnectorError::Rejected("Invalid web service credentials.".into())));
        assert!(!transient(&bad), "a caller's fault is not asked again");
        let hidden = "Object 'vw_X' was not found or is not available to this web service user.";
        assert_eq!(outcome(&answer(500, &fault("Client", hidden))), Err(ConnectorError::Forbidden(hidden.into())));
        let other = outcome(&answer(500, &fault("Client", "Unknown parameter '@X' for 'vw_X'.")));
        assert_eq!(
            other,
            Err(ConnectorError::Upstream("FM:Systems refused the request: Unknown parameter '@X' for 'vw_X'.".into()))
        );
        let internal = answer(500, &fault("InternalServiceFault", "The server was unable to process the request."));
        assert!(
            transient(&internal)
                && matches!(outcome(&internal), Err(ConnectorError::Upstream(m)) if m.contains("InternalServiceFault"))
        );
        assert!(
            matches!(outcome(&answer(503, "<html><body>HTTP Error 503</body></html>")), Err(ConnectorError::Upstream(m)) if m.starts_with("HTTP 503"))
        );
    }

    #[test]
    fn object_names_default_to_the_dossiers_and_none_turns_the_procedure_off() {
        let upstream = Upstream::new(Default::default());
        let base = json!({"baseUrl": "https://acme.fmshosted.com", "username": "u", "password": " p "});
        let service = Service::new(&upstream, &credentials(base.clone())).unwrap();
        assert_eq!(service.password, " p ", "a password is taken as given");
        assert_eq!(service.object("spacesObject").unwrap().name, "vw_WS_Spaces");
        let mut named = base;
        named["spacesObject"] = json!("dbo.vw_Rooms");
        named["workOrdersSinceProcedure"] = json!("none");
        let service = Service::new(&upstream, &credentials(named.clone())).unwrap();
        assert_eq!(service.object("spacesObject").unwrap().name, "dbo.vw_Rooms");
        assert!(service.object("workOrdersSinceProcedure").is_none() && service.objects().count() == 6);
        named["sitesObject"] = json!("none");
        let service = Service::new(&upstream, &credentials(named)).unwrap();
        assert_eq!(service.object("sitesObject").unwrap().name, "none", "only the procedure can be left out");
        let missing = Service::new(&upstream, &credentials(json!({"baseUrl": "https://a.example", "username": "u"})));
        assert!(
            matches!(missing.err(), Some(ConnectorError::Rule { field: Some(f), .. }) if f == "credentials.password")
        );
    }
}
