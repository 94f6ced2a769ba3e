#!/usr/bin/python3
"""Independent SOAP client (python3-zeep 4.2.1 from Debian) for the interop
test of adapters/soap: go test starts our server and runs

    /usr/bin/python3 test/interop/zeep_client.py WSDL_URL USER PASSWORD

It calls every operation of testdata/citizen.wsdl over the SOAP 1.1 and the
SOAP 1.2 binding, with a UsernameToken PasswordDigest, including the call
that faults, and prints one JSON object the Go test asserts on. Use Debian's
/usr/bin/python3: the pyenv python3 on PATH does not see dist-packages.
"""
import datetime
import json
import sys

import zeep
from zeep.exceptions import Fault
from zeep.wsse.username import UsernameToken

LGSP = {"lgsp": "urn:lgsp:error"}
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def fault_json(f):
    out = {"code": f.code, "message": f.message}
    if f.detail is not None:
        out["lgsp_code"] = f.detail.findtext(".//lgsp:code", namespaces=LGSP)
        for m in f.detail.iterfind(".//lgsp:message", namespaces=LGSP):
            out["message_" + m.get(XML_LANG, "")] = m.text
    return out


def call(fn):
    try:
        return {"ok": fn()}
    except Fault as f:
        return {"fault": fault_json(f)}
    except Exception as e:  # reported, asserted on by the Go test
        return {"error": "%s: %s" % (type(e).__name__, e)}


def main():
    url, user, password = sys.argv[1:4]
    client = zeep.Client(url, wsse=UsernameToken(user, password, use_digest=True))
    out = {"zeep": zeep.__version__}
    for version, port in (("1.1", "CitizenSoap11"), ("1.2", "CitizenSoap12")):
        svc = client.bind("CitizenService", port)

        def citizen():
            r = svc.GetCitizen(Id="001085000123", AsOf=datetime.date(2026, 3, 1))
            return {"Id": r.Id, "FullName": r.FullName, "BirthDate": r.BirthDate.isoformat(),
                    "Age": r.Age, "Address": list(r.Address)}

        def exchange(i):
            return lambda: dict(zeep.helpers.serialize_object(svc.GetExchange(Id=i)))

        out[version] = {
            "GetCitizen": call(citizen),
            "GetExchange": call(exchange("ex-1")),
            "GetExchangeFault": call(exchange("ex-404")),
        }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
