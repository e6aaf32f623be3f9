#!/usr/bin/env python3
"""Writes the starting corpus of both fuzz targets (fuzz/corpus/<target>/).

layer_request inputs are fields separated by 0xFF:
flags, authorization, x-api-key, cookie, query, content-type
(flags: bits 0-1 method, bit 2 a second Authorization header, bit 3 gRPC).
"""
import os
import sys

KNOWN = b"sk_fuzzKnownKey0123456789abcdefghij"
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")


def write(target, name, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


def request(flags=0, authorization=b"", api_key=b"", cookie=b"", query=b"", content_type=b""):
    return b"\xff".join([bytes([flags]), authorization, api_key, cookie, query, content_type])


seeds = {
    "known_header": request(authorization=b"Bearer " + KNOWN),
    "known_lowercase": request(authorization=b"bearer   " + KNOWN),
    "known_api_key": request(api_key=KNOWN),
    "known_cookie": request(cookie=b"a=1; api_key=" + KNOWN),
    "known_cookie_quoted": request(cookie=b'api_key="' + KNOWN + b'"'),
    "known_query": request(query=b"x=1&access_token=" + KNOWN),
    "known_grpc": request(flags=8, authorization=b"Bearer " + KNOWN),
    "known_head": request(flags=1, authorization=b"Bearer " + KNOWN),
    "missing": request(),
    "basic": request(authorization=b"Basic dXNlcjpwYXNz"),
    "malformed_space": request(authorization=b"Bearer a b"),
    "malformed_tab": request(authorization=b"Bearer\t" + KNOWN),
    "padding": request(authorization=b"Bearer abc=="),
    "padding_middle": request(authorization=b"Bearer ab=c"),
    "too_long": request(authorization=b"Bearer " + b"a" * 65),
    "obs_text": request(authorization=b"Bearer \xe9\xe9"),
    "two_headers": request(flags=4, authorization=b"Bearer " + KNOWN),
    "header_and_cookie": request(authorization=b"Bearer " + KNOWN, cookie=b"api_key=" + KNOWN),
    "header_and_query": request(authorization=b"Bearer " + KNOWN, query=b"access_token=" + KNOWN),
    "query_escaped": request(query=b"access%5Ftoken=sk%5FfuzzKnownKey0123456789abcdefghij"),
    "query_bad_escape": request(query=b"access_token=%zz"),
    "query_plus": request(query=b"access_token=a+b"),
    "query_twice": request(query=b"access_token=a&access_token=b"),
    "cookie_twice": request(cookie=b"api_key=a; api_key=b"),
    "unknown": request(authorization=b"Bearer sk_notAKnownKey"),
    "grpc_web": request(authorization=b"Bearer x y", content_type=b"application/grpc-web+proto"),
    "delete": request(flags=3, api_key=b"  " + KNOWN + b"  "),
}
for name, data in seeds.items():
    write("layer_request", name, data)

parse_seeds = [
    b"\x40Bearer abc", b"\x40bearer    abc==", b"\x40BEARER abc", b"\x40Bearer", b"\x40Bearer\tabc",
    b"\x40Basic abc", b"\x04Bearer abcdefgh", b"\x40  Bearer abc  ", b"\x40Bearer a=b", b"\x40Bearer ===",
    b"\x40Bearer \xff\xfe", b"\x40Bearerabc", b"\x40", b"\x40Bearer realm=\"x\"",
]
for i, data in enumerate(parse_seeds):
    write("parse_authorization", f"seed_{i:02d}", data)
print(f"wrote {len(seeds)} + {len(parse_seeds)} seeds under {os.path.normpath(root)}", file=sys.stderr)
