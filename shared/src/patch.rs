//! What PATCH bodies share: a field sent as `null` (clear it) is not a field left out (keep it).

use serde::{Deserialize, Deserializer};

/// Deserialises a field that is present, `null` included, as `Some(…)`; with
/// `#[serde(default, deserialize_with = "present")]` an absent field stays `None`.
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}
