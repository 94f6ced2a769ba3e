"""Test program of the Python client.

    python3 test_lgsp_client.py

always checks the worked examples of docs/auth.md (prints "EXAMPLES OK"); with the
LGSP_TEST_* variables that test/clients_test.go (TestClientPython) sets, it then
does the whole flow against that node and ends with "ALL OK".
"""

import base64
import hashlib
import json
import os
import sys
import time
import urllib.request

from lgsp_client import (ALG_HMAC_SHA1, ALG_HMAC_SHA256, ALG_RSA_SHA256, APIError, Client, RSAKey,
                         Signer, WebhookError, WebhookVerifier, canonical_path, canonical_query)

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "..", "bus", "auth", "testdata")


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def check_examples():
    url = "https://lgsp.example.gov.vn/v1/exchanges?b=2&a=1"
    body = '{"recipients":["000.00.01.H60"],"title":"Công văn số 12/UBND","data_type":"edoc"}'.encode()
    sha = hashlib.sha256(body).hexdigest()
    check(len(body) == 85 and sha == "53bc184d569f2612784177d63c849910a01238d809c28d46ad31ef4bb31bc5e9", "body hash")
    hdr = {"Content-Type": "application/json"}
    want = {
        ALG_HMAC_SHA256: "df98b2424ed784bbf7f86608edbf1352328723ff92764d774360e5bf226f344e",
        ALG_HMAC_SHA1: "26091515989578eafa85af0e692ad7c517d2b3bf",
        ALG_RSA_SHA256: "020b6c50e15a2c3905e074aabd7cf3f0cc3a506109f1cac653852ac8a8961090e2cfce0ba47f1c049f3c4dcc5be70647dce2485e35a0c5cec00f7178edee449661b44fee2ba080016f385674c81e5bdc54063ff493bc3d18ea7b74856a86869445c2013a8079e1249c7784ad395a798d232e90c6794b96b6d9dc06a76c5d813f4dd253d0a79904b0ef3f00076258119964b67ac91a218fbb80b17fb3ee7d55884f55e82978bae1fd92f2d1a774846ea6e7b6858c3e7415cff303a6e6653a28a9596e7c27f07ae11993c1b1b8810a7cde1c9fcbf5d40e8e7fc5047233ef4dea302ef6f624c042b35044a604c112a375519640c5977af80031f37b68ceff202169",
    }
    with open(os.path.join(TESTDATA, "rsa-example.key")) as f:
        priv = RSAKey.private_from_pem(f.read())
    with open(os.path.join(TESTDATA, "rsa-example.pub")) as f:
        pub = RSAKey.public_from_pem(f.read())
    signers = {
        ALG_HMAC_SHA256: Signer("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use"),
        ALG_HMAC_SHA1: Signer("AKEXAMPLE0000000000001", "lgsp-example-secret-do-not-use", ALG_HMAC_SHA1),
        ALG_RSA_SHA256: Signer("RKD55CKJS1KCHQ5TW0HCT0", alg=ALG_RSA_SHA256, rsa_key=priv),
    }
    for alg, s in signers.items():
        h = s.sign("POST", url, hdr, sha, ts=1790000000, nonce="n0nce-2026-11-26-0001")
        expect = "%s Credential=%s, SignedHeaders=content-type;host, Signature=%s" % (alg, s.access_key, want[alg])
        check(h["Authorization"] == expect, "%s: got %s" % (alg, h["Authorization"]))
        check(h["X-LGSP-Content-SHA256"] == sha and h["X-LGSP-Timestamp"] == "1790000000", alg + " headers")
    canonical = "\n".join(["LGSP-RSA-SHA256", "POST", "/v1/exchanges", "a=1&b=2", "content-type:application/json",
                           "host:lgsp.example.gov.vn", "content-type;host", "1790000000", "n0nce-2026-11-26-0001", sha])
    check(pub.verify(canonical.encode(), bytes.fromhex(want[ALG_RSA_SHA256])), "RSA example verifies")
    check(not pub.verify(canonical.encode() + b"x", bytes.fromhex(want[ALG_RSA_SHA256])), "RSA tampered refused")
    for wire, canon in [("", "/"), ("/v1/t%c3%a0i%20li%E1%BB%87u", "/v1/t%C3%A0i%20li%E1%BB%87u"),
                        ("/a/%7euser/b+c", "/a/~user/b%2Bc"), ("/a%2Fb/c", "/a%2Fb/c")]:
        check(canonical_path(wire) == canon, "path " + wire)
    for wire, canon in [("q=Tuy%C3%AAn+Quang&x", "q=Tuy%C3%AAn%20Quang&x="), ("b=2&a=1&a=0", "a=0&a=1&b=2"),
                        ("k=a%2Bb&k=a+b", "k=a%20b&k=a%2Bb"), ("sel=*&r=a:b/c?d", "r=a%3Ab%2Fc%3Fd&sel=%2A")]:
        check(canonical_query(wire) == canon, "query " + wire)
    print("EXAMPLES OK")


def captured(harness, name, exchange_id):
    """Waits (deadline 15 s) for a webhook about exchange_id at the harness."""
    deadline = time.time() + 15
    while time.time() < deadline:
        with urllib.request.urlopen(harness + "/captured/" + name, timeout=5) as r:
            for c in json.loads(r.read().decode()):
                body = base64.b64decode(c["body_base64"])
                if json.loads(body.decode()).get("exchange_id") == exchange_id:
                    return c, body
        time.sleep(0.1)
    raise AssertionError("no webhook at %s for %s" % (name, exchange_id))


def expect_api_error(code, fn, *args):
    try:
        fn(*args)
    except APIError as e:
        check(e.code == code, "want %s, got %s" % (code, e.code))
        return e
    raise AssertionError("want %s, got success" % code)


def flow(env):
    url, harness = env["LGSP_TEST_URL"], env["LGSP_TEST_HARNESS"]
    a = Client.from_credentials(env["LGSP_TEST_SENDER_CREDS"])
    b = Client.from_credentials(env["LGSP_TEST_SHA1_CREDS"], alg=ALG_HMAC_SHA1)
    with open(env["LGSP_TEST_RSA_KEY"]) as f:
        c = Client(url, Signer(env["LGSP_TEST_RSA_ACCESS_KEY"], alg=ALG_RSA_SHA256, rsa_key=RSAKey.private_from_pem(f.read())))
    rsa_code = env["LGSP_TEST_RSA_CODE"]

    # F1 for each, with each algorithm.
    for cl in (a, b, c):
        check(cl.connect()["session_id"].startswith("cn_"), "connect")
    print("F1 connect OK (HMAC-SHA256, HMAC-SHA1, RSA-SHA256)")

    # B listens before anything is sent: the stream subscribes before its answer.
    stream = b.events()

    # F2, F3: a content over two 256 KiB chunks, sent in two parts, resumed by HEAD.
    data = bytes((i * 7 + i // 251) % 256 for i in range(300000))
    sha = hashlib.sha256(data).hexdigest()
    space = a.request_exchange([b.system, rsa_code], "Công văn số 12/UBND-VP", "edoc",
                               media_type="application/pdf", size=len(data), sha256=sha)
    ex = space["exchange_id"]
    check(a.upload_part(ex, 0, data[:100000]) == 100000, "first part")
    e = expect_api_error("exchange.upload_offset", a.upload_part, ex, 5, data[5:10])
    check(e.headers.get("X-LGSP-Upload-Offset") == "100000", "offset header on refusal")
    check(a.upload_offset(ex) == 100000, "HEAD offset")
    check(a.upload(ex, data) == len(data), "resumed upload")
    done = a.complete(ex, sha, "application/pdf")
    check(done["status"] == "accepted", "complete: " + done["status"])
    print("F2-F3 request, resumable upload, complete OK")

    # F5: SSE notification for B, then its inbox.
    with stream:
        for ev in stream:
            if ev["event"] == "notified" and ev["data"]["exchange_id"] == ex:
                check(ev["id"] == ev["data"]["id"], "event id")
                break
    check(any(i["exchange_id"] == ex for i in b.inbox()), "inbox")
    print("F5 SSE event and inbox OK")

    # F6, F7 for B: ranged download in two pieces, confirm.
    r = b.ready(ex)
    check(r["size"] == len(data) and r["sha256"] == sha, "ready")
    head = b.download(ex, 0, 123456)
    tail = b.download(ex, len(head))
    check(head + tail == data, "ranged download")
    check(b.confirm(ex, "received", "đã vào sổ")["status"] != "completed", "one recipient left")
    # F6, F7 for C (RSA-signed calls): whole download.
    c.ready(ex)
    check(c.download(ex) == data, "download")
    c.confirm(ex, "received")
    st = a.status(ex)
    check(st["status"] == "completed" and all(x["status"] == "confirmed" for x in st["recipients"]), "status")
    print("F6-F7 ready, ranged download, confirm, status OK")

    # The sender replays its own events after a given id.
    with a.events(last_event_id=1) as s:
        for ev in s:
            if ev["event"] == "completed" and ev["data"]["exchange_id"] == ex:
                break
    print("SSE resume with Last-Event-ID OK")

    # Webhooks: HMAC (B's own secret) and RSA (platform key).
    v = WebhookVerifier({b.signer.access_key: b.signer.secret}, a.platform_keys())
    for name in ("sha1", "rsa"):
        cap, body = captured(harness, name, ex)
        wurl = "http://" + cap["host"] + cap["path"]
        got = v.verify(cap["method"], wurl, cap["headers"], body)
        check(got["event"] == "notified" and got["recipient"] in (b.system, rsa_code), "webhook body")
        for bad in (lambda: v.verify(cap["method"], wurl, cap["headers"], body),  # replay
                    lambda: WebhookVerifier(v.secrets, v.platform_keys).verify(cap["method"], wurl, cap["headers"], body + b" "),
                    lambda: WebhookVerifier(v.secrets, v.platform_keys).verify(cap["method"], wurl + "x", cap["headers"], body)):
            try:
                bad()
                raise AssertionError("tampered webhook accepted")
            except WebhookError:
                pass
    print("webhooks verified (HMAC and platform-key RSA), tampering refused OK")

    # A1-A3: session, call through /svc, revoke.
    ses = a.open_session(env["LGSP_TEST_SERVICE"], "read")
    status, _, body = a.call_service(ses, "POST", "ho-so/123?nam=2026", b'{"q":"x"}', {"Content-Type": "application/json"})
    echo = json.loads(body.decode())
    check(status == 200 and echo["caller"] == a.system and echo["path"] == "/backend/ho-so/123"
          and echo["query"] == "nam=2026" and echo["body"] == '{"q":"x"}', "svc echo %s" % echo)
    a.revoke_session(ses["session_id"])
    expect_api_error("auth.session_invalid", a.call_service, ses, "GET", "ho-so/123")
    print("sessions and /svc OK")

    # A wrong secret is refused with the documented code.
    bad = Client(url, Signer(a.signer.access_key, "not-the-secret"))
    expect_api_error("auth.bad_signature", bad.inbox)
    print("bad signature refused OK")


def main():
    check_examples()
    if "LGSP_TEST_URL" not in os.environ:
        print("no LGSP_TEST_URL: the flow against a node was not run (go test ./test -run TestClientPython)")
        return
    flow(os.environ)
    print("ALL OK")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, APIError) as e:
        print("FAIL:", e)
        sys.exit(1)
