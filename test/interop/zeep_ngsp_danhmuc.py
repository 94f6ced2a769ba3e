#!/usr/bin/python3
"""Independent SOAP client (python3-zeep 4.2.1 from Debian) for the NGSP
legacy service "Danh mục đơn vị hành chính": adapters/ngsp's interop test
starts test/sim/ngsp and runs

    /usr/bin/python3 test/interop/zeep_ngsp_danhmuc.py WSDL_URL TOKEN

zeep reads the simulator's ?wsdl (the same wsdl/consumed/ngsp-danhmuc.wsdl
our types are generated from), calls both operations with
Authorization: Bearer TOKEN, the call that faults, and one call without a
token, and prints one JSON object the Go test asserts on. Use Debian's
/usr/bin/python3: the pyenv python3 on PATH does not see dist-packages.
"""
import json
import sys

import requests
import zeep
from zeep.exceptions import Fault, TransportError

NS = {"dm": "http://ngsp.gov.vn/ws/danhmuc"}


def unit(u):
    return {"Ma": u.Ma, "Ten": u.Ten, "Cap": u.Cap, "MaCha": u.MaCha}


def call(fn):
    try:
        return {"ok": fn()}
    except Fault as f:
        if isinstance(f.detail, bytes):
            # not a SOAP fault: zeep hands over the raw answer (the
            # gateway's ams:fault for a call without a valid token)
            return {"rejected": f.detail.decode("utf-8", "replace")}
        out = {"code": f.code, "message": f.message}
        if f.detail is not None:
            out["ma_loi"] = f.detail.findtext(".//dm:MaLoi", namespaces=NS)
        return {"fault": out}
    except TransportError as e:
        return {"rejected": "HTTP %d %s" % (e.status_code, e.content)}
    except Exception as e:  # reported, asserted on by the Go test
        return {"error": "%s: %s" % (type(e).__name__, e)}


def client(url, token):
    session = requests.Session()
    if token:
        session.headers["Authorization"] = "Bearer " + token
    return zeep.Client(url, transport=zeep.transports.Transport(session=session))


def main():
    url, token = sys.argv[1:3]
    svc = client(url, token).service
    anon = client(url, "").service
    out = {
        "zeep": zeep.__version__,
        "get": call(lambda: unit(svc.LayDonViHanhChinh(Ma="008"))),
        "list": call(lambda: [unit(u) for u in svc.LayDanhSachDonViHanhChinh(MaDonViCha="008", Cap=2)]),
        "unknown": call(lambda: unit(svc.LayDonViHanhChinh(Ma="999"))),
        "no_token": call(lambda: unit(anon.LayDonViHanhChinh(Ma="008"))),
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
