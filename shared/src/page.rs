//! Cursor pagination shared by every list endpoint: `limit` bounds and opaque cursors.

use crate::error::ApiError;

/// The page size when the caller gives none.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page a caller may ask for.
pub const MAX_LIMIT: usize = 500;

/// Parses `limit` (1–500, default 100).
pub fn limit(raw: Option<&str>) -> Result<usize, ApiError> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_field("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}"))),
        },
    }
}

/// Wraps a position (the last key of a page) as an opaque cursor.
pub fn encode_cursor(position: &str) -> String {
    hex::encode(position.as_bytes())
}

/// Reads a cursor back; anything that was not issued by `encode_cursor` is a 400.
pub fn decode_cursor(cursor: &str) -> Result<String, ApiError> {
    hex::decode(cursor)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_field("cursor", "cursor is not one this API issued"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds() {
        assert_eq!(limit(None).unwrap(), 100);
        assert_eq!(limit(Some("500")).unwrap(), 500);
        for bad in ["0", "501", "-1", "x", ""] {
            assert!(limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        assert_eq!(decode_cursor(&encode_cursor("conn_01")).unwrap(), "conn_01");
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor("").is_err());
    }
}
