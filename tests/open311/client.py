"""Drives a LAPOR! node with third-party Open311 clients from PyPI (civicbot and georeport).

Usage: client.py file   BASE JURISDICTION API_KEY
       client.py follow BASE JURISDICTION SERVICE_REQUEST_ID START_DATE

Prints one JSON object with what the libraries returned; tests/tests/open311_client.rs checks it against the
node. Nothing here parses the node's answers by hand: the libraries do.
"""
import json
import sys

from civicbot.http import HttpError, HttpTransport, RateLimiter
from civicbot.open311 import Open311Client
from civicbot.registry import Endpoint
from georeport import GeoReport


def civic(base, jurisdiction):
    endpoint = Endpoint(id="lapor-kupang", name="LAPOR! Kupang", base_url=base + "/open311/v2", write=True)
    transport = HttpTransport(timeout=60, rate_limiter=RateLimiter(min_interval=0))
    return Open311Client(endpoint, transport=transport, jurisdiction_id=jurisdiction)


def as_list(x):
    """xmltodict gives a dict for one element and a list for several."""
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def file(base, jurisdiction, api_key):
    out = {}
    c = civic(base, jurisdiction)
    services = c.list_services()
    out["service_codes"] = [s["service_code"] for s in services]
    code = services[0]["service_code"]
    definition = c.get_service_definition(code)
    out["attribute_codes"] = [a["code"] for a in definition["attributes"]]
    # validate_remote: the library checks the payload against the node's live service list and definition.
    sent = c.create_request(
        code, dry_run=False, confirm="SEND", api_key=api_key, validate_remote=True,
        lat=-10.1585, lng=123.5910, address_string="Jl. Timor Raya, Oesapa, Kota Kupang",
        description="Jembatan kayu di Oesapa rapuh dan berbahaya bagi anak sekolah.",
        email="yohanes.tefa@example.id", first_name="Yohanes", last_name="Tefa", phone="+6281337001122",
        attributes={"kind": "complaint", "title": "Jembatan rapuh di Oesapa"},
    )
    out["created"] = sent.response
    sid = sent.response[0]["service_request_id"]
    out["get_request"] = c.get_request(sid)
    out["list_by_id"] = c.list_requests(service_request_ids=[sid])
    out["list_open"] = c.list_requests(service_code=code, status="open")
    try:
        c.create_request(code, dry_run=False, confirm="SEND", api_key="o311k_not-a-key",
                         lat=-10.16, lng=123.59, description="Ini tidak boleh tersimpan sama sekali.")
        out["bad_key"] = None
    except HttpError as e:
        out["bad_key"] = {"status": e.status, "body": json.loads(e.body)}
    try:
        c.get_request("KPG-0000000000")
        out["missing"] = None
    except HttpError as e:
        out["missing"] = {"status": e.status, "body": json.loads(e.body)}

    g = GeoReport(base + "/open311/v2", jurisdiction=jurisdiction, output_format="xml")
    out["xml_service_codes"] = [s["service_code"] for s in as_list(g.get_service_list())]
    xml_def = g.get_service_definition(code)
    out["xml_attribute_codes"] = [a["code"] for a in as_list(xml_def["attributes"]["attribute"])]
    out["xml_requests"] = as_list(g.get_service_requests(service_request_id=sid))
    out["xml_request"] = g.get_service_request(sid)
    j = GeoReport(base + "/open311/v2", jurisdiction=jurisdiction, output_format="json")
    out["json_requests_open"] = j.get_service_requests(status="open", service_code=code)
    return out


def follow(base, jurisdiction, sid, start):
    out = {}
    c = civic(base, jurisdiction)
    out["get_request"] = c.get_request(sid)
    # mySociety's servicerequestupdates, through the library's own transport and URL building.
    out["updates"] = c.http.get_json(c._url("servicerequestupdates"), c._params(start_date=start))
    g = GeoReport(base + "/open311/v2", jurisdiction=jurisdiction, output_format="xml")
    out["xml_request"] = g.get_service_request(sid)
    return out


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "file":
        result = file(*sys.argv[2:5])
    elif mode == "follow":
        result = follow(*sys.argv[2:6])
    else:
        raise SystemExit("mode must be file or follow")
    print(json.dumps(result))
