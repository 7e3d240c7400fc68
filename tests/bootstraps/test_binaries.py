"""What the release bootstraps hold: each within its size budget, and each linking only what it
uses. Sizes are deterministic for a toolchain and a lock file, so they are tested here; times
are not, so they stay in the benchmark (scripts/bench cold-start).

They need the release bootstraps: `scripts/test --release` and `scripts/bench cold-start` build
them (x86_64, in target/release; MILLWRIGHT_BOOTSTRAPS names another folder) and run these. The
arm64 bootstraps that deploy (`cargo lambda build --release --arm64`, in
target/lambda/<function>/bootstrap) are held to the same budgets whenever they have been built.

    python3 -m pytest tests/bootstraps/test_binaries.py
"""

import os
from pathlib import Path

import pytest

from functions import BUDGETS, CALL_NO_SYSTEM, REPO, WEBHOOK_FUNCTIONS

BOOTSTRAPS = Path(os.environ.get("MILLWRIGHT_BOOTSTRAPS", REPO / "target" / "release"))
ARM64 = REPO / "target" / "lambda"
# Text that is in a binary only when the code that prints it is: reqwest's errors, SAP's and
# Maximo's service names, a record of the sandbox's sample data.
REQWEST = b"error sending request"
CONNECTORS = [b"API_PURCHASEORDER_PROCESS_SRV", b"mxapiwodetail", b"Hydraulic oil"]


def bootstrap(name):
    path = BOOTSTRAPS / name
    assert path.is_file(), f"{path} is missing: build the release bootstraps (cargo build --release)"
    return path


def built():
    """(function, binary) of every bootstrap to hold to its budget: x86_64, and arm64 where built."""
    found = [(name, bootstrap(name)) for name in BUDGETS]
    return found + [(name, ARM64 / name / "bootstrap") for name in BUDGETS if (ARM64 / name / "bootstrap").is_file()]


@pytest.mark.parametrize("name, path", built(), ids=lambda v: str(v).replace(str(REPO) + "/", ""))
def test_each_bootstrap_is_within_its_size_budget(name, path):
    size = path.stat().st_size
    assert size <= BUDGETS[name], f"{path}: {size:,} bytes, over its budget of {BUDGETS[name]:,}"


@pytest.mark.parametrize("name", WEBHOOK_FUNCTIONS)
def test_webhook_functions_hold_no_connector(name):
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
