//! The two places that name the API's routes agree: the OpenAPI document (what users read) and
//! infra/template.yaml (what API Gateway routes, deployed and locally: the local gateway reads
//! its routes from the template). Every documented operation reaches a function, and every route
//! is documented.

use serde_yaml::Value;
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// (method, path pattern, function) of every HttpApi event in the template.
fn template_routes() -> Vec<(String, String, String)> {
    let t: Value = serde_yaml::from_str(&read("infra/template.yaml")).unwrap();
    let mut out = Vec::new();
    for (id, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id:?}"));
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                out.push((p["Method"].as_str().unwrap().into(), p["Path"].as_str().unwrap().into(), binary.into()));
            }
        }
    }
    out
}

/// How specifically a pattern matches a path, API Gateway style (static segments win, from the
/// left); `None` when it does not match.
fn specificity(pattern: &str, path: &str) -> Option<Vec<bool>> {
    let (p, q): (Vec<_>, Vec<_>) = (pattern.split('/').collect(), path.split('/').collect());
    if p.len() != q.len() {
        return None;
    }
    p.iter().zip(&q).map(|(a, b)| if a.starts_with('{') { Some(false) } else { (a == b).then_some(true) }).collect()
}

#[test]
fn openapi_and_template_name_the_same_routes() {
    let routes = template_routes();
    let doc: serde_json::Value = serde_json::from_str(&read("docs/openapi.json")).unwrap();
    let mut used = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys().filter(|m| *m != "parameters") {
            let method = method.to_uppercase();
            let best = routes
                .iter()
                .filter(|(m, _, _)| *m == method)
                .filter_map(|r| specificity(&r.1, path).map(|s| (s, r)))
                .max_by(|a, b| a.0.cmp(&b.0))
                .unwrap_or_else(|| panic!("{method} {path} is documented but no route reaches it"));
            used.insert(best.1.clone());
        }
    }
    // $default takes what no other route does: the structured 404 of what is not documented.
    // The pages (the hosted connect page, the dashboard) are HTML for people, not the API.
    let pages = |path: &str| path.starts_with("/connect/") || path == "/dashboard" || path.starts_with("/dashboard/");
    for route in routes.iter().filter(|r| r.1 != "$default" && !pages(&r.1)) {
        assert!(used.contains(route), "{route:?} is routed but not documented");
    }
    assert!(routes.iter().any(|r| r.1 == "$default"), "a $default route answers what no route takes");
    let served = routes.iter().filter(|r| pages(&r.1)).map(|r| r.2.as_str()).collect::<BTreeSet<_>>();
    assert_eq!(served, BTreeSet::from(["dashboard"]), "the pages are the dashboard function's alone");
}
