//! The system catalogue: which customer systems Millwright connects to, what each costs in credits
//! and which credentials each needs. `GET /v1/systems` renders it with what each system's
//! connector can do, so a user can choose before connecting.

use serde::Serialize;

use crate::{capabilities::Operation, connectors::Connectors, entities::Entity};

/// Where a customer's system runs; on-premises connections cost double their cloud twin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Deployment {
    /// Hosted by the vendor.
    Cloud,
    /// Run by the customer in their own data centre.
    OnPrem,
}

impl Deployment {
    /// The wire name, as used in request bodies and stored items.
    pub fn as_str(self) -> &'static str {
        match self {
            Deployment::Cloud => "cloud",
            Deployment::OnPrem => "on_prem",
        }
    }
}

/// The kind of software a system is; users filter the catalogue by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Computerised maintenance management.
    Cmms,
    /// Enterprise asset management.
    Eam,
    /// Enterprise resource planning.
    Erp,
    /// Facilities management.
    Fm,
}

/// One credential a system needs to connect.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialField {
    /// The key in the `credentials` object of `POST /v1/connections`.
    pub name: &'static str,
    /// Whether a connection attempt without it is refused before the system is asked.
    pub required: bool,
    /// Whether the value is a secret (it is stored in Secrets Manager either way).
    pub secret: bool,
    /// What the value is, for people filling it in.
    pub description: &'static str,
}

/// One deployment a system offers, with what connecting it costs.
#[derive(Debug, Clone, Serialize)]
pub struct DeploymentOffer {
    /// Cloud or on-premises.
    #[serde(rename = "type")]
    pub deployment: Deployment,
    /// Credits taken from the pool while a connection of this kind exists.
    pub credits: u32,
}

/// A connectable system as the catalogue describes it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct System {
    /// Stable identifier used in `POST /v1/connections`.
    pub id: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Kind of software.
    pub category: Category,
    /// Pricing tier: 1, 2 or 3 (the sandbox is 0).
    pub tier: u8,
    /// The deployments offered and their credit cost.
    pub deployments: Vec<DeploymentOffer>,
    /// The credentials a connection needs.
    pub credentials: Vec<CredentialField>,
}

impl System {
    /// The credits a connection of this deployment costs, if the system offers it.
    pub fn credits(&self, deployment: Deployment) -> Option<u32> {
        self.deployments.iter().find(|d| d.deployment == deployment).map(|d| d.credits)
    }

    /// Whether this is the free sample system (its tokens carry the `mw_test_` prefix).
    pub fn is_sandbox(&self) -> bool {
        self.id == SANDBOX
    }
}

/// The sandbox system's id.
pub const SANDBOX: &str = "sandbox";

/// Credits for a cloud connection of a tier: 1 → 1, 2 → 2, 3 → 4; the sandbox (tier 0) is free.
pub fn cloud_credits(tier: u8) -> u32 {
    match tier {
        0 => 0,
        t => 1 << (t - 1),
    }
}

/// Credits for a deployment of a tier: on-premises doubles its cloud twin.
pub fn credits_for(tier: u8, deployment: Deployment) -> u32 {
    match deployment {
        Deployment::Cloud => cloud_credits(tier),
        Deployment::OnPrem => 2 * cloud_credits(tier),
    }
}

const fn field(name: &'static str, required: bool, secret: bool, description: &'static str) -> CredentialField {
    CredentialField { name, required, secret, description }
}

fn system(
    id: &'static str,
    name: &'static str,
    category: Category,
    tier: u8,
    deployments: &[Deployment],
    credentials: Vec<CredentialField>,
) -> System {
    System {
        id,
        name,
        category,
        tier,
        deployments: deployments
            .iter()
            .map(|&deployment| DeploymentOffer { deployment, credits: credits_for(tier, deployment) })
            .collect(),
        credentials,
    }
}

/// Every system Millwright knows, in the order the catalogue lists them.
pub fn systems() -> Vec<System> {
    use Category::*;
    use Deployment::*;
    let base_url = field("baseUrl", true, false, "Root URL of the system's API");
    let username = field("username", true, false, "User the integration signs in as");
    let password = field("password", true, true, "That user's password");
    // SAP needs these on every new purchase order; a create's customFields may name others.
    let sap_po_defaults = [
        field("companyCode", false, false, "Company code of new purchase orders (CompanyCode)"),
        field("purchasingOrganization", false, false, "Purchasing organisation of new purchase orders"),
        field("purchasingGroup", false, false, "Purchasing group of new purchase orders"),
    ];
    vec![
        system(
            SANDBOX,
            "Millwright Sandbox",
            Cmms,
            0,
            &[Cloud],
            vec![field(
                "apiKey",
                true,
                true,
                "Any value but \"invalid\", which the sandbox rejects like a real system",
            )],
        ),
        system(
            "sap_s4hana",
            "SAP S/4HANA",
            Erp,
            3,
            &[Cloud, OnPrem],
            vec![
                base_url.clone(),
                field("username", false, false, "Communication user (basic authentication)"),
                field("password", false, true, "Communication user's password (basic authentication)"),
                field("clientId", false, false, "OAuth 2.0 client id (client credentials)"),
                field("clientSecret", false, true, "OAuth 2.0 client secret (client credentials)"),
                field("tokenUrl", false, false, "OAuth 2.0 token endpoint (client credentials)"),
            ]
            .into_iter()
            .chain(sap_po_defaults.clone())
            .collect(),
        ),
        system(
            "sap_ecc",
            "SAP ECC",
            Erp,
            3,
            &[OnPrem],
            vec![
                base_url.clone(),
                field("sapClient", true, false, "SAP client number (sap-client)"),
                username.clone(),
                password.clone(),
            ]
            .into_iter()
            .chain(sap_po_defaults)
            .collect(),
        ),
        system(
            "ibm_maximo",
            "IBM Maximo",
            Eam,
            2,
            &[Cloud, OnPrem],
            vec![
                base_url.clone(),
                field("apiKey", false, true, "Maximo API key (apikey header)"),
                field("username", false, false, "Maximo user (maxauth)"),
                field("password", false, true, "Maximo user's password (maxauth)"),
            ],
        ),
        system(
            "netsuite",
            "Oracle NetSuite",
            Erp,
            2,
            &[Cloud],
            vec![
                field("accountId", true, false, "NetSuite account id, such as 1234567 or 1234567_SB1"),
                field("clientId", true, false, "Client ID of the integration record (Client Credentials grant only)"),
                field(
                    "certificateId",
                    true,
                    false,
                    "Certificate ID from the OAuth 2.0 Client Credentials (M2M) Setup page",
                ),
                field(
                    "privateKey",
                    true,
                    true,
                    "Private key of the mapped certificate, PEM: RSA 3072 or 4096 bits, or EC P-256 or P-384",
                ),
                field("scopes", false, false, "Scopes to ask for, comma separated (default rest_webservices)"),
                field(
                    "concurrencyLimit",
                    false,
                    false,
                    "Requests NetSuite may run at once for this connection (default 1; the account's limit is shared)",
                ),
                field("baseUrl", false, false, "REST domain from Company URLs, when not the one the account id gives"),
            ],
        ),
        system(
            "fm_systems",
            "FM:Systems",
            Fm,
            2,
            &[Cloud, OnPrem],
            vec![
                field(
                    "baseUrl",
                    true,
                    false,
                    "FMInteract web service address: https://<company>.fmshosted.com, or the whole …/FMInteractWebService.svc URL (test tenants' path differs)",
                ),
                field("username", true, false, "The Web Services user (System Administration → Web Services)"),
                password.clone(),
                field("sitesObject", false, false, "View of sites (default vw_WS_Sites)"),
                field("buildingsObject", false, false, "View of buildings (default vw_WS_Buildings)"),
                field("floorsObject", false, false, "View of floors (default vw_WS_Floors)"),
                field("spacesObject", false, false, "View of spaces (default vw_WS_Spaces)"),
                field("assetsObject", false, false, "View of assets (default vw_WS_Assets)"),
                field("workOrdersObject", false, false, "View of work orders (default vw_WS_WorkOrders)"),
                field(
                    "workOrdersSinceProcedure",
                    false,
                    false,
                    "Stored procedure of work orders modified since @Since (default sp_WS_GetWorkOrdersModifiedSince; none: read the view whole)",
                ),
            ],
        ),
        system(
            "upkeep",
            "UpKeep",
            Cmms,
            1,
            &[Cloud],
            vec![
                field("email", true, false, "Email of the UpKeep user the connection acts as"),
                field("password", true, true, "That user's UpKeep password"),
                field("baseUrl", false, false, "UpKeep's API address, when not https://api.onupkeep.com/api/v2"),
            ],
        ),
        system(
            "limble",
            "Limble CMMS",
            Cmms,
            1,
            &[Cloud],
            vec![
                field("clientId", true, false, "Limble API client id"),
                field("clientSecret", true, true, "Limble API client secret"),
            ],
        ),
        system(
            "fiix",
            "Fiix",
            Cmms,
            1,
            &[Cloud],
            vec![
                field("subdomain", true, false, "Your Fiix tenant's subdomain"),
                field("appKey", true, false, "Fiix application key"),
                field("accessKey", true, false, "Fiix access key"),
                field("secretKey", true, true, "Fiix secret key"),
            ],
        ),
    ]
}

/// What a system supports for one entity, as the catalogue shows it.
#[derive(Debug, Clone, Serialize)]
pub struct EntityOffer {
    /// The entity.
    pub entity: Entity,
    /// The operations on it; `list` makes it syncable.
    pub operations: Vec<Operation>,
}

/// A catalogue entry with what can be done with it today.
#[derive(Debug, Clone, Serialize)]
pub struct Offering {
    /// The system.
    #[serde(flatten)]
    pub system: System,
    /// Whether it can be connected now; an unavailable system is listed so that users can see
    /// what is coming, and connecting it is refused.
    pub available: bool,
    /// The entities it supports and how (none while it is unavailable). Those with `list` are
    /// the default `syncEntities` of a new connection.
    pub entities: Vec<EntityOffer>,
}

/// The catalogue with each system's connector, as `GET /v1/systems` shows it (entities in the
/// API's order).
pub fn offerings(connectors: &Connectors) -> Vec<Offering> {
    systems()
        .into_iter()
        .map(|system| {
            let capabilities = connectors.capabilities(system.id);
            let entities = Entity::ALL
                .iter()
                .flat_map(|&entity| capabilities.as_ref().map(|c| c.of(entity)))
                .filter(|c| !c.operations.is_empty())
                .map(|c| EntityOffer { entity: c.entity, operations: c.operations })
                .collect();
            Offering { available: capabilities.is_some(), system, entities }
        })
        .collect()
}

/// Looks a system up by id.
pub fn find(id: &str) -> Option<System> {
    systems().into_iter().find(|s| s.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_cost_one_two_four_and_on_prem_doubles() {
        assert_eq!(credits_for(1, Deployment::Cloud), 1);
        assert_eq!(credits_for(2, Deployment::Cloud), 2);
        assert_eq!(credits_for(3, Deployment::Cloud), 4);
        assert_eq!(credits_for(1, Deployment::OnPrem), 2);
        assert_eq!(credits_for(2, Deployment::OnPrem), 4);
        assert_eq!(credits_for(3, Deployment::OnPrem), 8);
        assert_eq!(credits_for(0, Deployment::Cloud), 0);
    }

    #[test]
    fn catalogue_prices_sap_and_maximo_as_sold() {
        let s4 = find("sap_s4hana").unwrap();
        assert_eq!((s4.credits(Deployment::Cloud), s4.credits(Deployment::OnPrem)), (Some(4), Some(8)));
        let ecc = find("sap_ecc").unwrap();
        assert_eq!((ecc.credits(Deployment::Cloud), ecc.credits(Deployment::OnPrem)), (None, Some(8)));
        let maximo = find("ibm_maximo").unwrap();
        assert_eq!((maximo.credits(Deployment::Cloud), maximo.credits(Deployment::OnPrem)), (Some(2), Some(4)));
        assert_eq!(find(SANDBOX).unwrap().credits(Deployment::Cloud), Some(0));
    }

    #[test]
    fn catalogue_has_every_promised_system_once() {
        let ids: Vec<_> = systems().iter().map(|s| s.id).collect();
        for id in
            ["sandbox", "sap_s4hana", "sap_ecc", "ibm_maximo", "netsuite", "fm_systems", "upkeep", "limble", "fiix"]
        {
            assert_eq!(ids.iter().filter(|&&i| i == id).count(), 1, "{id}");
        }
    }
}
