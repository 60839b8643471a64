#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/fuzz_safetensors.c.

Standard library only. Each seed is small (well under libFuzzer's default
4 KB input limit) and exercises one feature or one rejection path, so the
fuzzer starts from inputs that already reach deep into the reader.

Usage: python3 tests/fuzz/make_safetensors_corpus.py [OUTPUT_FOLDER]
(default: tests/fuzz/corpus/safetensors next to this script). Deterministic:
re-running it rewrites identical files.
"""

import json
import os
import struct
import sys

DTYPES = {"F32": ("<f", 4), "F64": ("<d", 8), "I64": ("<q", 8), "I32": ("<i", 4),
          "U8": ("<B", 1)}


def frame(header_text, data=b"", pad=True):
    """8-byte LE length + header (space padded to 8-byte alignment) + data."""
    raw = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    if pad:
        raw += b" " * ((-(8 + len(raw))) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def encode(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, values), packed in order."""
    header, blobs, offset = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, values in tensors:
        fmt, _ = DTYPES[dtype]
        blob = b"".join(struct.pack(fmt, v) for v in values)
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False)
    return frame(text, b"".join(blobs))


def tensor_json(dtype, shape, begin, end):
    return json.dumps({"dtype": dtype, "shape": shape, "data_offsets": [begin, end]})


def seeds():
    yield "valid_all_dtypes", encode([
        ("conv1.weight", "F32", [2, 1, 2, 2], [0.5 * i for i in range(8)]),
        ("fc.bias", "F64", [3], [1.0, -2.5, 1e-300]),
        ("bn1.num_batches_tracked", "I64", [], [3]),
        ("idx", "I32", [2, 2], [-1, 0, 1, 2147483647]),
        ("mask", "U8", [5], [0, 1, 2, 254, 255]),
    ], {"format": "pt", "net": "cnn_small"})
    yield "valid_scalar_and_empty", encode([
        ("empty", "F32", [0, 16], []),
        ("scalar", "F64", [], [0.25]),
        ("empty.tail", "U8", [3, 0], []),
    ])
    # Escapes a Python writer never produces: \u escapes, a surrogate pair,
    # whitespace between tokens, keys in an unusual order.
    escaped = ('{ "__metadata__" : {"note":"tab\\there \\"q\\" \\u00e9 \\ud83d\\ude00"},\n'
               '  "b\\u00e9ta" : {"shape":[2], "dtype":"I32", "data_offsets":[0, 8]},\n'
               '  "w\\/x\\\\y" : {"data_offsets":[8,9], "dtype":"U8", "shape":[1]} }')
    yield "valid_escapes", frame(escaped, struct.pack("<ii", 7, -7) + b"\x09")
    yield "valid_empty", frame("{}")
    yield "valid_unpadded", frame('{"a":' + tensor_json("U8", [2], 0, 2) + "}", b"xy",
                                  pad=False)

    good = encode([("a", "F32", [2], [1.0, 2.0])])
    yield "bad_header_length", struct.pack("<Q", len(good)) + good[8:]
    yield "bad_overlap", frame('{"a":' + tensor_json("F32", [2], 0, 8) + ',"b":'
                               + tensor_json("F32", [2], 4, 12) + "}", bytes(12))
    yield "bad_dtype", frame('{"h":' + tensor_json("BF16", [2], 0, 4) + "}", bytes(4))
    yield "bad_nbytes", frame('{"conv1.weight":' + tensor_json("F32", [64, 3, 3, 3], 0, 100)
                              + "}", bytes(100))
    yield "bad_duplicate", frame('{"d":' + tensor_json("U8", [1], 0, 1) + ',"d":'
                                 + tensor_json("U8", [1], 1, 2) + "}", b"ab")
    yield "bad_metadata_value", frame('{"__metadata__":{"epoch":3,"ok":"x"}}')
    yield "bad_json_trailing_comma", frame('{"a":' + tensor_json("U8", [1], 0, 1) + ",}", b"a")
    yield "bad_shape_overflow", frame('{"big":' + tensor_json("F32", [4294967296, 4294967296],
                                                              0, 0) + "}")
    yield "bad_deep_nesting", frame('{"bomb":' + "[" * 40 + "]" * 40 + "}")
    yield "bad_nul_name", frame('{"a\\u0000b":' + tensor_json("U8", [1], 0, 1) + "}", b"a")
    yield "bad_too_many_dims", frame('{"d":' + tensor_json("U8", [1] * 9, 0, 1) + "}", b"a")
    yield "bad_int_range", frame('{"n":' + tensor_json("U8", [-9223372036854775809], 0, 0)
                                 + "}")
    yield "bad_gap", frame('{"a":' + tensor_json("U8", [1], 0, 1) + ',"b":'
                           + tensor_json("U8", [1], 2, 3) + "}", b"abc")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "safetensors")
    os.makedirs(out, exist_ok=True)
    for name, blob in seeds():
        with open(os.path.join(out, name + ".safetensors"), "wb") as f:
            f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
