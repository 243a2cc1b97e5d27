#!/usr/bin/env python3
"""Dollars per 1M requests per route, from the measured work of a request.

Inputs, each from a measurement in the repository:
- Argon2 evaluations per route at history 0 and 5 (tests/tests/e2e/hashing_cost.rs);
- AWS calls and capacity units per route (tests/tests/e2e/aws_calls.rs);
- the time of one Argon2 evaluation at one full vCPU (`make bench-argon2`);
and one assumption, the in-region latency of one DynamoDB call (billed as
Lambda duration while the function waits). Prices: us-east-1 list prices as
of 2025, on-demand, first tier (docs/cost.md).

    python3 bench/cost.py [--argon2-ms 20] [--ddb-ms 4] [--markdown]
"""

import argparse

PRICE = {
    "gbs_arm64": 0.0000133334,
    "gbs_x86_64": 0.0000166667,
    "lambda_request": 0.20 / 1e6,
    "http_api": 1.00 / 1e6,
    "wru": 0.625 / 1e6,
    "rru": 0.125 / 1e6,
    "kms": 0.03 / 1e4,
    "ses": 0.10 / 1e3,
}

# route: memory (MB, template.yaml), Argon2 evaluations, DynamoDB calls on
# the request path, of which sequential round trips (what the function waits
# for), WRU, RRU (request path and stream consumer together), KMS calls,
# emails sent. The calls and round trips are the measured ones pinned by
# tests/tests/e2e/aws_calls.rs (tests/data/aws_calls.json, docs/performance.md);
# the capacity units are estimated from the code (the emulator reports none).
ROUTES = {
    "status": (1024, 0, 5, 4, 2, 1.5, 0, 0),
    "change (history 0)": (1769, 2, 7, 6, 8, 1.5, 0, 1),
    "change (history 5)": (1769, 7, 7, 6, 8, 1.5, 0, 1),
    "forgot, known email": (1024, 0, 5, 5, 7, 1.5, 0, 1),
    "forgot, unknown email": (1024, 0, 5, 5, 4, 1.5, 0, 0),
    "reset (history 0)": (1769, 2, 8, 8, 10, 2, 0, 1),
    "reset (history 5)": (1769, 7, 8, 8, 10, 2, 0, 1),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--argon2-ms", type=float, default=20.0, help="one evaluation at one vCPU")
    ap.add_argument("--ddb-ms", type=float, default=4.0, help="assumed DynamoDB round-trip latency")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args()

    head = ["route", "MB", "Argon2", "ms billed", "Lambda arm64", "Lambda x86_64",
            "API+requests", "DynamoDB", "KMS+SES", "total arm64", "floor arm64", "x floor"]
    rows = []
    for route, (mb, evals, _calls, trips, wru, rru, kms, mails) in ROUTES.items():
        gb = mb / 1024
        ms = evals * args.argon2_ms + trips * args.ddb_ms + 1.0
        floor_ms = evals * args.argon2_ms
        arm = gb * ms / 1e3 * PRICE["gbs_arm64"] * 1e6
        x86 = gb * ms / 1e3 * PRICE["gbs_x86_64"] * 1e6
        fixed = (PRICE["http_api"] + PRICE["lambda_request"]) * 1e6
        ddb = (wru * PRICE["wru"] + rru * PRICE["rru"]) * 1e6
        other = (kms * PRICE["kms"] + mails * PRICE["ses"]) * 1e6
        total = arm + fixed + ddb + other
        floor = gb * floor_ms / 1e3 * PRICE["gbs_arm64"] * 1e6 + fixed + ddb + other
        rows.append([route, str(mb), str(evals), f"{ms:.0f}", f"${arm:.2f}", f"${x86:.2f}",
                     f"${fixed:.2f}", f"${ddb:.2f}", f"${other:.2f}", f"${total:.2f}",
                     f"${floor:.2f}", f"{total / floor:.2f}"])
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
        print("  ".join(h.ljust(w) for h, w in zip(head, widths)))
        for r in rows:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


if __name__ == "__main__":
    main()
