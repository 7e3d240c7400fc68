//! The three places that name the API's routes agree: the OpenAPI document (what users read),
//! infra/template.yaml (what API Gateway routes) and the emulator router in Cargo.toml (what the
//! local stack routes).

use serde_yaml::Value;
use std::collections::BTreeSet;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// (method, path) of every HttpApi event in the template, with the function it reaches.
fn template_routes() -> BTreeSet<(String, String, String)> {
    let t: Value = serde_yaml::from_str(&read("infra/template.yaml")).unwrap();
    let mut out = BTreeSet::new();
    for (id, resource) in t["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let binary = resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_else(|| panic!("{id:?}"));
        for (_, event) in resource["Properties"]["Events"].as_mapping().into_iter().flatten() {
            if event["Type"] == "HttpApi" {
                let p = &event["Properties"];
                out.insert((
                    p["Method"].as_str().unwrap().to_owned(),
                    p["Path"].as_str().unwrap().to_owned(),
                    binary.to_owned(),
                ));
            }
        }
    }
    out
}

#[test]
fn openapi_template_and_local_router_name_the_same_routes() {
    let routes = template_routes();
    assert!(!routes.is_empty());

    let openapi: Value = serde_yaml::from_str(&read("openapi.yaml")).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in openapi["paths"].as_mapping().unwrap() {
        for (method, _) in item.as_mapping().unwrap() {
            let method = method.as_str().unwrap();
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.as_str().unwrap().to_owned()));
            }
        }
    }
    let deployed: BTreeSet<_> = routes.iter().map(|(m, p, _)| (m.clone(), p.clone())).collect();
    assert_eq!(documented, deployed, "openapi.yaml and infra/template.yaml differ");

    let cargo: toml::Table = toml::from_str(&read("Cargo.toml")).unwrap();
    let router = cargo["workspace"]["metadata"]["lambda"]["watch"]["router"].as_table().unwrap();
    let local: BTreeSet<_> = router.iter().map(|(p, f)| (p.clone(), f.as_str().unwrap().to_owned())).collect();
    let expected: BTreeSet<_> = routes.iter().map(|(_, p, f)| (p.clone(), f.clone())).collect();
    assert_eq!(local, expected, "the emulator router and infra/template.yaml differ");
}
