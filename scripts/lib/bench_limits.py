"""The fair-use benchmark, against a running local stack (scripts/bench starts one).

1. One connection's token, asked as fast as 16 clients can for 20 s: the requests per second
   it gets answered 200 before its first 429, and overall; how many 429s.
2. Reads of one connection while another connection's system never answers (its SAP stand-in
   delays every order 15 s and 12 writes to it are in flight): p50 and p99 of the reads, next
   to the same reads with no stalled system.

It prints figures and asserts nothing about time.

    python3 scripts/lib/bench_limits.py   # with MILLWRIGHT_API_URL, MILLWRIGHT_ADMIN_BIN, MILLWRIGHT_STANDIN_SAP_S4HANA
"""

import json
import os
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

API = os.environ["MILLWRIGHT_API_URL"]
SAP = os.environ["MILLWRIGHT_STANDIN_SAP_S4HANA"]
DEMO = json.loads((Path(__file__).resolve().parents[2] / "infra/local/demo-connections.json").read_text())


def call(method, url, bearer=None, body=None, timeout=60):
    """(status, headers, seconds) of one request."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    if bearer:
        request.add_header("Authorization", f"Bearer {bearer}")
    began = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            answer.read()
            return answer.status, dict(answer.headers), time.monotonic() - began
    except urllib.error.HTTPError as error:
        error.read()
        return error.code, dict(error.headers), time.monotonic() - began


def account(credits):
    out = subprocess.run([os.environ["MILLWRIGHT_ADMIN_BIN"], "account", "create", "--credits", str(credits)],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def connect(key, body):
    request = urllib.request.Request(f"{API}/v1/connections", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())["token"]


def sandbox(key):
    return connect(key, {"system": "sandbox", "credentials": {"apiKey": "bench"}})


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def one_connection_flat_out(seconds=20, clients=16):
    token = sandbox(account(1))
    answers = []
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client():
        while time.monotonic() < stop:
            status, _, _ = call("GET", f"{API}/v1/capabilities", token)
            with lock:
                answers.append((time.monotonic(), status))

    began = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        for _ in range(clients):
            pool.submit(client)
    ok = [t for t, s in answers if s == 200]
    refused = [t for t, s in answers if s == 429]
    first_429 = min(refused) if refused else None
    before = [t for t in ok if first_429 is None or t < first_429]
    print(f"one connection, {clients} clients for {seconds} s: {len(answers)} requests, "
          f"{len(ok)} answered 200 ({len(ok) / seconds:.1f}/s), {len(refused)} answered 429")
    if first_429 is not None:
        print(f"  before its first 429: {len(before)} requests in {first_429 - began:.2f} s "
              f"({len(before) / max(first_429 - began, 1e-3):.1f}/s)")


def reads(token, count=50):
    times = []
    for _ in range(count):
        status, _, seconds = call("GET", f"{API}/v1/purchase-orders?limit=5", token)
        assert status == 200, status
        times.append(seconds * 1000)
    return times


def reads_beside_a_stalled_system():
    key = account(10)
    quiet = reads(sandbox(key))
    other = sandbox(key)  # a budget of its own: 50 reads stay within one window's 100
    tenant = f"BN{uuid.uuid4().hex[:10]}"
    body = json.loads(json.dumps(DEMO["sap_s4hana"]))
    body["credentials"]["baseUrl"] = SAP
    body["credentials"]["username"] = tenant
    body["initialSync"] = False
    stalled = connect(key, body)
    call("POST", f"{SAP}/_standin/faults", body={"tenant": tenant, "match": "A_PurchaseOrder",
                                                   "responses": [{"delaySeconds": 15}] * 12})
    order = {"vendorKey": "17300001", "siteKey": "1010", "currencyKey": "EUR",
             "lineItems": [{"materialKey": "TG11", "quantity": "1", "price": "1.00"}]}
    with ThreadPoolExecutor(12) as pool:
        writes = [pool.submit(call, "POST", f"{API}/v1/purchase-orders", stalled, order) for _ in range(12)]
        time.sleep(0.5)
        beside = reads(other)
        statuses = [w.result()[0] for w in writes]
    for label, times in (("with no stalled system", quiet), ("beside a stalled system", beside)):
        print(f"reads of another connection {label}: p50 {statistics.median(times):.0f} ms, "
              f"p99 {percentile(times, 99):.0f} ms ({len(times)} reads)")
    print(f"  the stalled connection's 12 writes answered: {sorted(statuses)}")


if __name__ == "__main__":
    one_connection_flat_out()
    reads_beside_a_stalled_system()
