#!/usr/bin/env python3
"""Writes foreign-hashes.json: one hash per import format, made by tools
other than the crates that verify them (Python's hashlib, glibc's crypt
through Perl), plus published vectors where a format has one (Firebase's
README, the Argon2 reference test). Costs are low so
the tests that use every entry stay quick; the bounds are exercised apart.

    python3 shared/password/tests/data/make-foreign-hashes.py
"""
import base64, hashlib, json, os, subprocess

def b64(b, pad=True):
    s = base64.b64encode(b).decode()
    return s if pad else s.rstrip("=")

def pbkdf2_phc(digest, pw, salt, i):
    dk = hashlib.pbkdf2_hmac(digest, pw.encode(), salt, i)
    return f"$pbkdf2-{digest}$i={i},l={len(dk)}${b64(salt, False)}${b64(dk, False)}"

entries = []

# bcrypt: glibc/libxcrypt crypt(3), salt fixed so the file is reproducible.
pw = "correct horse battery staple"
bc = subprocess.check_output(
    ["perl", "-e", 'print crypt($ARGV[0], $ARGV[1])', pw, "$2b$05$abcdefghijklmnopqrstuu"]).decode()
entries.append({"format": "bcrypt", "hash": bc, "password": pw})

# scrypt PHC (ln=10, r=8, p=1).
pw, salt = "scrypt pässword", b"saltsaltsaltsalt"
dk = hashlib.scrypt(pw.encode(), salt=salt, n=1 << 10, r=8, p=1, dklen=32)
entries.append({"format": "scrypt",
                "hash": f"$scrypt$ln=10,r=8,p=1${b64(salt, False)}${b64(dk, False)}",
                "password": pw})

entries.append({"format": "pbkdf2-sha256",
                "hash": pbkdf2_phc("sha256", "pbkdf2 pw 256", b"0123456789abcdef", 1000),
                "password": "pbkdf2 pw 256"})
entries.append({"format": "pbkdf2-sha512",
                "hash": pbkdf2_phc("sha512", "pbkdf2 pw 512", b"fedcba9876543210", 1000),
                "password": "pbkdf2 pw 512"})

# Django's stored form: iterations, the salt as text, standard base64.
pw, salt = "lètmein", "seasalt"
dk = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt.encode(), 1000)
entries.append({"format": "django-pbkdf2-sha256",
                "hash": f"pbkdf2_sha256$1000${salt}${b64(dk)}", "password": pw})

# Argon2i: the reference implementation's test vector (phc-winner-argon2 src/test.c).
entries.append({"format": "argon2",
                "hash": "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA",
                "password": "password"})

# Firebase: the vector of github.com/firebase/scrypt README.
entries.append({"format": "firebase-scrypt",
                "hash": "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
                "salt": "42xEC+ixf3L2lw==",
                "password": "user1password",
                "firebase": {"signerKey": "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
                             "saltSeparator": "Bw==", "rounds": 8, "memCost": 14}})

# Legacy salted SHA, digests in hex as legacy tables keep them. The second
# password is not in NFKC form ("ﬁ" ligature): the old system hashed it as typed.
pw, salt = "legacy pw 256", "s4lt"
entries.append({"format": "sha256-salted-suffix",
                "hash": hashlib.sha256((pw + salt).encode()).hexdigest(),
                "salt": salt, "password": pw})
pw, salt = "\ufb01sh legacy 512", "pepper-not"
entries.append({"format": "sha512-salted-prefix",
                "hash": hashlib.sha512((salt + pw).encode()).hexdigest(),
                "salt": salt, "password": pw})

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "foreign-hashes.json")
with open(out, "w") as f:
    json.dump(entries, f, indent=2, ensure_ascii=False)
    f.write("\n")
