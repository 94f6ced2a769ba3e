#!/usr/bin/python3
"""Independent SOAP client (python3-zeep 4.2.1) for LGSP's document-exchange
service (wsdl/lgsp-edoc.wsdl, adapters/qlvb). go test starts a node and runs

    /usr/bin/python3 test/interop/zeep_edoc.py < plan.json

The plan is {"wsdl": URL, "creds": {"NAME": [access_key, secret_key]},
"calls": [{"id", "as", "version": "1.1"|"1.2", "op", "args", "until"}]}.
Calls run in order, each with a UsernameToken PasswordDigest of its "as"
credentials, over the EdocSoap11 or EdocSoap12 port. An arg {"b64": "..."}
is sent as bytes (xsd:base64Binary); a string "${id.field}" is replaced by
that field of an earlier call's answer. "until" repeats the call (up to
15 s) until its JSON answer contains the string. It prints one JSON object:
{"zeep": version, "results": {id: {"ok": answer} | {"fault": ...} | {"error": ...}}}
with base64Binary answers as base64 text and dateTimes in ISO 8601.
Use Debian's /usr/bin/python3: the pyenv python3 on PATH lacks zeep.
"""
import base64
import datetime
import json
import re
import sys
import time

import zeep
import zeep.helpers
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

LGSP = {"lgsp": "urn:lgsp:error"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PORTS = {"1.1": "EdocSoap11", "1.2": "EdocSoap12"}


def fault_json(f):
    out = {"code": f.code, "message": f.message}
    if f.detail is not None:
        out["lgsp_code"] = f.detail.findtext(".//lgsp:code", namespaces=LGSP)
        for m in f.detail.iterfind(".//lgsp:message", namespaces=LGSP):
            out["message_" + m.get(XML_LANG, "")] = m.text
    return out


def plain(v):
    if isinstance(v, bytes):
        return base64.b64encode(v).decode()
    if isinstance(v, (datetime.datetime, datetime.date)):
        return v.isoformat()
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    return v


def main():
    plan = json.load(sys.stdin)
    results, clients = {}, {}

    def subst(v):
        if isinstance(v, str):
            def ref(m):
                cid, field = m.group(1), m.group(2)
                return str(results[cid]["ok"][field])
            return re.sub(r"\$\{([^.}]+)\.([^}]+)\}", ref, v)
        if isinstance(v, dict):
            if set(v) == {"b64"}:
                return base64.b64decode(v["b64"])
            return {k: subst(x) for k, x in v.items()}
        if isinstance(v, list):
            return [subst(x) for x in v]
        return v

    def service(who, version):
        key = (who, version)
        if key not in clients:
            user, password = plan["creds"][who]
            c = zeep.Client(plan["wsdl"], wsse=UsernameToken(user, password, use_digest=True))
            clients[key] = c.bind("EdocService", PORTS[version])
        return clients[key]

    for call in plan["calls"]:
        svc = service(call["as"], call["version"])
        args = subst(call.get("args") or {})
        until = subst(call.get("until") or "")
        deadline = time.time() + 15
        while True:
            try:
                r = getattr(svc, call["op"])(**args)
                res = {"ok": plain(zeep.helpers.serialize_object(r, dict))}
            except Fault as f:
                res = {"fault": fault_json(f)}
            except Exception as e:  # reported, asserted on by the Go test
                res = {"error": "%s: %s" % (type(e).__name__, e)}
            if not until or until in json.dumps(res, ensure_ascii=False) or time.time() > deadline:
                break
            time.sleep(0.2)
        results[call["id"]] = res
    json.dump({"zeep": zeep.__version__, "results": results}, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
