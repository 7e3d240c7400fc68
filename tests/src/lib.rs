//! Black-box tests of the running stack live in `tests/`; this crate has no code of its own.
