//! Waiting a little for a place among a connection's calls in flight to its system (`InFlight`):
//! where a system limits the calls one connection may run at once (NetSuite's limit is per
//! account), its syncs and writes take turns across every Lambda instead of meeting the
//! system's refusal.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ports::{InFlight, Place, StoreError};

/// How often a held place is asked for again.
const POLL: Duration = Duration::from_millis(250);

/// Takes one of the connection's `places` (held until `until` at the latest), asking again
/// until `patience` runs out; none when every place stayed held.
pub async fn take(
    in_flight: &dyn InFlight,
    connection_id: &str,
    places: u32,
    until: DateTime<Utc>,
    patience: Duration,
) -> Result<Option<Place>, StoreError> {
    let give_up = tokio::time::Instant::now() + patience;
    loop {
        if let Some(place) = in_flight.take(connection_id, places, Utc::now(), until).await? {
            return Ok(Some(place));
        }
        if tokio::time::Instant::now() + POLL > give_up {
            return Ok(None);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Gives a place back; one that cannot be lapses at its time, so a failure is only logged.
pub async fn release(in_flight: &dyn InFlight, place: &Place) {
    if let Err(e) = in_flight.release(place).await {
        tracing::warn!(error = %e, "a place in flight was not given back; it lapses at its time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Places in memory: a pure test of the waiting, not of the store.
    #[derive(Default)]
    struct Places(Mutex<Vec<String>>);

    #[async_trait]
    impl InFlight for Places {
        async fn take(
            &self,
            c: &str,
            places: u32,
            _: DateTime<Utc>,
            _: DateTime<Utc>,
        ) -> Result<Option<Place>, StoreError> {
            let mut held = self.0.lock().unwrap();
            let free = (0..places).map(|n| format!("{c}#{n}")).find(|id| !held.contains(id));
            Ok(free.map(|id| {
                held.push(id.clone());
                Place { id, token: "t".into() }
            }))
        }
        async fn release(&self, place: &Place) -> Result<(), StoreError> {
            self.0.lock().unwrap().retain(|id| *id != place.id);
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_place_given_back_while_waiting_is_taken() {
        let places = std::sync::Arc::new(Places::default());
        let until = Utc::now() + chrono::Duration::minutes(1);
        let first = take(places.as_ref(), "c1", 1, until, Duration::ZERO).await.unwrap().unwrap();
        assert!(take(places.as_ref(), "c1", 1, until, Duration::from_secs(1)).await.unwrap().is_none(), "held");
        assert!(take(places.as_ref(), "c2", 1, until, Duration::ZERO).await.unwrap().is_some(), "per connection");
        let holder = places.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            release(holder.as_ref(), &first).await;
        });
        assert!(
            take(places.as_ref(), "c1", 1, until, Duration::from_secs(2)).await.unwrap().is_some(),
            "taken once free"
        );
    }
}
