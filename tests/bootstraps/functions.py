"""The functions whose bootstraps deploy, and what each may link: shared by the tests of their
dependency trees (test_dependencies.py, from the lock file) and of the release binaries
themselves (test_binaries.py)."""

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Bytes of a stripped release bootstrap. The webhook functions carry no connector and the
# lighter budget says so.
BUDGETS = {
    "connect": 8_000_000,
    "dashboard": 8_000_000,
    "disconnect": 8_000_000,
    "entities": 8_000_000,
    "sync-runs": 8_000_000,
    "sync": 8_000_000,
    "webhooks": 6_000_000,
    "webhook-fanout": 6_000_000,
    "webhook-delivery": 6_000_000,
}
WEBHOOK_FUNCTIONS = ["webhooks", "webhook-fanout", "webhook-delivery"]
# The functions that never call a customer system (webhook-delivery calls receivers, not
# systems; it holds the HTTP client for that).
CALL_NO_SYSTEM = ["disconnect", "sync-runs", "webhooks", "webhook-fanout"]
CONNECTOR_CRATES = ["millwright-connectors", "millwright-sap", "millwright-maximo", "millwright-sandbox"]


def cargo_tree(name, *args):
    """`cargo tree` of a function's normal dependencies, as the lock file and its features have them."""
    return subprocess.run(["cargo", "tree", "--locked", "-p", name, "-e", "normal", *args],
                          cwd=REPO, capture_output=True, text=True, check=True).stdout


def crates(name):
    """The crates a function's binary is built from."""
    return {line.split()[0] for line in cargo_tree(name, "--prefix", "none").splitlines() if line.strip()}
