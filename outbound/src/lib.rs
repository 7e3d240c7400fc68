//! Calls out of Millwright over HTTP, under the address rules: the client the connectors share
//! (`upstream`, with the tokens they obtain kept in `tokens`) and the one webhook deliveries go
//! through (`transport`). It holds the one HTTP
//! client library of the project, so the functions that call nobody outside AWS link none.

pub mod tokens;
pub mod transport;
pub mod upstream;

use millwright::webhooks::AddressPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// A resolver for reqwest that hands a connection only addresses the rules allow, so the
/// check happens on the very addresses connected to: DNS that changes its answer after a URL
/// was checked reaches nothing internal.
pub struct GuardedResolver(pub AddressPolicy);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0;
        Box::pin(async move {
            let found = policy.lookup(name.as_str(), 0).await?;
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}
