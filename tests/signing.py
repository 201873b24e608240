"""Request signing for Capillary's HTTP API, as src/auth/auth.h specifies it (stdlib only).

Tests import this to sign their requests:

    from signing import derive_secret, signed_headers
    headers = signed_headers("merchant:42", secret, "POST", "/v1/orders", body)

    secret    = hex(HMAC-SHA256(master key, key id))
    signature = hex(HMAC-SHA256(secret as ASCII, method "\\n" path_and_query "\\n" timestamp "\\n" body))

Run as a script it answers a file of vectors, one per line, for the C++ agreement test:
    sign <secret> <method hex> <path hex> <timestamp> <body hex>
    secret <master key hex> <key id>
printing one lowercase hex digest per line.
"""

import hashlib
import hmac
import sys
import time

HEADER_KEY = "X-Capillary-Key"
HEADER_TIMESTAMP = "X-Capillary-Timestamp"
HEADER_SIGNATURE = "X-Capillary-Signature"


def _bytes(value):
    return value if isinstance(value, bytes) else value.encode()


def derive_secret(master_key: bytes, key_id: str) -> str:
    """The secret of the principal named by key_id ("merchant:42"), from the 32-byte master key."""
    return hmac.new(master_key, key_id.encode(), hashlib.sha256).hexdigest()


def sign(secret: str, method: str, path_and_query: str, timestamp: int, body=b"") -> str:
    """The X-Capillary-Signature value of a request."""
    message = b"\n".join([_bytes(method), _bytes(path_and_query), str(timestamp).encode(), _bytes(body)])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(key_id: str, secret: str, method: str, path_and_query: str, body=b"",
                   timestamp=None) -> dict:
    """The three headers that authenticate a request; timestamp defaults to now."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {
        HEADER_KEY: key_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_SIGNATURE: sign(secret, method, path_and_query, timestamp, body),
    }


def _answer(line: str) -> str:
    fields = line.split(" ")
    if fields[0] == "sign":
        secret, method, path, timestamp, body = fields[1:6]
        return sign(secret, bytes.fromhex(method), bytes.fromhex(path), int(timestamp),
                    bytes.fromhex(body))
    if fields[0] == "secret":
        return derive_secret(bytes.fromhex(fields[1]), fields[2])
    raise ValueError(f"unknown vector: {line!r}")


if __name__ == "__main__":
    with open(sys.argv[1]) as vectors:
        for vector in vectors:
            print(_answer(vector.rstrip("\n")))
