"""What each function is built from, read from the lock file with `cargo tree` (no build needed,
so scripts/test runs these): one TLS stack and one crypto provider everywhere, and no connector in
the webhook functions. test_binaries.py checks the release binaries themselves.

    python3 -m pytest tests/bootstraps/test_dependencies.py
"""

import pytest

from functions import BUDGETS, CONNECTOR_CRATES, WEBHOOK_FUNCTIONS, cargo_tree, crates


@pytest.mark.parametrize("name", BUDGETS)
def test_each_function_has_one_tls_stack_and_one_crypto_provider(name):
    built_from = crates(name)
    assert "rustls" in built_from and "ring" in built_from, built_from
    assert not built_from & {"aws-lc-rs", "aws-lc-sys", "openssl", "native-tls", "s2n-tls"}, built_from
    versions = cargo_tree(name, "-i", "rustls")
    assert "rustls v0.21" not in versions and "rustls v0.22" not in versions, versions


@pytest.mark.parametrize("name", WEBHOOK_FUNCTIONS)
def test_webhook_functions_are_built_from_no_connector(name):
    assert not crates(name) & set(CONNECTOR_CRATES), name


def test_the_checks_see_what_they_look_for():
    """The function that serves records is built from every connector and rustls: the checks above
    read real trees."""
    built_from = crates("entities")
    assert set(CONNECTOR_CRATES) <= built_from and "rustls" in built_from, built_from
