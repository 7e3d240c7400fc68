"""Tests of the control plane the stand-ins share (infra/local/standins/standin_control.py).

The stand-ins' own suites (test_sap.py, test_maximo.py, test_netsuite.py) hold each stand-in's
/_standin/ endpoints over HTTP; these hold the module's parts as a new stand-in builds on them:
the tenant registry, the logs, the fault queue and its matching, the common fault format, the
order of a fault's delay, error and stall, deferred touches and the plane's routes.

Needs only pytest: `python -m pytest tests/standins/test_standin_control.py` from the repo root.
"""
import json
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra" / "local" / "standins"))

import standin_control  # noqa: E402
from standin_control import (  # noqa: E402
    ControlError, ControlPlane, DeferredTouches, Faults, Log, Tenants, check_fault, faulted)


class FakeRequest:
    """What ControlPlane.answer reads of a standin_http.RequestHandler."""

    def __init__(self, command, route, query=None, body=None):
        self.command, self.route, self.query, self.base = command, route, query or {}, "http://stand.in"
        self.body = body

    def control_body(self):
        if not isinstance(self.body, dict):
            raise ControlError(400, "The body must be a JSON object.")
        return self.body


def test_each_tenant_gets_its_own_copy_of_the_seed_made_once():
    seed = {"orders": [{"id": 1}]}
    tenants = Tenants(seed)
    assert "a" not in tenants
    tenants.get("a")["orders"].append({"id": 2})
    assert tenants.get("a") is tenants.get("a") and "a" in tenants
    assert tenants.get("b") == seed and seed == {"orders": [{"id": 1}]}, "neither the seed nor b sees a's write"


def test_a_made_tenant_is_made_once_even_when_first_used_at_once():
    made = []
    tenants = Tenants(make=lambda name: made.append(name) or {"name": name})
    threads = [threading.Thread(target=tenants.get, args=("x",)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert made == ["x"] and tenants.get("x") == {"name": "x"}


def test_a_log_filters_and_clears_by_tenant():
    log = Log(stamp=lambda: "now")
    log.add("a", {"n": 1})
    log.add("b", {"n": 2})
    log.add(None, {"n": 3})
    assert log.entries() == [{"at": "now", "tenant": "a", "n": 1}, {"at": "now", "tenant": "b", "n": 2},
                             {"at": "now", "tenant": None, "n": 3}]
    assert [e["n"] for e in log.entries("b")] == [2] and log.entries("nobody") == []
    log.clear("a")
    assert [e["n"] for e in log.entries()] == [2, 3]
    log.clear()
    assert log.entries() == []


def test_numbered_logs_share_one_count():
    plane = ControlPlane({}, numbered=True)
    audit = plane.log("audit")
    plane.requests.add("a", {})
    audit.add("a", {})
    plane.requests.add("a", {})
    assert [e["seq"] for e in plane.requests.entries()] == [1, 3] and [e["seq"] for e in audit.entries()] == [2]
    assert list(plane.requests.entries()[0]) == ["seq", "at", "tenant"]


def test_faults_match_by_tenant_method_and_target_and_are_consumed_in_order():
    faults = Faults()
    assert faults.add("a", [{"status": 503}, {"status": 429}], match="A_PurchaseOrder('45')", method="get") == 2
    assert faults.add("a", [{"status": 500}]) == 3
    assert faults.take("b", "GET", "/odata/A_PurchaseOrder('45')") is None, "per tenant"
    assert faults.take("a", "POST", "/odata/Other") == {"status": 500}, "the first rule is for GET only"
    assert faults.take("a", "GET", "/odata/Other") is None
    assert faults.take("a", "GET", "/odata/A_PurchaseOrder(%2745%27)?$top=1") == {"status": 503}, "decoded"
    assert faults.pending("a") == 1
    assert faults.take("a", "GET", "/odata/A_PurchaseOrder('45')") == {"status": 429}
    assert faults.take("a", "GET", "/odata/A_PurchaseOrder('45')") is None and faults.pending("a") == 0


def test_a_fault_prefix_is_a_path_prefix_compared_case_insensitively():
    faults = Faults()
    faults.add("a", [{"n": 1}, {"n": 2}], prefix="/rest/record/v1/purchaseOrder")
    assert faults.take("a", "GET", "/rest/record/v1/vendor?q=purchaseOrder") is None, "the query is not the path"
    assert faults.take("a", "GET", "/rest/record/v1/PURCHASEORDER/4711") == {"n": 1}
    faults.clear("a")
    assert faults.pending("a") == 0
    faults.add("a", [{}])
    faults.add("b", [{}])
    faults.clear()
    assert faults.pending("a") == faults.pending("b") == 0


@pytest.mark.parametrize("response", [{"status": 503}, {"status": 429, "retryAfter": 0}, {"delaySeconds": 1.5},
                                      {"stallSeconds": 2}, {"status": 500, "delaySeconds": 1, "stallSeconds": 0}])
def test_the_common_fault_format(response):
    assert check_fault(response) is response


@pytest.mark.parametrize("response", [{}, [], {"status": 200}, {"status": "503"}, {"status": True},
                                      {"retryAfter": 1}, {"status": 429, "retryAfter": -1},
                                      {"delaySeconds": "soon"}, {"stallSeconds": -1}, {"status": 503, "csrf": True}])
def test_what_the_common_fault_format_refuses(response):
    with pytest.raises(ControlError) as refused:
        check_fault(response)
    assert refused.value.status == 400


def test_a_fault_waits_then_refuses_or_serves_then_stalls(monkeypatch):
    events = []
    monkeypatch.setattr(standin_control.time, "sleep", lambda seconds: events.append(("sleep", seconds)))

    def refuse(fault):
        events.append(("refuse", fault["status"]))
        return "refused"

    def serve():
        events.append(("serve",))
        return "served"

    assert faulted(None, refuse, serve) == "served" and events == [("serve",)]
    events.clear()
    assert faulted({"status": 503, "delaySeconds": 2, "stallSeconds": 9}, refuse, serve) == "refused"
    assert events == [("sleep", 2.0), ("refuse", 503)], "a refusal is not stalled"
    events.clear()
    assert faulted({"stallSeconds": 3}, refuse, serve) == "served"
    assert events == [("sleep", 0.0), ("serve",), ("sleep", 3.0)]


def test_deferred_touches_are_made_once_per_tenant_and_collection():
    touches = DeferredTouches()
    body = {"tenant": "a", "key": "1", "afterNextPage": True}
    assert touches.defer("a", "orders", body) == {"tenant": "a", "key": "1"}
    assert touches.due("b", "orders") == [] and touches.due("a", "assets") == []
    assert touches.due("a", "orders") == [{"tenant": "a", "key": "1"}] and touches.due("a", "orders") == []


def test_the_plane_routes_the_common_endpoints():
    plane = ControlPlane({"x": 1}, health={"status": "ok", "flavour": "test"})
    assert plane.answer(FakeRequest("GET", "/_standin/health")) == (200, {"status": "ok", "flavour": "test"})
    plane.requests.add("a", {"path": "/1"})
    plane.requests.add("b", {"path": "/2"})
    status, log = plane.answer(FakeRequest("GET", "/_standin/requests", {"tenant": "a"}))
    assert status == 200 and [e["path"] for e in log["requests"]] == ["/1"]
    assert plane.answer(FakeRequest("DELETE", "/_standin/requests", {"tenant": "a"})) == (200, {"requests": []})
    assert [e["tenant"] for e in plane.answer(FakeRequest("GET", "/_standin/requests"))[1]["requests"]] == ["b"]
    rule = {"tenant": "a", "match": "x", "method": "get", "responses": [{"status": 503}, {"delaySeconds": 1}]}
    assert plane.answer(FakeRequest("POST", "/_standin/faults", body=rule)) == (200, {"tenant": "a", "pending": 2})
    assert plane.faults.take("a", "GET", "/x") == {"status": 503}
    assert plane.answer(FakeRequest("DELETE", "/_standin/faults", {"tenant": "a"})) == (200, {"faults": []})
    assert plane.faults.pending("a") == 0
    for missing in (("GET", "/_standin/violations"), ("GET", "/_standin/nothing"), ("PUT", "/_standin/faults")):
        with pytest.raises(ControlError) as refused:
            plane.answer(FakeRequest(*missing))
        assert refused.value.status == 404, missing


@pytest.mark.parametrize("body", [None, {"responses": [{"status": 503}]},
                                  {"tenant": "", "responses": [{"status": 503}]},
                                  {"tenant": "a", "responses": []}, {"tenant": "a", "responses": ["x"]},
                                  {"tenant": "a", "match": 1, "responses": [{"status": 503}]},
                                  {"tenant": "a", "responses": [{"status": 200}]}])
def test_the_plane_refuses_a_bad_fault_body(body):
    plane = ControlPlane({})
    with pytest.raises(ControlError) as refused:
        plane.answer(FakeRequest("POST", "/_standin/faults", body=body))
    assert refused.value.status == 400 and plane.faults.pending("a") == 0


def test_a_stand_in_adds_its_own_endpoints_fault_vocabulary_and_reply():
    def own(response):
        if response != {"kind": "boom"}:
            raise ControlError(400, "only boom")
        return {"status": 500}

    plane = ControlPlane({}, violations=True, check_fault=own, fault_reply=lambda rule, pending: (201, rule))
    plane.route("POST", "/_standin/touch", lambda request: (200, {"touched": request.control_body()["key"]}))
    assert plane.answer(FakeRequest("POST", "/_standin/touch", body={"key": "k"})) == (200, {"touched": "k"})
    body = {"tenant": "a", "responses": [{"kind": "boom"}]}
    status, rule = plane.answer(FakeRequest("POST", "/_standin/faults", body=body))
    assert status == 201 and rule == {"tenant": "a", "match": None, "method": None, "responses": [{"status": 500}]}
    plane.violations.add("a", {"reason": "no"})
    violations = plane.answer(FakeRequest("GET", "/_standin/violations", {"tenant": "a"}))[1]["violations"]
    assert [v["reason"] for v in violations] == ["no"]
    assert plane.answer(FakeRequest("DELETE", "/_standin/violations")) == (200, {"violations": []})
    json.dumps(plane.answer(FakeRequest("GET", "/_standin/requests"))[1])  # answers are JSON
