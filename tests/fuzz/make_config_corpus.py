#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/fuzz_config.c.

Standard library only. A seed is settings text, optionally followed by a
NUL byte and a raw value for a free-text key (its first byte picks the
key). Each exercises one part of the syntax or one refusal: separators,
quoting with doubled quotes, what 1.2 and 1.3 wrote, the number and
boolean forms, and values full of the syntax's own characters.

Usage: python3 tests/fuzz/make_config_corpus.py [OUTPUT_FOLDER]
(default: tests/fuzz/corpus/config next to this script). Deterministic:
re-running it rewrites identical files.
"""

import os
import sys


def seeds():
    yield "separators", b" net.arch=cnn-small,threads=2\nnet.width=0.25\tseed=7 "
    yield "quoted", b'data.labels="la""b.gz" augment.mean="0.5, 0.5,0.5" augment.std=""'
    yield "old_checkpoint", (b"seed=7\nthreads=2\nnn.conv_algo=im2col\ntrain.batch_size=4\n"
                             b"train.total_steps=5\noptim.name=sgd\noptim.lr=0.4\n"
                             b"optim.weight_decay=0.001\noptim.nesterov=1\n")
    yield "old_backslash", b'data.labels="C:\\my data\\" augment.mean=a"b\\c'
    yield "numbers", (b"optim.lr=1e-3 optim.eps=1E-08 seed=007 threads=-0 net.width=.5 "
                      b"ema.tau_base=0.99 optim.weight_decay=4.9406564584124654e-324 "
                      b"loader.shuffle=true loader.drop_last=0")
    yield "bad_forms", b'optim.lr=0x1p3 seed=" 5" loader.shuffle=yes threads=+2'
    yield "bad_syntax", b'threads data.labels="unterminated'
    yield "bad_range", b"seed=99999999999999999999999 net.width=1e999"
    yield "raw_value", b'seed=1\x00\x02la"b\n=,\\ "" \t\xc3\xa9\xf0\x9f\x98\x80'
    yield "raw_quotes", b'\x00\x01"""x"" y=""\r\n'


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus", "config")
    os.makedirs(out, exist_ok=True)
    for name, blob in seeds():
        with open(os.path.join(out, name + ".txt"), "wb") as f:
            f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
