//! The FM:Systems connector held to the vendor dossier's example files (`fm-systems` in the
//! vendor folder; skipped where it is absent): the requests it writes are the examples' element
//! for element, the example answers (XML and JSON rows) read into the same unified locations, and
//! the example faults map as they mean.

#[path = "../../vendor_specs.rs"]
mod vendor;

use millwright::connectors::ConnectorError;
use millwright_fm_systems::{
    assumed::{self, PROCEDURE, VIEW},
    mapping::{self, Level, Places},
    service::outcome,
    soap::{self, Request},
};
use millwright_outbound::upstream::Answer;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn example(file: &str) -> String {
    let path = vendor::folder("fm-systems").join("examples").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every element of a document in order: namespace, local name and its own text, trimmed.
fn elements(xml: &str) -> Vec<(String, String, String)> {
    let document = roxmltree::Document::parse(xml).unwrap();
    document
        .descendants()
        .filter(|n| n.is_element() && n.tag_name().name() != "Header")
        .map(|n| {
            let own: String = n.children().filter(|c| c.is_text()).filter_map(|c| c.text()).collect();
            (
                n.tag_name().namespace().unwrap_or_default().to_owned(),
                n.tag_name().name().to_owned(),
                own.trim().to_owned(),
            )
        })
        .collect()
}

fn answer(status: u16, body: String) -> Answer {
    Answer { status: StatusCode::from_u16(status).unwrap(), headers: Default::default(), body: body.into_bytes() }
}

#[test]
fn requests_are_the_examples_element_for_element() {
    if !vendor::present("fm-systems") {
        return;
    }
    let parameters = assumed::parameters(&[("BuildingCode", "HQ1".into()), ("FloorCode", "03".into())]);
    let view = Request {
        user: "svc_integration",
        password: "example-password",
        object: "vw_WS_Spaces",
        kind: VIEW,
        parameters: &parameters,
    };
    let sent = String::from_utf8(soap::envelope(&view)).unwrap();
    assert_eq!(elements(&sent), elements(&example("getdata-request.soap11.xml")));

    // The procedure example gives its argument as JSON; the connector's encoding says the same.
    let since = assumed::since("2024-08-01T00:00:00Z".parse().unwrap());
    let parameters = assumed::parameters(&[("Since", since)]);
    let procedure =
        Request { object: "sp_WS_GetWorkOrdersModifiedSince", kind: PROCEDURE, parameters: &parameters, ..view };
    let sent = elements(&String::from_utf8(soap::envelope(&procedure)).unwrap());
    let expected = elements(&example("getdata-request.storedproc.soap11.xml"));
    let (sent_parameters, expected_parameters) = (&sent.last().unwrap().2, &expected.last().unwrap().2);
    assert_eq!(sent[..sent.len() - 1], expected[..expected.len() - 1]);
    let decoded: serde_json::Map<String, Value> = sent_parameters
        .split(';')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), percent_encoding::percent_decode_str(value).decode_utf8().unwrap().into_owned().into())
        })
        .collect();
    assert_eq!(Value::Object(decoded), serde_json::from_str::<Value>(expected_parameters).unwrap());
}

#[test]
fn the_example_rows_read_as_the_same_locations_in_xml_and_json() {
    if !vendor::present("fm-systems") {
        return;
    }
    let floors = [json!({"FloorID": "103", "BuildingID": "10", "FloorCode": "03"}).as_object().unwrap().clone()];
    let buildings = [json!({"BuildingID": "10", "SiteID": "1", "BuildingCode": "HQ1"}).as_object().unwrap().clone()];
    let read = |file: &str| {
        let rows = outcome(&answer(200, example(file))).unwrap();
        let places = Places::of(&buildings, &floors, &rows);
        rows.iter()
            .map(|row| {
                let mut record = mapping::location(Level::Room, row, &places).unwrap();
                record.remove("remoteData");
                Value::Object(record)
            })
            .collect::<Vec<_>>()
    };
    let xml = read("getdata-response.soap11.xml");
    assert_eq!(xml, read("getdata-response.json-variant.soap11.xml"));
    let maple = &xml[0];
    for (field, value) in [
        ("key", json!("room-5012")),
        ("code", json!("HQ1-03-0312")),
        ("name", json!("Conference Room Maple")),
        ("type", json!("room")),
        ("parentKey", json!("floor-103")),
        ("siteKey", json!("1")),
        ("area", json!("412.5")),
        ("areaUnit", json!("sqft")),
        ("capacity", json!("12")),
        ("spaceUse", json!("Meeting")),
        ("department", json!("Facilities")),
        ("updatedAt", json!("2024-07-19T11:02:31.000Z")),
    ] {
        assert_eq!(maple[field], value, "{field}: {maple}");
    }
    assert_eq!(maple["customFields"], json!({"SpaceType": "Conference", "IsOccupiable": "true"}));
    assert_eq!(
        (&xml[1]["department"], &xml[1]["area"], &xml[1]["capacity"]),
        (&Value::Null, &json!("240"), &json!("0"))
    );
}

#[test]
fn the_example_faults_map_as_they_mean() {
    if !vendor::present("fm-systems") {
        return;
    }
    assert_eq!(
        outcome(&answer(500, example("fault-invalid-credentials.soap11.xml"))),
        Err(ConnectorError::Rejected("Invalid web service credentials.".into()))
    );
    for (file, code) in [
        ("fault-action-not-supported.soap11.xml", "ActionNotSupported"),
        ("fault-internal-error.soap11.xml", "InternalServiceFault"),
    ] {
        let mapped = outcome(&answer(500, example(file)));
        assert!(matches!(&mapped, Err(ConnectorError::Upstream(m)) if m.contains(code)), "{file}: {mapped:?}");
    }
}
