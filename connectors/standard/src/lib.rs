//! The connectors that ship, in one place: a new system's connector is added here once, and
//! every function that serves systems gets it.

use std::sync::Arc;

use millwright::{catalog::SANDBOX, connectors::Connectors, webhooks::AddressPolicy};
use millwright_fm_systems::FmSystems;
use millwright_maximo::Maximo;
use millwright_netsuite::NetSuite;
use millwright_outbound::upstream::Upstream;
use millwright_sandbox::Sandbox;
use millwright_sap::{Flavour, Sap};
use millwright_upkeep::UpKeep;

/// The connectors that ship: the sandbox, SAP S/4HANA, SAP ECC, IBM Maximo, NetSuite, FM:Systems
/// and UpKeep, the real ones sharing one HTTP client under the address rules.
pub fn standard(addresses: AddressPolicy) -> Connectors {
    let upstream = Upstream::new(addresses);
    Connectors::default()
        .with(SANDBOX, Arc::new(Sandbox))
        .with("sap_s4hana", Arc::new(Sap::new(upstream.clone(), Flavour::S4Hana)))
        .with("sap_ecc", Arc::new(Sap::new(upstream.clone(), Flavour::Ecc)))
        .with("ibm_maximo", Arc::new(Maximo::new(upstream.clone())))
        .with("netsuite", Arc::new(NetSuite::new(upstream.clone())))
        .with("fm_systems", Arc::new(FmSystems::new(upstream.clone())))
        .with("upkeep", Arc::new(UpKeep::new(upstream)))
}

/// What the shipped connectors support, without the connectors: for functions that check a
/// request against a system's capabilities but never call the system.
pub fn described() -> Connectors {
    Connectors::default()
        .describing(SANDBOX, millwright_sandbox::capabilities)
        .describing("sap_s4hana", millwright_sap::capabilities)
        .describing("sap_ecc", millwright_sap::capabilities)
        .describing("ibm_maximo", millwright_maximo::capabilities)
        .describing("netsuite", millwright_netsuite::capabilities)
        .describing("fm_systems", millwright_fm_systems::capabilities)
        .describing("upkeep", millwright_upkeep::capabilities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use millwright::{capabilities::Operation, catalog::offerings};

    #[test]
    fn offerings_show_what_each_connector_lists_and_mark_the_rest_unavailable() {
        let offerings = offerings(&standard(Default::default()));
        let of = |id: &str| offerings.iter().find(|o| o.system.id == id).unwrap();
        let maximo = of("ibm_maximo");
        let listable = millwright_maximo::capabilities().listable();
        let offered: Vec<_> =
            maximo.entities.iter().filter(|e| e.operations.contains(&Operation::List)).map(|e| e.entity).collect();
        assert!(maximo.available && !listable.is_empty());
        assert_eq!(offered, listable, "the default syncEntities, in the API's order");
        assert!((!of("fiix").available && of("fiix").entities.is_empty()));
    }

    #[test]
    fn the_descriptions_are_what_the_connectors_declare() {
        let (working, described) = (standard(Default::default()), described());
        for system in ["sandbox", "sap_s4hana", "sap_ecc", "ibm_maximo", "netsuite", "fm_systems", "upkeep"] {
            let declared = working.get(system).unwrap().capabilities();
            assert_eq!(described.capabilities(system).as_ref(), Some(&declared), "{system}");
            assert!(described.get(system).is_none(), "no connector: {system}");
        }
        let shown = |c: &Connectors| serde_json::to_value(offerings(c)).unwrap();
        assert_eq!(shown(&working), shown(&described));
    }
}
