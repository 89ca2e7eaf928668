#!/usr/bin/env python3
"""Independent MIME parsing for the Rust tests of the outbound module.

usage: mime_check.py MESSAGE_FILE

Parses the message with Python's `email` package (policy=default, which
decodes RFC 2047 and RFC 2231) and prints JSON: the decoded headers, the
leaf parts (content type, charset, transfer encoding, decoded content with
line endings normalised to \n) and every defect the parser reported.
"""
import email
import email.policy
import json
import sys


def main() -> int:
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = [f"message: {d!r}" for d in msg.defects]
    headers = {}
    for name, value in msg.items():
        headers.setdefault(name, []).append(str(value))
        for d in getattr(value, "defects", ()):
            defects.append(f"{name}: {d!r}")
    parts = []
    for part in msg.walk():
        defects.extend(f"part {part.get_content_type()}: {d!r}" for d in part.defects)
        if part.is_multipart():
            continue
        content = part.get_content()
        if isinstance(content, bytes):
            content = content.decode("utf-8", "replace")
        parts.append({
            "content_type": part.get_content_type(),
            "charset": part.get_content_charset(),
            "cte": part.get("Content-Transfer-Encoding", ""),
            "content": content.replace("\r\n", "\n"),
        })
    print(json.dumps({
        "content_type": msg.get_content_type(),
        "boundary": msg.get_boundary(),
        "headers": headers,
        "parts": parts,
        "defects": defects,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
