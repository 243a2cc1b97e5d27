#!/usr/bin/env python3
"""A Secure Channel v2 client written only from the wire specification, with
the `cryptography` package (no code shared with the server). It reproduces
the known-answer vectors, then performs the handshake and sealed calls
against a running server.

usage: scv2_client.py VECTORS_JSON BASE_URL
"""
import base64
import json
import os
import struct
import sys
import time
import urllib.error
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 0x02
REQUEST, RESPONSE, CONFIRMATION = 1, 2, 3


def header(kind, ts_ms, nonce):
    return struct.pack(">BBQ", VERSION, kind, ts_ms) + nonce


def seal(key, kind, ts_ms, nonce, context, plaintext):
    head = header(kind, ts_ms, nonce)
    return head + AESGCM(key).encrypt(nonce, plaintext, head + context)


def open_envelope(key, envelope, kind, context):
    if len(envelope) < 38 or envelope[0] != VERSION or envelope[1] != kind:
        raise ValueError("malformed")
    nonce = envelope[10:22]
    return AESGCM(key).decrypt(nonce, envelope[22:], envelope[:22] + context)


def request_context(sid, method, route):
    return f"{sid}\n{method.upper()}\n{route}".encode("ascii")


def response_context(sid, request_nonce):
    return sid.encode("ascii") + b"\n" + request_nonce


def check_vectors(path):
    v = json.load(open(path))
    for e in v["envelopes"]:
        key = bytes.fromhex(e["key"])
        kind = int(e["type"])
        nonce = bytes.fromhex(e["nonce"])
        if kind == REQUEST:
            ctx = request_context(e["sessionId"], e["method"], e["route"])
        elif kind == RESPONSE:
            ctx = response_context(e["sessionId"], bytes.fromhex(e["requestNonce"]))
        else:
            ctx = e["sessionId"].encode()
        got = seal(key, kind, int(e["timestamp"]), nonce, ctx, e["plaintext"].encode())
        assert base64.b64encode(got).decode() == e["envelope"], e["name"]
    priv = serialization.load_pem_private_key(v["rsaOaep"]["privateKeyPkcs8Pem"].encode(), None)
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    for c in v["rsaOaep"]["cases"]:
        if c["valid"]:
            assert priv.decrypt(base64.b64decode(c["encryptedKey"]), oaep).hex() == c["key"]
    print(f"vectors ok ({len(v['envelopes'])} envelopes, RSA cases)")


class Client:
    def __init__(self, base):
        self.base = base.rstrip("/")
        self.gateway = {
            "Accept": "application/json",
            "X-Client-Hash": "spec-client-py",
            "Accept-Language": "en",
            "CF-Connecting-IP": "192.0.2.200",
            "Cf-Ray": "0000000000000001-PY",
            "cf-ipcountry": "XX",
        }

    def http(self, method, route, body=None, headers=None):
        req = urllib.request.Request(self.base + route, data=body, method=method)
        for k, val in {**self.gateway, **(headers or {})}.items():
            req.add_header(k, val)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()

    def handshake(self):
        status, headers, body = self.http("GET", "/web/v1/secure-channel/public-key")
        assert status == 200, body
        assert headers.get("cache-control", "").startswith("public, max-age="), headers
        data = json.loads(body)["data"]
        assert data["algorithm"] == "RSA-OAEP-256"
        public = serialization.load_der_public_key(base64.b64decode(data["publicKey"]))
        self.key = os.urandom(32)
        oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
        wrapped = base64.b64encode(public.encrypt(self.key, oaep)).decode()
        payload = json.dumps({"keyId": data["keyId"], "encryptedKey": wrapped}).encode()
        status, _, body = self.http("POST", "/web/v1/secure-channel/session", payload, {"Content-Type": "application/json"})
        assert status == 201, body
        data = json.loads(body)["data"]
        self.sid = data["sessionId"]
        confirmation = base64.b64decode(data["keyConfirmation"])
        assert open_envelope(self.key, confirmation, CONFIRMATION, self.sid.encode()) == b""
        print(f"handshake ok (session {len(self.sid)} chars, key confirmed)")

    def call(self, route, params, raw):
        nonce = os.urandom(12)
        ctx = request_context(self.sid, "POST", route)
        env = seal(self.key, REQUEST, int(time.time() * 1000), nonce, ctx, json.dumps(params).encode())
        headers = {"X-SC-Session-Id": self.sid, "X-SC-Version": "2"}
        if raw:
            headers["Content-Type"] = "application/octet-stream"
            body = env
        else:
            headers["Content-Type"] = "application/json;charset=UTF-8"
            body = base64.b64encode(env)
        status, resp_headers, resp = self.http("POST", route, body, headers)
        ctype = resp_headers.get("content-type", "")
        if ctype.startswith("application/json"):
            return status, json.loads(resp), False
        expected = "application/octet-stream" if raw else "text/plain;charset=UTF-8"
        assert ctype == expected, ctype
        envelope = resp if raw else base64.b64decode(resp)
        plain = open_envelope(self.key, envelope, RESPONSE, response_context(self.sid, nonce))
        return status, json.loads(plain), True


def main():
    check_vectors(sys.argv[1])
    c = Client(sys.argv[2])
    c.handshake()
    forgot = "/web/v1/system/auth/password/forgot"
    for raw in (True, False):
        status, body, sealed = c.call(forgot, {"email": "someone@example.com"}, raw)
        assert (status, sealed, body["success"], body["code"]) == (200, True, True, "2000"), body
    status, body, sealed = c.call("/web/v1/system/auth/password/reset", {"token": "x" * 43, "newPassword": "p"}, True)
    assert (status, sealed, body["code"]) == (400, True, "AUTH.RESET_TOKEN_INVALID"), body
    print("sealed calls ok (raw and base64 forms, success and error answers)")


if __name__ == "__main__":
    main()
