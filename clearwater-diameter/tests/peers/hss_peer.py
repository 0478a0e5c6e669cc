#!/usr/bin/env python3
"""A Cx HSS peer built on python-diameter (PyPI `python-diameter`, pinned
0.9.0), for interop tests of clearwater-diameter over real TCP.

The base protocol (CER/CEA, DWR/DWA, DPR/DPA, hop-by-hop and end-to-end
identifiers, framing) is python-diameter's own `Node`; the Cx messages are
assembled here AVP by AVP from the TS 29.229 codes (vendor 10415), because
python-diameter's ready-made Cx helpers use the IETF RFC 4740 SIP AVPs
(e.g. SIP-Auth-Data-Item 376 without vendor) and its Experimental-Result
helper an ETSI constant: none of them are used.

Behaviour:

* listens on --listen:--port (TCP; --port 0 picks a free port), accepts a
  CER from the --peer Origin-Hosts, advertises Cx (Auth-Application-Id and
  Vendor-Specific-Application-Id 10415/16777216, Supported-Vendor-Id
  10415);
* MAR: for a known --user, one SIP-Auth-Data-Item: "SIP Digest" (or
  "Unknown") gets SIP-Digest-Authenticate with HA1 = MD5(user:realm:password);
  "Digest-AKAv1-MD5" gets RAND/AUTN/XRES/CK/IK of TS 35.208 test set 1;
  an unknown user gets Experimental-Result 5001 (vendor 10415);
* SAR: Result-Code 2001 with User-Data (an IMS subscription XML) and
  Charging-Information; unknown user 5001 as above; REGISTRATION (1) and
  RE_REGISTRATION (2) register the Public-Identities at the SAR's
  Server-Name, the deregistration types forget them; after answering a SAR
  with Server-Assignment-Type REGISTRATION, unless --no-push, sends the
  client a PPR (new User-Data) and then an RTR (Deregistration-Reason 0,
  which forgets the registration) on the same connection;
* UAR: Experimental-Result 2002 (SUBSEQUENT_REGISTRATION) with Server-Name
  for a registered Public-Identity, else 2001 (FIRST_REGISTRATION) with
  Server-Capabilities; unknown user 5001;
* LIR: Result-Code 2001 with Server-Name for a registered identity,
  Experimental-Result 5003 (IDENTITY_NOT_REGISTERED) for a known one
  (sip:<user>), 5001 otherwise.

Everything it observes is printed to stdout, one line per event, flushed:

    READY port=<port>
    CER origin-host=<host>
    DWR origin-host=<host>
    MAR user=<impi> scheme="<scheme>" result=<code>
    SAR user=<impi> type=<n> result=<code>
    UAR user=<impi> result=<code>
    LIR impu=<impu> result=<code>
    PPA result=<code>       (or result=none if no answer came)
    RTA result=<code>
    DPR origin-host=<host>
    DONE                    (after the RTA)

Logs go to stderr (--log-level).
"""

import argparse
import hashlib
import logging
import socket
import sys
import threading
import time

try:
    from diameter.message import Message, MessageHeader
    from diameter.message.avp import Avp
    from diameter.message.avp.grouped import VendorSpecificApplicationId
    from diameter.node import Node
    from diameter.node.application import SimpleThreadingApplication
except ImportError as e:  # pragma: no cover - reported to the test
    print(f"ERROR python-diameter is not installed ({e}): "
          "python3 -m pip install python-diameter==0.9.0", flush=True)
    sys.exit(3)

# --- Numbers from the specifications (not python-diameter's constants) ---

TGPP = 10415
CX = 16777216

CMD_UAR, CMD_SAR, CMD_LIR, CMD_MAR, CMD_RTR, CMD_PPR = 300, 301, 302, 303, 304, 305

# RFC 6733 base AVPs (vendor 0).
USER_NAME = 1
AUTH_APPLICATION_ID = 258
VENDOR_SPECIFIC_APPLICATION_ID = 260
SESSION_ID = 263
ORIGIN_HOST = 264
VENDOR_ID = 266
RESULT_CODE = 268
AUTH_SESSION_STATE = 277
PROXY_INFO = 284
DESTINATION_REALM = 283
DESTINATION_HOST = 293
ORIGIN_REALM = 296
EXPERIMENTAL_RESULT = 297
EXPERIMENTAL_RESULT_CODE = 298
# RFC 5090 digest AVPs (vendor 0) inside SIP-Digest-Authenticate.
DIGEST_REALM = 104
DIGEST_QOP = 110
DIGEST_ALGORITHM = 111
DIGEST_HA1 = 121
# TS 29.229 §6.3 (vendor 10415).
PUBLIC_IDENTITY = 601
SERVER_NAME = 602
SERVER_CAPABILITIES = 603
MANDATORY_CAPABILITY = 604
OPTIONAL_CAPABILITY = 605
USER_DATA = 606
SIP_NUMBER_AUTH_ITEMS = 607
SIP_AUTHENTICATION_SCHEME = 608
SIP_AUTHENTICATE = 609
SIP_AUTHORIZATION = 610
SIP_AUTH_DATA_ITEM = 612
SIP_ITEM_NUMBER = 613
SERVER_ASSIGNMENT_TYPE = 614
DEREGISTRATION_REASON = 615
REASON_CODE = 616
REASON_INFO = 617
CHARGING_INFORMATION = 618
PRIMARY_EVENT_CHARGING_FUNCTION_NAME = 619
PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME = 621
SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME = 622
CONFIDENTIALITY_KEY = 625
INTEGRITY_KEY = 626
ASSOCIATED_IDENTITIES = 632
SIP_DIGEST_AUTHENTICATE = 635

# TS 29.229 table 6.3.1: these 3GPP AVPs are sent without the M bit.
NOT_MANDATORY = {ASSOCIATED_IDENTITIES, SIP_DIGEST_AUTHENTICATE}

DIAMETER_SUCCESS = 2001
DIAMETER_UNABLE_TO_COMPLY = 5012
# Experimental-Result codes, vendor 10415 (TS 29.229 §6.2).
DIAMETER_FIRST_REGISTRATION = 2001
DIAMETER_SUBSEQUENT_REGISTRATION = 2002
DIAMETER_ERROR_USER_UNKNOWN = 5001
DIAMETER_ERROR_IDENTITY_NOT_REGISTERED = 5003
REGISTRATION, RE_REGISTRATION = 1, 2
DEREGISTRATIONS = {4, 5, 6, 7, 8, 9, 10, 11}

SCHEME_DIGEST = "SIP Digest"
SCHEME_AKA = "Digest-AKAv1-MD5"

# TS 35.208 test set 1: inputs and the Milenage outputs it lists.
AKA_SQN = bytes.fromhex("ff9bb4d0b607")
AKA_AMF = bytes.fromhex("b9b9")
AKA_RAND = bytes.fromhex("23553cbe9637a89d218ae64dae47bf35")
AKA_MAC_A = bytes.fromhex("4a9ffac354dfafb3")  # f1
AKA_XRES = bytes.fromhex("a54211d5e3ba50bf")  # f2
AKA_CK = bytes.fromhex("b40ba9a3c58b2a05bbf0d987b21bf8cb")  # f3
AKA_IK = bytes.fromhex("f769bcd751044604127672711c6d3441")  # f4
AKA_AK = bytes.fromhex("aa689c648370")  # f5
# AUTN = (SQN xor AK) || AMF || MAC-A (TS 33.102 §6.3.2).
AKA_AUTN = bytes(s ^ a for s, a in zip(AKA_SQN, AKA_AK)) + AKA_AMF + AKA_MAC_A


def say(line):
    print(line, flush=True)


def avp(code, vendor=0, value=None, mandatory=None):
    """An AVP from python-diameter's dictionary, flags per TS 29.229."""
    if mandatory is None:
        mandatory = code not in NOT_MANDATORY if vendor == TGPP else True
    return Avp.new(code, vendor, value=value, is_mandatory=mandatory)


def find(avps, code, vendor=0):
    return [a for a in avps if a.code == code and a.vendor_id == vendor]


def first_value(avps, code, vendor=0):
    found = find(avps, code, vendor)
    return found[0].value if found else None


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def cx_application():
    return avp(VENDOR_SPECIFIC_APPLICATION_ID, value=[
        avp(VENDOR_ID, value=TGPP),
        avp(AUTH_APPLICATION_ID, value=CX),
    ])


def experimental_result(code):
    return avp(EXPERIMENTAL_RESULT, value=[
        avp(VENDOR_ID, value=TGPP),
        avp(EXPERIMENTAL_RESULT_CODE, value=code),
    ])


def user_data(impi, impu, version):
    """A small IMS subscription (TS 29.228 Annex E); `version` tells the
    SAA's (1) from the PPR's (2): it is the iFC priority and in the AS."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<IMSSubscription><PrivateID>{impi}</PrivateID><ServiceProfile>"
        f"<PublicIdentity><Identity>{impu}</Identity></PublicIdentity>"
        f"<InitialFilterCriteria><Priority>{version}</Priority><TriggerPoint>"
        "<ConditionTypeCNF>0</ConditionTypeCNF><SPT><ConditionNegated>0"
        "</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>"
        "</TriggerPoint><ApplicationServer>"
        f"<ServerName>sip:as{version}.example.net</ServerName>"
        "<DefaultHandling>0</DefaultHandling></ApplicationServer>"
        "</InitialFilterCriteria></ServiceProfile></IMSSubscription>"
    )


class HssPeer:
    def __init__(self, args):
        self.args = args
        self.users = set(args.user)
        # Public-Identity -> the Server-Name of the S-CSCF it is registered at.
        self.registered = {}
        self.lock = threading.Lock()
        self.node = CxNode(args.origin_host, args.realm,
                           ip_addresses=[args.listen], tcp_port=args.port,
                           vendor_ids=[TGPP])
        self.node.vendor_id = 0
        self.node.product_name = "python-diameter hss_peer.py"
        # python-diameter would check received Cx requests against its
        # RFC 4740 dictionary (SIP-Auth-Data-Item 376 …) and refuse correct
        # 3GPP ones with 5005; the grammar is checked here instead.
        self.node.validate_received_request_avps = False
        self.node.idle_timeout = args.watchdog
        self.node.wakeup_interval = min(6, max(1, args.watchdog // 2))
        peers = [self.node.add_peer(f"aaa://{p}", args.peer_realm or args.realm)
                 for p in args.peer]
        self.app = SimpleThreadingApplication(
            CX, is_auth_application=True, request_handler=self.handle)
        self.node.add_application(self.app, peers, realms=[args.realm])

    # --- answers ---

    def answer(self, req, result=None, experimental=None):
        """The common part of a Cx answer to `req`, as a plain Message."""
        hdr = MessageHeader(
            version=1, command_code=req.header.command_code,
            application_id=req.header.application_id,
            hop_by_hop_identifier=req.header.hop_by_hop_identifier,
            end_to_end_identifier=req.header.end_to_end_identifier)
        hdr.is_request = False
        hdr.is_proxyable = req.header.is_proxyable
        avps = [avp(SESSION_ID, value=text(first_value(req.avps, SESSION_ID))),
                cx_application()]
        if experimental is not None:
            avps.append(experimental_result(experimental))
        else:
            avps.append(avp(RESULT_CODE, value=result))
        avps += [avp(AUTH_SESSION_STATE, value=1),
                 avp(ORIGIN_HOST, value=self.args.origin_host.encode()),
                 avp(ORIGIN_REALM, value=self.args.realm.encode())]
        return Message(hdr, avps)

    def finish(self, req, ans):
        for p in find(req.avps, PROXY_INFO):
            ans.append_avp(p)
        return ans

    def handle(self, app, req):
        try:
            code = req.header.command_code
            if code == CMD_MAR:
                return self.mar(req)
            if code == CMD_SAR:
                return self.sar(req)
            if code == CMD_UAR:
                return self.uar(req)
            if code == CMD_LIR:
                return self.lir(req)
            say(f"UNEXPECTED command={code}")
            return self.finish(req, self.answer(req, DIAMETER_UNABLE_TO_COMPLY))
        except Exception as e:  # noqa: BLE001 - reported, then answered
            logging.exception("handling failed")
            say(f"ERROR {e!r}")
            return self.finish(req, self.answer(req, DIAMETER_UNABLE_TO_COMPLY))

    def mar(self, req):
        user = text(first_value(req.avps, USER_NAME))
        impu = text(first_value(req.avps, PUBLIC_IDENTITY, TGPP))
        item = find(req.avps, SIP_AUTH_DATA_ITEM, TGPP)
        scheme = "Unknown"
        if item:
            s = first_value(item[0].value, SIP_AUTHENTICATION_SCHEME, TGPP)
            scheme = text(s) if s is not None else scheme
        if user not in self.users:
            say(f'MAR user={user} scheme="{scheme}" result=5001')
            return self.finish(req, self.answer(
                req, experimental=DIAMETER_ERROR_USER_UNKNOWN))
        ans = self.answer(req, DIAMETER_SUCCESS)
        ans.append_avp(avp(USER_NAME, value=user))
        ans.append_avp(avp(PUBLIC_IDENTITY, TGPP, value=impu))
        ans.append_avp(avp(SIP_NUMBER_AUTH_ITEMS, TGPP, value=1))
        if scheme == SCHEME_AKA:
            kids = [
                avp(SIP_ITEM_NUMBER, TGPP, value=1),
                avp(SIP_AUTHENTICATION_SCHEME, TGPP, value=SCHEME_AKA),
                avp(SIP_AUTHENTICATE, TGPP, value=AKA_RAND + AKA_AUTN),
                avp(SIP_AUTHORIZATION, TGPP, value=AKA_XRES),
                avp(CONFIDENTIALITY_KEY, TGPP, value=AKA_CK),
                avp(INTEGRITY_KEY, TGPP, value=AKA_IK),
            ]
        else:
            realm = self.args.realm
            ha1 = hashlib.md5(
                f"{user}:{realm}:{self.args.password}".encode()).hexdigest()
            kids = [
                avp(SIP_ITEM_NUMBER, TGPP, value=1),
                avp(SIP_AUTHENTICATION_SCHEME, TGPP, value=SCHEME_DIGEST),
                avp(SIP_DIGEST_AUTHENTICATE, TGPP, value=[
                    avp(DIGEST_REALM, value=realm),
                    avp(DIGEST_ALGORITHM, value="MD5"),
                    avp(DIGEST_QOP, value="auth"),
                    avp(DIGEST_HA1, value=ha1),
                ]),
            ]
        ans.append_avp(avp(SIP_AUTH_DATA_ITEM, TGPP, value=kids))
        say(f'MAR user={user} scheme="{scheme}" result=2001')
        return self.finish(req, ans)

    def sar(self, req):
        user = text(first_value(req.avps, USER_NAME))
        impus = [text(a.value) for a in find(req.avps, PUBLIC_IDENTITY, TGPP)]
        kind = first_value(req.avps, SERVER_ASSIGNMENT_TYPE, TGPP)
        if user not in self.users:
            say(f"SAR user={user} type={kind} result=5001")
            return self.finish(req, self.answer(
                req, experimental=DIAMETER_ERROR_USER_UNKNOWN))
        impu = impus[0] if impus else f"sip:{user}"
        server = text(first_value(req.avps, SERVER_NAME, TGPP))
        with self.lock:
            for i in impus or [impu]:
                if kind in (REGISTRATION, RE_REGISTRATION):
                    self.registered[i] = server
                elif kind in DEREGISTRATIONS:
                    self.registered.pop(i, None)
        ans = self.answer(req, DIAMETER_SUCCESS)
        ans.append_avp(avp(USER_NAME, value=user))
        ans.append_avp(avp(USER_DATA, TGPP, value=user_data(user, impu, 1).encode()))
        ans.append_avp(self.charging())
        ans.append_avp(avp(ASSOCIATED_IDENTITIES, TGPP, value=[
            avp(USER_NAME, value=user)]))
        self.finish(req, ans)
        say(f"SAR user={user} type={kind} result=2001")
        if kind != REGISTRATION or self.args.no_push:
            return ans
        # Answer first, then push on the same connection, in order.
        self.app.send_answer(ans)
        client = text(first_value(req.avps, ORIGIN_HOST))
        client_realm = text(first_value(req.avps, ORIGIN_REALM))
        threading.Thread(target=self.push, daemon=True,
                         args=(client, client_realm, user, impu)).start()
        return None

    def uar(self, req):
        user = text(first_value(req.avps, USER_NAME))
        impu = text(first_value(req.avps, PUBLIC_IDENTITY, TGPP))
        if user not in self.users:
            say(f"UAR user={user} result=5001")
            return self.finish(req, self.answer(
                req, experimental=DIAMETER_ERROR_USER_UNKNOWN))
        with self.lock:
            server = self.registered.get(impu)
        if server is not None:
            result = DIAMETER_SUBSEQUENT_REGISTRATION
            ans = self.answer(req, experimental=result)
            ans.append_avp(avp(SERVER_NAME, TGPP, value=server))
        else:
            result = DIAMETER_FIRST_REGISTRATION
            ans = self.answer(req, experimental=result)
            ans.append_avp(self.capabilities())
        say(f"UAR user={user} result={result}")
        return self.finish(req, ans)

    def lir(self, req):
        impu = text(first_value(req.avps, PUBLIC_IDENTITY, TGPP))
        with self.lock:
            server = self.registered.get(impu)
        if server is not None:
            ans = self.answer(req, DIAMETER_SUCCESS)
            ans.append_avp(avp(SERVER_NAME, TGPP, value=server))
            result = DIAMETER_SUCCESS
        elif impu in {f"sip:{u}" for u in self.users}:
            result = DIAMETER_ERROR_IDENTITY_NOT_REGISTERED
            ans = self.answer(req, experimental=result)
        else:
            result = DIAMETER_ERROR_USER_UNKNOWN
            ans = self.answer(req, experimental=result)
        say(f"LIR impu={impu} result={result}")
        return self.finish(req, ans)

    def capabilities(self):
        return avp(SERVER_CAPABILITIES, TGPP, value=[
            avp(MANDATORY_CAPABILITY, TGPP, value=1),
            avp(OPTIONAL_CAPABILITY, TGPP, value=2),
            avp(SERVER_NAME, TGPP, value=self.args.scscf_uri),
        ])

    def charging(self):
        return avp(CHARGING_INFORMATION, TGPP, value=[
            avp(PRIMARY_EVENT_CHARGING_FUNCTION_NAME, TGPP,
                value="aaa://ecf.example.net"),
            avp(PRIMARY_CHARGING_COLLECTION_FUNCTION_NAME, TGPP,
                value="aaa://ccf1.example.net:3868"),
            avp(SECONDARY_CHARGING_COLLECTION_FUNCTION_NAME, TGPP,
                value="aaa://ccf2.example.net"),
        ])

    # --- requests to the S-CSCF ---

    def request(self, cmd, client, client_realm):
        hdr = MessageHeader(version=1, command_code=cmd, application_id=CX)
        hdr.is_request = True
        hdr.is_proxyable = True
        return Message(hdr, [
            avp(SESSION_ID, value=self.node.session_generator.next_id()),
            cx_application(),
            avp(AUTH_SESSION_STATE, value=1),
            avp(ORIGIN_HOST, value=self.args.origin_host.encode()),
            avp(ORIGIN_REALM, value=self.args.realm.encode()),
            avp(DESTINATION_HOST, value=client.encode()),
            avp(DESTINATION_REALM, value=client_realm.encode()),
        ])

    def send(self, name, req):
        try:
            ans = self.app.send_request(req, timeout=self.args.answer_timeout)
        except Exception as e:  # noqa: BLE001 - reported to the test
            say(f"{name} result=none error={e!r}")
            return None
        rc = first_value(ans.avps, RESULT_CODE)
        if rc is None:
            er = find(ans.avps, EXPERIMENTAL_RESULT)
            if er:
                rc = "experimental-" + str(
                    first_value(er[0].value, EXPERIMENTAL_RESULT_CODE))
        say(f"{name} result={rc}")
        return rc

    def push(self, client, client_realm, user, impu):
        time.sleep(self.args.push_delay)
        ppr = self.request(CMD_PPR, client, client_realm)
        ppr.append_avp(avp(USER_NAME, value=user))
        ppr.append_avp(avp(USER_DATA, TGPP, value=user_data(user, impu, 2).encode()))
        ppr.append_avp(self.charging())
        self.send("PPA", ppr)
        with self.lock:
            self.registered.pop(impu, None)
        rtr = self.request(CMD_RTR, client, client_realm)
        rtr.append_avp(avp(USER_NAME, value=user))
        rtr.append_avp(avp(PUBLIC_IDENTITY, TGPP, value=impu))
        rtr.append_avp(avp(DEREGISTRATION_REASON, TGPP, value=[
            avp(REASON_CODE, TGPP, value=0),
            avp(REASON_INFO, TGPP, value="administrative deregistration"),
        ]))
        self.send("RTA", rtr)
        say("DONE")


class CxNode(Node):
    """python-diameter's Node, reporting the base-protocol requests it
    answers and advertising Cx in a Vendor-Specific-Application-Id too."""

    def receive_cer(self, conn, message):
        say(f"CER origin-host={message.origin_host.decode()}")
        super().receive_cer(conn, message)

    def receive_dwr(self, conn, message):
        say(f"DWR origin-host={message.origin_host.decode()}")
        super().receive_dwr(conn, message)

    def receive_dwa(self, conn, message):
        say(f"DWA result={message.result_code}")
        super().receive_dwa(conn, message)

    def receive_dpr(self, conn, message):
        say(f"DPR origin-host={message.origin_host.decode()}")
        super().receive_dpr(conn, message)

    def _generate_answer(self, conn, msg):
        answer = super()._generate_answer(conn, msg)
        if msg.header.command_code == 257:
            answer.vendor_specific_application_id = [
                VendorSpecificApplicationId(vendor_id=TGPP,
                                            auth_application_id=CX)]
        return answer


def free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, default=3868,
                   help="TCP port to listen on (0: a free one; see READY)")
    p.add_argument("--listen", default="127.0.0.1")
    p.add_argument("--origin-host", default="hss.example.net")
    p.add_argument("--realm", default="example.net")
    p.add_argument("--peer", action="append",
                   help="Origin-Host of an S-CSCF allowed to connect "
                        "(repeatable; default scscf.example.net)")
    p.add_argument("--peer-realm", default=None,
                   help="the S-CSCFs' realm (default: --realm)")
    p.add_argument("--user", action="append",
                   help="a known private identity (repeatable; default "
                        "alice@example.net)")
    p.add_argument("--password", default="secret",
                   help="the users' digest password")
    p.add_argument("--scscf-uri", default="sip:scscf.example.net",
                   help="the Server-Name offered in UAA Server-Capabilities")
    p.add_argument("--no-push", action="store_true",
                   help="send no PPR/RTR after SAR REGISTRATION")
    p.add_argument("--push-delay", type=float, default=0.2,
                   help="seconds between the SAA and the PPR")
    p.add_argument("--answer-timeout", type=int, default=10,
                   help="seconds to wait for the PPA and the RTA")
    p.add_argument("--watchdog", type=int, default=30,
                   help="idle seconds before this peer sends a DWR")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args()
    args.peer = args.peer or ["scscf.example.net"]
    args.user = args.user or ["alice@example.net"]
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if args.port == 0:
        args.port = free_port(args.listen)

    peer = HssPeer(args)
    peer.node.start()
    say(f"READY port={args.port}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
