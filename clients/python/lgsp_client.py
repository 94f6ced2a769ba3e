"""LGSP client for Python 3 (standard library only).

Signs requests (LGSP-HMAC-SHA256, LGSP-HMAC-SHA1, LGSP-RSA-SHA256, docs/auth.md),
does the seven-step exchange F1-F7 with resumable upload and ranged download,
reads Server-Sent Events, verifies webhooks (HMAC and platform-key RSA), opens
service sessions and calls /svc. RSA is PKCS#1 v1.5 done with pow() over a key
read from PEM (PKCS#8 "PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY"): the standard
library has no RSA, and this keeps the client free of subprocesses.
"""

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qsl, quote, unquote_to_bytes, urlsplit

ALG_HMAC_SHA256 = "LGSP-HMAC-SHA256"
ALG_HMAC_SHA1 = "LGSP-HMAC-SHA1"
ALG_RSA_SHA256 = "LGSP-RSA-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


# ------------------------------------------------------------- canonical ---

def _enc(b):
    """RFC 3986 percent-encoding: keeps A-Z a-z 0-9 - . _ ~, %XX upper-case."""
    return quote(b, safe="")


def canonical_path(path):
    return "/".join(_enc(unquote_to_bytes(seg)) for seg in (path or "/").split("/"))


def canonical_query(query):
    # latin-1 maps each byte to one character, so non-UTF-8 bytes survive decoding.
    pairs = parse_qsl(query, keep_blank_values=True, encoding="latin-1")
    pairs = sorted((_enc(k.encode("latin-1")), _enc(v.encode("latin-1"))) for k, v in pairs)
    return "&".join("%s=%s" % kv for kv in pairs)


def _clean(value):
    return re.sub(r"[ \t]+", " ", value.strip(" \t"))


def canonical_request(alg, method, url, headers, signed, ts, nonce, body_sha):
    """The text that is signed. headers: dict of lower-case name -> value."""
    u = urlsplit(url)
    return "\n".join([
        alg, method.upper(), canonical_path(u.path), canonical_query(u.query),
        "\n".join("%s:%s" % (n, _clean(headers[n])) for n in signed),
        ";".join(signed), str(ts), nonce, body_sha,
    ])


# ------------------------------------------------------------------- RSA ---

_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _der(buf, pos):
    """Reads one DER element at pos: returns (tag, content start, end)."""
    tag, n = buf[pos], buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[pos:pos + k], "big")
        pos += k
    if pos + n > len(buf):
        raise ValueError("truncated DER")
    return tag, pos, pos + n


def _der_seq(buf):
    """Children (tag, bytes) of the outer SEQUENCE of buf."""
    tag, pos, end = _der(buf, 0)
    if tag != 0x30:
        raise ValueError("not a DER sequence")
    out = []
    while pos < end:
        t, s, e = _der(buf, pos)
        out.append((t, buf[s:e]))
        pos = e
    return out


def _pem(text, *labels):
    for label in labels:
        m = re.search(r"-----BEGIN %s-----(.*?)-----END %s-----" % (label, label), text, re.S)
        if m:
            return label, base64.b64decode("".join(m.group(1).split()))
    raise ValueError("no PEM block of type %s" % " or ".join(labels))


class RSAKey:
    """An RSA key: n, e and, for a private key, d."""

    def __init__(self, n, e, d=None):
        self.n, self.e, self.d = n, e, d
        self.size = (n.bit_length() + 7) // 8

    @classmethod
    def private_from_pem(cls, text):
        label, der = _pem(text, "PRIVATE KEY", "RSA PRIVATE KEY")
        if label == "PRIVATE KEY":  # PKCS#8: version, algorithm, OCTET STRING(PKCS#1)
            der = _der_seq(der)[2][1]
        f = [int.from_bytes(v, "big") for t, v in _der_seq(der)]
        return cls(f[1], f[2], f[3])

    @classmethod
    def public_from_pem(cls, text):
        _, der = _pem(text, "PUBLIC KEY")
        bits = _der_seq(der)[1][1]  # BIT STRING: unused-bits byte, then PKCS#1 RSAPublicKey
        f = [int.from_bytes(v, "big") for t, v in _der_seq(bits[1:])]
        return cls(f[0], f[1])

    def _encoded(self, data):
        t = _SHA256_DIGEST_INFO + hashlib.sha256(data).digest()
        if self.size < len(t) + 11:
            raise ValueError("RSA key too short")
        return b"\x00\x01" + b"\xff" * (self.size - len(t) - 3) + b"\x00" + t

    def sign(self, data):
        """RSASSA-PKCS1-v1_5 with SHA-256 (what `openssl dgst -sha256 -sign` makes)."""
        m = int.from_bytes(self._encoded(data), "big")
        return pow(m, self.d, self.n).to_bytes(self.size, "big")

    def verify(self, data, sig):
        if len(sig) != self.size:
            return False
        s = int.from_bytes(sig, "big")
        if s >= self.n:
            return False
        return hmac.compare_digest(pow(s, self.e, self.n).to_bytes(self.size, "big"), self._encoded(data))


# --------------------------------------------------------------- signing ---

class Signer:
    """Signs with one key: a shared secret (HMAC algorithms) or an RSAKey."""

    def __init__(self, access_key, secret=None, alg=ALG_HMAC_SHA256, rsa_key=None):
        if alg not in (ALG_HMAC_SHA256, ALG_HMAC_SHA1, ALG_RSA_SHA256):
            raise ValueError("unknown algorithm %s" % alg)
        if (alg == ALG_RSA_SHA256) != (rsa_key is not None):
            raise ValueError("LGSP-RSA-SHA256 needs rsa_key; the HMAC algorithms need secret")
        self.access_key, self.secret, self.alg, self.rsa_key = access_key, secret, alg, rsa_key

    def signature(self, canonical):
        data = canonical.encode("utf-8")
        if self.alg == ALG_RSA_SHA256:
            return self.rsa_key.sign(data).hex()
        fn = hashlib.sha256 if self.alg == ALG_HMAC_SHA256 else hashlib.sha1
        return hmac.new(self.secret.encode("utf-8"), data, fn).hexdigest()

    def sign(self, method, url, headers, body_sha, ts=None, nonce=None):
        """Returns the four headers to add. headers: what will be sent (Content-Type …);
        host and content-type are signed (the X-LGSP-* values are in the canonical request)."""
        ts = str(int(time.time()) if ts is None else ts)  # seconds, not milliseconds
        nonce = nonce or secrets.token_hex(16)
        h = {k.lower(): v for k, v in headers.items()}
        h.setdefault("host", urlsplit(url).netloc)
        signed = sorted(n for n in h if n in ("host", "content-type"))
        canonical = canonical_request(self.alg, method, url, h, signed, ts, nonce, body_sha)
        return {
            "X-LGSP-Timestamp": ts,
            "X-LGSP-Nonce": nonce,
            "X-LGSP-Content-SHA256": body_sha,
            "Authorization": "%s Credential=%s, SignedHeaders=%s, Signature=%s"
                             % (self.alg, self.access_key, ";".join(signed), self.signature(canonical)),
        }


# -------------------------------------------------------------- webhooks ---

class WebhookError(Exception):
    pass


def parse_authorization(value):
    alg, _, rest = (value or "").partition(" ")
    params = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        if k in params:
            raise WebhookError("repeated %s" % k)
        params[k] = v
    if set(params) != {"Credential", "SignedHeaders", "Signature"}:
        raise WebhookError("malformed Authorization")
    return alg, params


class WebhookVerifier:
    """Verifies webhooks (and calls forwarded by the bus) the way the platform
    verifies requests. secrets: access key -> shared secret (HMAC webhooks);
    platform_keys: key id (PK...) -> RSAKey (webhooks to systems with an RSA key)."""

    def __init__(self, secrets_by_key=None, platform_keys=None, skew=300):
        self.secrets = dict(secrets_by_key or {})
        self.platform_keys = dict(platform_keys or {})
        self.skew = skew
        self._seen = {}

    def verify(self, method, url, headers, body, now=None):
        """url: the URL as received (scheme://host[:port]/path?query); headers: the
        received headers (any case). Returns the parsed body or raises WebhookError."""
        h = {k.lower(): v for k, v in headers.items()}
        alg, p = parse_authorization(h.get("authorization"))
        ts, nonce, body_sha = h.get("x-lgsp-timestamp", ""), h.get("x-lgsp-nonce", ""), h.get("x-lgsp-content-sha256", "")
        now = time.time() if now is None else now
        if not ts.isdigit() or abs(now - int(ts)) > self.skew:
            raise WebhookError("timestamp outside the allowed skew")
        if hashlib.sha256(body).hexdigest() != body_sha:
            raise WebhookError("body does not match X-LGSP-Content-SHA256")
        signed = p["SignedHeaders"].split(";") if p["SignedHeaders"] else []
        if "host" not in h:
            h["host"] = urlsplit(url).netloc
        if any(n not in h for n in signed):
            raise WebhookError("a signed header is missing")
        canonical = canonical_request(alg, method, url, h, signed, ts, nonce, body_sha)
        if alg == ALG_RSA_SHA256:
            key = self.platform_keys.get(p["Credential"])
            if key is None:
                raise WebhookError("unknown platform key")
            try:
                ok = key.verify(canonical.encode("utf-8"), bytes.fromhex(p["Signature"]))
            except ValueError:
                ok = False
        elif alg in (ALG_HMAC_SHA256, ALG_HMAC_SHA1):
            secret = self.secrets.get(p["Credential"])
            if secret is None:
                raise WebhookError("unknown access key")
            ok = hmac.compare_digest(Signer(p["Credential"], secret, alg).signature(canonical), p["Signature"])
        else:
            raise WebhookError("unsupported algorithm")
        if not ok:
            raise WebhookError("signature does not match")
        self._remember(p["Credential"], nonce, now)
        return json.loads(body.decode("utf-8"))

    def _remember(self, key, nonce, now):
        self._seen = {k: t for k, t in self._seen.items() if t > now - 2 * self.skew}
        if (key, nonce) in self._seen:
            raise WebhookError("nonce already seen (replay)")
        self._seen[(key, nonce)] = now


# ---------------------------------------------------------------- client ---

class APIError(Exception):
    """A problem+json refusal: code, HTTP status, messages, detail."""

    def __init__(self, status, problem, headers):
        self.status, self.problem, self.headers = status, problem, headers
        self.code = problem.get("code") or headers.get("X-LGSP-Error-Code", "")
        super().__init__("%s (HTTP %d): %s %s" % (self.code, status, problem.get("message_en", ""), problem.get("detail", "")))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a signed request is never replayed to another origin


class Client:
    """Talks to one LGSP node as one system."""

    def __init__(self, base_url, signer, timeout=30):
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))

    @classmethod
    def from_credentials(cls, path, base_url=None, alg=ALG_HMAC_SHA256):
        """Reads the file `lgsp keys issue --out` writes (url, system, access_key,
        secret_key). alg: the algorithm the key was issued for (--alg)."""
        with open(path, encoding="utf-8") as f:
            c = json.load(f)
        signer = Signer(c["access_key"], c["secret_key"], alg)
        client = cls(base_url or c["url"], signer)
        client.system = c.get("system")
        return client

    # -- transport

    def open(self, method, path, body=b"", headers=None, body_sha=None):
        """Sends one signed request; returns the response (caller closes it) or raises APIError."""
        url = self.base_url + path
        hdr = dict(headers or {})
        body = body or b""
        hdr.update(self.signer.sign(method, url, hdr, body_sha or hashlib.sha256(body).hexdigest()))
        req = urllib.request.Request(url, data=body if method in ("POST", "PUT", "PATCH") or body else None,
                                     headers=hdr, method=method)
        try:
            return self._opener.open(req, timeout=self.timeout)
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                problem = json.loads(raw.decode("utf-8")) if raw else {}
            except ValueError:
                problem = {}
            raise APIError(e.code, problem, e.headers) from None

    def call(self, method, path, payload=None):
        """A JSON call: payload is serialised once, and those exact bytes are signed."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8") if payload is not None else b""
        hdr = {"Content-Type": "application/json"} if payload is not None else {}
        with self.open(method, path, body, hdr) as r:
            raw = r.read()
        return json.loads(raw.decode("utf-8")) if raw else None

    # -- F1-F7

    def connect(self):
        return self.call("POST", "/v1/connect", {})

    def request_exchange(self, recipients, title, data_type, **fields):
        return self.call("POST", "/v1/exchanges", dict(fields, recipients=recipients, title=title, data_type=data_type))

    def upload_offset(self, exchange_id):
        with self.open("HEAD", "/v1/exchanges/%s/content" % exchange_id) as r:
            return int(r.headers.get("X-LGSP-Upload-Offset", "0"))

    def upload_part(self, exchange_id, offset, data):
        """PUTs one part at offset; returns the bytes now held."""
        hdr = {"Content-Type": "application/octet-stream", "X-LGSP-Upload-Offset": str(offset)}
        with self.open("PUT", "/v1/exchanges/%s/content" % exchange_id, data, hdr) as r:
            return json.loads(r.read().decode("utf-8"))["received"]

    def upload(self, exchange_id, data, part_size=4 << 20):
        """Uploads data, resuming from what the space already holds."""
        off = self.upload_offset(exchange_id)
        while off < len(data):
            off = self.upload_part(exchange_id, off, data[off:off + part_size])
        return off

    def complete(self, exchange_id, sha256, media_type=None, policy=None):
        body = {"sha256": sha256}
        if media_type:
            body["media_type"] = media_type
        if policy:
            body["policy"] = policy
        return self.call("POST", "/v1/exchanges/%s/complete" % exchange_id, body)

    def send(self, recipients, title, data_type, data, media_type, **fields):
        """F2 + F3 in one: request, upload, complete."""
        sha = hashlib.sha256(data).hexdigest()
        space = self.request_exchange(recipients, title, data_type, media_type=media_type, size=len(data), sha256=sha, **fields)
        self.upload(space["exchange_id"], data)
        return self.complete(space["exchange_id"], sha, media_type)

    def inbox(self):
        return self.call("GET", "/v1/inbox")["items"]

    def ready(self, exchange_id):
        return self.call("POST", "/v1/exchanges/%s/ready" % exchange_id, {})

    def download(self, exchange_id, offset=0, length=None):
        """Returns the content from offset (length bytes, or to the end)."""
        hdr = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            hdr["Range"] = "bytes=%d-%s" % (offset, end)
        with self.open("GET", "/v1/exchanges/%s/content" % exchange_id, headers=hdr) as r:
            data = r.read()
            want = r.headers.get("X-LGSP-Content-SHA256")
        if not hdr and want and hashlib.sha256(data).hexdigest() != want:
            raise ValueError("downloaded content does not match its SHA-256")
        return data

    def confirm(self, exchange_id, outcome="received", note=""):
        return self.call("POST", "/v1/exchanges/%s/confirm" % exchange_id, {"outcome": outcome, "note": note})

    def status(self, exchange_id):
        return self.call("GET", "/v1/exchanges/%s" % exchange_id)

    def cancel(self, exchange_id):
        return self.call("POST", "/v1/exchanges/%s/cancel" % exchange_id, {})

    # -- events

    def events(self, last_event_id=None):
        """Opens the SSE stream; returns an EventStream (iterate it, close it)."""
        hdr = {"Accept": "text/event-stream"}
        if last_event_id:
            hdr["Last-Event-ID"] = str(last_event_id)
        return EventStream(self.open("GET", "/v1/events", headers=hdr))

    def platform_keys(self):
        """GET /v1/platform/keys (unauthenticated): key id -> RSAKey."""
        req = urllib.request.Request(self.base_url + "/v1/platform/keys")
        with self._opener.open(req, timeout=self.timeout) as r:
            keys = json.loads(r.read().decode("utf-8"))["keys"]
        return {k["key_id"]: RSAKey.public_from_pem(k["public_key"]) for k in keys}

    # -- services (A1-A3)

    def open_session(self, service, scope, ttl_seconds=None):
        body = {"service": service, "scope": scope}
        if ttl_seconds:
            body["ttl_seconds"] = ttl_seconds
        return self.call("POST", "/v1/auth/sessions", body)

    def revoke_session(self, session_id):
        return self.call("DELETE", "/v1/auth/sessions/%s" % session_id)

    def call_service(self, session, method, path, body=b"", headers=None):
        """Calls path of the session's service; returns (status, headers, body).
        Raises APIError only when LGSP itself refused (X-LGSP-Error-Code)."""
        hdr = dict(headers or {})
        hdr["X-LGSP-Session"] = session["session_key"]
        try:
            with self.open(method, session["endpoint"] + path.lstrip("/"), body, hdr) as r:
                return r.status, r.headers, r.read()
        except APIError as e:
            if e.headers.get("X-LGSP-Error-Code"):
                raise
            return e.status, e.headers, json.dumps(e.problem).encode()


class EventStream:
    """Server-Sent Events from /v1/events. Reads with readline() on the
    response itself: its raw file (r.fp / r.raw) skips the chunked decoding."""

    def __init__(self, resp):
        self.resp = resp

    def __iter__(self):
        return self

    def __next__(self):
        data, ev_id, kind = [], None, None
        while True:
            line = self.resp.readline()
            if not line:
                raise StopIteration
            line = line.decode("utf-8").rstrip("\r\n")
            if line == "":
                if data:
                    return {"id": ev_id, "event": kind, "data": json.loads("\n".join(data))}
                continue
            if line.startswith(":"):
                continue  # comment or keep-alive
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                data.append(value)
            elif field == "id":
                ev_id = int(value)
            elif field == "event":
                kind = value

    def close(self):
        self.resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
