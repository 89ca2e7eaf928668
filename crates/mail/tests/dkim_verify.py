#!/usr/bin/env python3
"""Independent DKIM verification for the Rust tests of the outbound module.

usage: dkim_verify.py MESSAGE_FILE RECORDS_JSON

RECORDS_JSON maps DNS names to TXT values, e.g.
{"sel._domainkey.example.com": "v=DKIM1; k=rsa; p=..."}; no real DNS is
queried. Every DKIM-Signature of the message is verified with dkimpy
(Ed25519 needs PyNaCl). Prints {"results": [{"ok": bool, "error": str}, ...]}
in header order; exits 0 when all verify, 1 when one fails, 2 when the
modules are missing.
"""
import json
import sys

try:
    import dkim
    import nacl  # noqa: F401  dkimpy needs it for ed25519-sha256
except ImportError as exc:
    print(json.dumps({"error": f"missing module: {exc}; pip install dkimpy pynacl"}))
    sys.exit(2)


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        message = f.read()
    with open(sys.argv[2], encoding="utf-8") as f:
        records = json.load(f)

    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii")
        return records.get(name.rstrip("."), "").encode("ascii")

    count = sum(
        1 for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if line.lower().startswith(b"dkim-signature:")
    )
    verifier = dkim.DKIM(message, minkey=2048)
    results = []
    for idx in range(count):
        try:
            ok = bool(verifier.verify(idx=idx, dnsfunc=dnsfunc))
            results.append({"ok": ok, "error": "" if ok else "signature did not verify"})
        except dkim.DKIMException as exc:
            results.append({"ok": False, "error": str(exc)})
    print(json.dumps({"results": results}))
    return 0 if results and all(r["ok"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
