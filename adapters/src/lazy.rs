//! AWS SDK clients made the first time a call needs one. Making a client parses the SDK's
//! endpoint rules (a JSON document and the regular expressions in it) and sets up its TLS: about
//! a third of a millisecond per service. A function pays that at its first call to a service,
//! not at start-up, and not at all for the services a request never reaches.

use std::{
    ops::Deref,
    sync::{Arc, LazyLock},
};

/// How a client is made, once.
type Make<C> = Box<dyn FnOnce() -> C + Send>;

/// A client made on first use; clones share it. It dereferences to the client.
pub struct Lazy<C>(Arc<LazyLock<C, Make<C>>>);

impl<C> Lazy<C> {
    /// A client `make` will make when it is first used.
    pub fn new(make: impl FnOnce() -> C + Send + 'static) -> Self {
        Self(Arc::new(LazyLock::new(Box::new(make))))
    }
}

impl<C: Send + 'static> From<C> for Lazy<C> {
    /// A client already made.
    fn from(client: C) -> Self {
        Self::new(move || client)
    }
}

impl<C> Clone for Lazy<C> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<C> Deref for Lazy<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_client_is_made_once_at_its_first_use_and_shared_by_clones() {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let lazy = Lazy::new(|| {
            MADE.fetch_add(1, Ordering::SeqCst);
            String::from("client")
        });
        let clone = lazy.clone();
        assert_eq!(MADE.load(Ordering::SeqCst), 0, "not made before it is used");
        assert_eq!(clone.len(), 6);
        assert_eq!(*lazy, "client");
        assert_eq!(MADE.load(Ordering::SeqCst), 1, "made once for both");
    }
}
