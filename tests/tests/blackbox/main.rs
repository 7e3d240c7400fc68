//! The black-box tests, in one binary so they all run at once against the one running stack
//! (each on an account of its own), as its users would use it side by side.

mod api;
mod browser;
mod connect_flow;
mod connectors;
mod dashboard;
mod defaults;
mod entities;
mod fm_systems;
mod limits;
mod management;
mod netsuite;
mod routes;
mod stored;
mod syncs;
mod upkeep;
mod webhooks;
