#!/usr/bin/env python3
"""Builds the seed corpora of the fuzz targets from clearwater-sip/tests/corpus.

Run from fuzz/: python3 make_seeds.py. Seeds are named seed-<hash>; inputs the
fuzzers found interesting are added by `cargo fuzz cmin` runs (see FUZZING.md).
"""
import glob, hashlib, os, re

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clearwater-sip", "tests", "corpus")
msgs = []
for pat in ("torture/*.sip", "torture-ipv6/*.sip", "torture-ipv6/archive/*", "realistic/*.sip"):
    for f in sorted(glob.glob(os.path.join(root, pat))):
        msgs.append(open(f, "rb").read())

def put(target, data):
    d = os.path.join("corpus", target)
    os.makedirs(d, exist_ok=True)
    name = "seed-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as fh:
        fh.write(data)

FAMILIES = {
    "header_via": ["via", "v"],
    "header_name_addr": ["from", "f", "to", "t", "contact", "m", "route", "record-route", "path",
                         "service-route", "p-asserted-identity", "p-preferred-identity",
                         "p-associated-uri", "p-called-party-id", "p-served-user", "history-info",
                         "diversion", "refer-to", "referred-by"],
    "header_simple": ["call-id", "i", "cseq", "max-forwards", "expires", "content-type", "c", "date",
                      "supported", "k", "require", "proxy-require", "allow", "content-length", "l"],
    "header_auth": ["www-authenticate", "proxy-authenticate", "authorization", "proxy-authorization"],
    "header_ims": ["p-charging-vector", "p-charging-function-addresses", "p-access-network-info",
                   "p-visited-network-id", "privacy", "security-client", "security-server",
                   "security-verify", "p-asserted-service", "p-preferred-service"],
    "header_misc": ["event", "o", "subscription-state", "accept-contact", "a", "reject-contact",
                    "session-expires", "x", "min-se", "retry-after", "reason", "warning", "rack",
                    "rseq", "timestamp", "request-disposition"],
}

for m in msgs:
    put("triage", m)
    head = re.split(rb"\r?\n\r?\n", m, maxsplit=1)[0]
    lines = re.split(rb"\r?\n(?![ \t])", head)
    first = lines[0].split(b" ")
    if len(first) >= 2 and not first[0].startswith(b"SIP/"):
        put("uri", first[1])
    for line in lines[1:]:
        if b":" not in line:
            continue
        name, value = line.split(b":", 1)
        name = name.strip().lower().decode("latin-1")
        value = value.strip()
        for target, names in FAMILIES.items():
            if name in names:
                put(target, value)
        for u in re.findall(rb"<([^<>]+)>", value):
            put("uri", u)

# Framer: pairs of messages, keep-alives, cut messages.
real = [m for m in msgs if b"Content-Length" in m]
for i, m in enumerate(real):
    put("framer", m + real[(i + 1) % len(real)])
    put("framer", b"\r\n\r\n" + m)
    put("framer", m[: len(m) // 2])
for extra in [b"\r\n", b"\r\n\r\n", b"\r\n\r\n\r\n", b"\r"]:
    put("framer", extra)

# A few hand-written values the corpus lacks.
for u in [b"tel:+1-201-555-0123;ext=1234", b"tel:7042;phone-context=example.com", b"urn:service:sos",
          b"sips:alice:pw@[2001:db8::1]:5061;transport=tls;lr?subject=x&h=%20",
          b"sip:%61lice@atlanta.com;transport=TCP", b"mailto:a@example.com"]:
    put("uri", u)
for v in [b"icid-value=AyretyU0dm+6O2IrT5tAFrbHLso=023551024;orig-ioi=a.net;term-ioi=b.net",
          b"ccf=192.0.2.10; ecf=[2001:db8::1]; ccf=\"aaa://ccf.example.net\"",
          b"ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=3929102;spi-s=4429109;port-c=5062;port-s=5064",
          b"3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=001010001000019B;network-provided", b"id;header"]:
    put("header_ims", v)
for v in [b"active;expires=600", b"terminated;reason=timeout;retry-after=30", b"1800;refresher=uac",
          b"SIP;cause=200;text=\"Call completed elsewhere\"", b"Q.850;cause=16",
          b"399 example.com \"Noisy\"", b"120 (I'm in a meeting)", b"776 1 INVITE", b"reg;id=1",
          b"*;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";require;explicit"]:
    put("header_misc", v)
for v in [b"Digest realm=\"atlanta.com\", nonce=\"84a4cc6f3082121f32b42a2187831a9e\", qop=\"auth,auth-int\", algorithm=SHA-256, opaque=\"x\", stale=FALSE",
          b"Digest username=\"bob\", realm=\"biloxi.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.com\", qop=auth, nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
          b"Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig"]:
    put("header_auth", v)
