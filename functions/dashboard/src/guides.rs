//! The short setup guide the connect page shows beside each system's fields: what the customer
//! creates in their own system first. Vendor steps as the vendors document them.

/// The steps for a system; none where the fields say it all.
pub fn steps(system: &str) -> &'static [&'static str] {
    match system {
        "sandbox" => &[
            "The sandbox is a sample system with realistic maintenance and purchasing data.",
            "Enter any API key to connect. The key \"invalid\" is refused, as a real system refuses a wrong password.",
        ],
        "sap_s4hana" => &[
            "In SAP S/4HANA, create a communication user (Maintain Communication Users) for this integration.",
            "Create a communication system for it and a communication arrangement for the purchase order, \
             business partner and maintenance scenarios this integration reads and writes.",
            "Enter the API host (https://…-api.s4hana.cloud.sap or your gateway) and the user's name and password, \
             or the OAuth 2.0 client of the communication system.",
            "Optionally enter the company code, purchasing organisation and purchasing group new purchase orders get.",
        ],
        "sap_ecc" => &[
            "Ask your SAP Basis team for an RFC/OData service user with read access to purchasing and plant maintenance.",
            "Enter the gateway's URL, the SAP client number (sap-client) and the user's name and password.",
        ],
        "ibm_maximo" => &[
            "In Maximo, open API Keys (Administration) and create a key for an integration user with access to \
             the MXAPI object structures (assets, work orders, purchase orders, inventory).",
            "Enter the Maximo URL ending in /maximo and the API key, or that user's name and password.",
        ],
        "netsuite" => &[
            "In NetSuite, enable REST Web Services and OAuth 2.0 (Setup > Company > Enable Features, SuiteCloud). \
             Give the integration's role REST Web Services, Log in using OAuth 2.0 Access Tokens, SuiteAnalytics \
             Workbook and the records to sync (purchase orders, vendors, items, locations).",
            "Go to Setup > Integration > Manage Integrations > New. Name it, set State to Enabled, and under OAuth \
             2.0 check only the Client Credentials (Machine To Machine) grant, with the scopes REST Web Services \
             and RESTlets. Note the Client ID.",
            "Under Setup > Integration > Manage Authentication > OAuth 2.0 Client Credentials (M2M) Setup, map \
             the integration, user and role to a certificate (RSA 3072 or 4096 bits, or EC P-256 or P-384) and \
             note its Certificate ID.",
            "Enter the account id (such as 1234567 or 1234567_SB1), the Client ID, the Certificate ID and the \
             certificate's private key (PEM).",
        ],
        "upkeep" => &[
            "UpKeep's API comes with the Business Plus plan. Pick (or invite) the UpKeep user the connection \
             acts as: what it sees and may change in UpKeep is what the connection sees and changes.",
            "Enter that user's email and password.",
        ],
        "fm_systems" => &[
            "In FMS:Workplace, open System Administration → Modify System Settings → Web Services and set up the \
             Web Services user (Web Services User Setting).",
            "Grant that user the views that hold sites, buildings, floors, spaces, assets and work orders (and the \
             procedure of work orders modified since a date, if you have one). Their names go in the optional \
             fields below when they are not the defaults shown.",
            "Enter the web service's address (https://<company>.fmshosted.com, or the whole …/FMInteractWebService.svc \
             address of a test tenant), the user's name and password.",
        ],
        _ => &[],
    }
}
