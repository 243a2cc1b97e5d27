#!/usr/bin/env python3
"""Writes the seed corpus of every fuzz target into fuzz/seeds/<target>/,
from tests/data/vectors.json and the inputs the tests use. Deterministic:
run it again after changing the vectors (`python3 fuzz/make_seeds.py`)."""
import base64
import hashlib
import hmac
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = json.load(open(os.path.join(HERE, "..", "tests", "data", "vectors.json")))
# Must match fuzz/src/checks.rs.
HS256_SECRET = b"fuzz-hs256-secret-0123456789abcdef"
ISSUER, AUDIENCE, NOW = "https://issuer.example", "password-api", 1_711_929_600


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwt(header: dict, claims: dict, secret: bytes = HS256_SECRET) -> str:
    signing = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, signing.encode(), hashlib.sha256).digest()
    return signing + "." + b64url(sig)


def seeds():
    env = [base64.b64decode(e["envelope"]) for e in VECTORS["envelopes"] + VECTORS["rejected"]]
    yield "envelope", env + [b"", b"\x02\x01", b"\x02\x01" + b"\x00" * 36]

    cases = VECTORS["rsaOaep"]["cases"]
    bodies = [json.dumps({"keyId": "k2026-11", "encryptedKey": c["encryptedKey"]}) for c in cases]
    bodies += [
        '{"keyId":"unknown","encryptedKey":"AAAA"}',
        '{"keyId":"k2026-11","encryptedKey":"not base64!"}',
        '{"keyId":"k2026-11"}',
        '{"keyId":"k2026-11","encryptedKey":"AAAA","extra":1}',
        '{"keyId":1,"encryptedKey":[]}',
        "[]",
        "",
    ]
    yield "session_body", [b.encode() for b in bodies]

    plain = [e["plaintext"] for e in VECTORS["envelopes"] if "plaintext" in e]
    route_bodies = [(0, p) for p in plain] + [
        (0, '{"currentPassword":"OldP@ss-2026","newPassword":"correct horse battery staple"}'),
        (0, '{"newPassword":"x"}'),
        (0, '{"newPassword":null,"currentPassword":1}'),
        (1, "{}"),
        (1, '{"unexpected":true}'),
        (2, '{"sessionId":"abc","password":"correct horse battery staple"}'),
        (2, '{"sessionId":"abc"}'),
        (3, '{"email":"ユーザー@example.com"}'),
        (3, '{"email":"a@b.c","email":"d@e.f"}'),
        (4, '{"token":"t0k3n","newPassword":"correct horse battery staple"}'),
        (4, '{"token":"t","newPassword":"\\ud800"}'),
    ]
    yield "route_bodies", [bytes([r]) + b.encode() for r, b in route_bodies]

    yield "password_policy", [s.encode() for s in [
        "correct horse battery staple\njohn.smith92@example.com\nJohn Smith\n+81 90 1234 5678\nB-12345",
        "Smith1992!!\njohn.smith92@example.com\nJohn Smith",
        "hsimsnhoj-2026\njohn.smith@example.com\nJohn Smith",
        "ｐａｓｓｗｏｒｄ１２３４",
        "ﬁﬁﬁﬁﬁﬁﬁﬁ",
        "aaaaaaaaaaaa",
        "パスワードは秘密です",
        "Tr0ub4dor&3",
        "short",
        "x" * 129,
    ]]

    good = {"sub": "user-1", "iat": NOW, "exp": NOW + 600, "iss": ISSUER, "aud": AUDIENCE}
    tokens = [
        jwt({"alg": "HS256", "typ": "JWT"}, good),
        jwt({"alg": "HS256"}, dict(good, exp=NOW - 3600)),
        jwt({"alg": "HS256"}, dict(good, sub="")),
        jwt({"alg": "HS256"}, dict(good, aud="other")),
        jwt({"alg": "HS256"}, good, secret=b"wrong secret"),
        jwt({"alg": "EdDSA", "kid": "ed-1"}, good),
        jwt({"alg": "RS256", "kid": "ed-1"}, good),
        b64url(b'{"alg":"none"}') + "." + b64url(json.dumps(good).encode()) + ".",
        "Bearer " + jwt({"alg": "HS256"}, good),
        "a.b.c",
    ]
    yield "jwt", [t.encode() for t in tokens]

    yield "gateway", [s.encode() for s in [
        "",
        "cf-connecting-ip: 2001:db8::1",
        "cf-connecting-ip: 203.0.113.7, 198.51.100.1",
        "cf-connecting-ip:  ::ffff:192.0.2.1 ",
        "accept-language: ja-JP,ja;q=0.9,en;q=0.8",
        "accept-language: *;q=0, fr;q=1.5, en-GB",
        "x-client-hash: " + "a" * 129,
        "-x-client-hash\n-cf-ray",
        "cf-ipcountry: jp\ncf-ray: has space",
        "cf-ray: 8f1e2d3c4b5a6978-NRT\nx-client-hash: caf\xc3\xa9",
    ]]


def main():
    root = os.path.join(HERE, "seeds")
    shutil.rmtree(root, ignore_errors=True)
    for target, inputs in seeds():
        os.makedirs(os.path.join(root, target))
        for data in inputs:
            name = hashlib.sha1(data).hexdigest()
            with open(os.path.join(root, target, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
