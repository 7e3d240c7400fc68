"""What the release bootstraps hold: each within its size budget, and each linking only what it
uses. Sizes are deterministic for a toolchain and a lock file, so they are tested here; times
are not, so they stay in the benchmark (scripts/bench cold-start).

`scripts/bench cold-start` runs them after building the release bootstraps (x86_64, in
target/release; MILLWRIGHT_BOOTSTRAPS names another folder). The arm64 bootstraps that deploy
(`cargo lambda build --release --arm64`, in target/lambda/<function>/bootstrap) are held to the
same budgets whenever they have been built.

    python3 -m pytest tests/bootstraps
"""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAPS = Path(os.environ.get("MILLWRIGHT_BOOTSTRAPS", REPO / "target" / "release"))
ARM64 = REPO / "target" / "lambda"

# Bytes of a stripped release bootstrap. The webhook functions carry no connector and the
# lighter budget says so.
BUDGETS = {
    "connect": 8_000_000,
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
# Text that is in a binary only when the code that prints it is: reqwest's errors, SAP's and
# Maximo's service names, a record of the sandbox's sample data.
REQWEST = b"error sending request"
CONNECTORS = [b"API_PURCHASEORDER_PROCESS_SRV", b"mxapiwodetail", b"Hydraulic oil"]


def bootstrap(name):
    path = BOOTSTRAPS / name
    assert path.is_file(), f"{path} is missing: build the release bootstraps (cargo build --release)"
    return path


def tree(name):
    """The crates a function's binary is built from (normal dependencies, the build's features)."""
    out = subprocess.run(["cargo", "tree", "--locked", "-p", name, "-e", "normal", "--prefix", "none"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def built():
    """(function, binary) of every bootstrap to hold to its budget: x86_64, and arm64 where built."""
    found = [(name, bootstrap(name)) for name in BUDGETS]
    return found + [(name, ARM64 / name / "bootstrap") for name in BUDGETS if (ARM64 / name / "bootstrap").is_file()]


@pytest.mark.parametrize("name, path", built(), ids=lambda v: str(v).replace(str(REPO) + "/", ""))
def test_each_bootstrap_is_within_its_size_budget(name, path):
    size = path.stat().st_size
    assert size <= BUDGETS[name], f"{path}: {size:,} bytes, over its budget of {BUDGETS[name]:,}"


@pytest.mark.parametrize("name", BUDGETS)
def test_each_function_has_one_tls_stack_and_one_crypto_provider(name):
    crates = tree(name)
    assert "rustls" in crates and "ring" in crates, crates
    assert not crates & {"aws-lc-rs", "aws-lc-sys", "openssl", "native-tls", "s2n-tls"}, crates
    versions = subprocess.run(["cargo", "tree", "--locked", "-p", name, "-e", "normal", "-i", "rustls"],
                              cwd=REPO, capture_output=True, text=True).stdout
    assert "rustls v0.21" not in versions and "rustls v0.22" not in versions, versions


@pytest.mark.parametrize("name", WEBHOOK_FUNCTIONS)
def test_webhook_functions_hold_no_connector(name):
    assert not tree(name) & set(CONNECTOR_CRATES), name
    binary = bootstrap(name).read_bytes()
    assert not [text for text in CONNECTORS if text in binary], name


@pytest.mark.parametrize("name", CALL_NO_SYSTEM)
def test_functions_that_call_no_system_link_no_http_client(name):
    assert REQWEST not in bootstrap(name).read_bytes(), f"{name} links reqwest"


def test_the_checks_see_what_they_look_for():
    """The texts above are in the binaries that use the code: the absence checks are not vacuous."""
    entities = bootstrap("entities").read_bytes()
    assert REQWEST in entities
    assert all(text in entities for text in CONNECTORS)
    assert REQWEST in bootstrap("webhook-delivery").read_bytes()
