#!/usr/bin/env python3
"""Writes the seed corpora for tests/fuzz/fuzz_decode.c (corpus/decode) and
tests/fuzz/fuzz_datasets.c (corpus/datasets).

Standard library only. Each decode seed is a small image (a few hundred
bytes) built from its format's description, or a known bad input, so the
fuzzer starts inside every decoder stb_image offers libbyol: PNG (gray,
gray+alpha, RGB, RGBA, palette with transparency, 16-bit, interlaced), JPEG,
BMP (24-bit, 8-bit palette), TGA (raw, RLE, gray), GIF (two frames), PNM
(P5, P6), the refusals (empty, text, over data.max_pixels, PSD, HDR) and
every input the fuzzer found that stb 2.27 decodes from uninitialised
memory. Each dataset seed is an IDX file (MNIST family) or a CIFAR batch,
valid or broken in one way; CIFAR records are 3073 or 3074 bytes, so those
seeds hold one or two records. The gzip seeds (for the file reader,
data/zfile.c) are an IDX file as one member, as two, cut short, and
followed by bytes that are no member.

Usage: python3 tests/fuzz/make_data_corpus.py [CORPUS_FOLDER]
(default: tests/fuzz/corpus next to this script). Deterministic: re-running
it rewrites identical files.
"""

import os
import struct
import sys
import zlib

# An 8x8 baseline JPEG (quality 90, 4:2:0) of a red/green gradient over blue
# 128, written once by stb_image_write's stbi_write_jpg_to_func.
JPEG_8X8 = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb00840003020203020203030303040303040508050504"
    "04050a070706080c0a0c0c0b0a0b0b0d0e12100d0e110e0b0b1016101113141515150c0f1718161418121415"
    "140103040405040509050509140d0b0d14141414141414141414141414141414141414141414141414141414"
    "14141414141414141414141414141414141414141414ffc00011080008000803012200021101031101ffc401"
    "a20000010501010101010100000000000000000102030405060708090a0b1000020103030204030505040400"
    "00017d01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a1617"
    "18191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a73747576"
    "7778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6"
    "c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa0100030101010101010101"
    "010000000000000102030405060708090a0b1100020102040403040705040400010277000102031104052131"
    "061241510761711322328108144291a1b1c109233352f0156272d10a162434e125f11718191a262728292a35"
    "363738393a434445464748494a535455565758595a636465666768696a737475767778797a82838485868788"
    "898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7"
    "d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00e67e147eca9fea7fd0"
    "fd3f86bd67fe1953fe9cff00f1daf57f851ff2c7f0af59af8acdb8af33fad4bdf3a7c3de37ce3fb0a97ef3fa"
    "b1ffd9"
)


def drop_segments(jpeg, marker):
    """The JPEG without its segments of one marker (before the first scan)."""
    out, pos = jpeg[:2], 2
    while pos + 4 <= len(jpeg) and jpeg[pos + 1] != 0xDA:
        end = pos + 2 + struct.unpack(">H", jpeg[pos + 2:pos + 4])[0]
        if jpeg[pos + 1] != marker:
            out += jpeg[pos:end]
        pos = end
    return out + jpeg[pos:]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width, height, color, rows, depth=8, plte=b"", trns=b"", interlace=0, raw=None):
    """rows: list of byte strings (one per row, unfiltered); raw: the
    already filtered stream (for interlaced images)."""
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, interlace)
    data = raw if raw is not None else b"".join(b"\0" + r for r in rows)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
    if plte:
        out += chunk(b"PLTE", plte)
    if trns:
        out += chunk(b"tRNS", trns)
    return out + chunk(b"IDAT", zlib.compress(data)) + chunk(b"IEND", b"")


def bmp(width, height, bpp, pixel_rows, palette=b""):
    """pixel_rows top-down, already in BMP byte order; stored bottom-up."""
    stride = (len(pixel_rows[0]) + 3) & ~3
    data = b"".join(r.ljust(stride, b"\0") for r in reversed(pixel_rows))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bpp, 0, len(data), 2835, 2835,
                       len(palette) // 4, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(data), 0, 0, offset) + info + palette + data


def tga(width, height, kind, bpp, data, descriptor=0x20):
    return struct.pack("<BBBHHBHHHHBB", 0, 0, kind, 0, 0, 0, 0, 0, width, height, bpp,
                       descriptor) + data


# A 1x1 GIF with two frames: palette entry 0 (red), then entry 1 (black).
# LZW, 2-bit minimum code size: clear (4), the index, end (5), LSB first.
GIF_TWO_FRAMES = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00\x00"
                  b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00"
                  b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x4c\x01\x00;")


def adam7_2x2_gray():
    """A 2x2 gray interlaced PNG stream: passes 1, 6 and 7 hold pixels."""
    return b"\0\x10" + b"\0\x20" + b"\0\x30\x40"


def decode_seeds():
    yield "gray_4x4.png", png(4, 4, 0, [bytes(range(16 * y, 16 * y + 4)) for y in range(4)])
    yield "gray_alpha.png", png(2, 1, 4, [b"\x0a\x00\xc8\xff"])
    yield "rgb_3x2.png", png(3, 2, 2, [bytes(range(9)), bytes(range(100, 109))])
    yield "rgba.png", png(2, 1, 6, [b"\xc8\x64\x32\x00\x00\x00\xfa\xff"])
    yield "palette_trns.png", png(3, 2, 3, [b"\x00\x01\x02", b"\x02\x01\x00"],
                                  plte=b"\xff\x00\x00\x00\xff\x00\x0a\x14\x1e",
                                  trns=b"\x00\x80")
    yield "rgb16.png", png(2, 1, 2, [bytes(range(12))], depth=16)
    yield "interlaced.png", png(2, 2, 0, None, interlace=1, raw=adam7_2x2_gray())
    yield "photo_8x8.jpg", JPEG_8X8
    yield "cut_8x8.jpg", JPEG_8X8[:300]
    # stb 2.27 would decode these with uninitialised tables (found by the fuzzer)
    yield "no_dqt.jpg", drop_segments(JPEG_8X8, 0xDB)
    yield "no_dht.jpg", drop_segments(JPEG_8X8, 0xC4)
    yield "crash_jpeg_fill_bytes.jpg", b"\xff" * 30 + bytes.fromhex(
        "d8ffffc00011080408000803012200021100021101ffd91b50")
    yield "crash_jpeg_no_scan.jpg", bytes.fromhex("ffd8ffffc0001108040800080301220002110002"
                                                  "1101ffd9")
    yield "rgb_2x2.bmp", bmp(2, 2, 24, [b"\x00\x00\xff\x00\xff\x00", b"\xff\x00\x00\x00\x00\x02"])
    yield "palette.bmp", bmp(2, 1, 8, [b"\x01\x00"], palette=b"\x00\x00\xff\x00\xff\xff\xff\x00")
    yield "rgba.tga", tga(2, 1, 2, 32, b"\x32\x64\xc8\x00\xfa\x00\x00\xff", 0x28)
    yield "rle.tga", tga(4, 1, 10, 24, b"\x83\x10\x20\x30")
    yield "gray.tga", tga(2, 2, 3, 8, b"\x01\x02\x03\x04")
    yield "cut_raw.tga", tga(4, 4, 2, 24, bytes(20))
    yield "cut.pgm", b"P5\n4 4\n255\n" + bytes(15)
    # Found by the fuzzer: a PGM whose maximum value is not a number and
    # whose pixels are missing, which stb 2.27 "decodes" from the heap.
    yield "crash_pnm_uninit.pgm", b"P5227\n22*\x80"
    yield "short_palette.png", png(3, 1, 3, [b"\x01\x05\x00"], plte=b"\x0a\x14\x1e\x28\x32\x3c")
    # Found by the fuzzer: an 8-bit BMP whose pixel data offset is 0, for
    # which stb 2.27 reads no palette and decodes from stack leftovers.
    yield "crash_bmp_offset0.bmp", bmp(768, 1, 8, [bytes(768)])[:10] + bytes(4) + \
        bmp(768, 1, 8, [bytes(768)])[14:80]
    yield "short_palette.bmp", bmp(3, 1, 8, [b"\x01\x07\x00"],
                                   palette=b"\x1e\x14\x0a\x00\x3c\x32\x28\x00")
    # Found by the fuzzer: a raw 32-bit TGA far shorter than its header
    # says, which stb 2.27 "decodes" into uninitialised memory.
    yield "crash_tga_uninit.tga", bytes.fromhex("00000200002f3d1b002028002f001b002028")
    yield "two_frames.gif", GIF_TWO_FRAMES
    yield "gray.pgm", b"P5\n2 2\n255\n\x00\x07\x80\xff"
    yield "rgb.ppm", b"P6\n# a comment\n1 2\n255\n\x02\x00\x00\x00\x00\xfa"
    yield "empty.png", b""
    yield "text.jpg", b"this is not an image\n"
    yield "bomb.png", png(20000, 20000, 0, [])[:33] + chunk(b"IEND", b"")
    yield "layers.psd", b"8BPS\x00\x01" + bytes(20)
    yield "radiance.hdr", b"#?RADIANCE\nFORMAT=32-bit_rle_rgbe\n\n-Y 1 +X 1\n\x80\x80\x80\x80"


def idx(dims, data=None, kind=0x08):
    """Big-endian IDX: 0, 0, element type, dimension count, dims, elements."""
    count = 1
    for d in dims:
        count *= d
    if data is None:
        data = bytes((7 * i + 1) & 0xFF for i in range(count))
    return bytes([0, 0, kind, len(dims)]) + struct.pack(">%dI" % len(dims), *dims) + data


def cifar(labels):
    """One record per label tuple: the label byte(s), then R, G, B planes."""
    out = b""
    for n, lab in enumerate(labels):
        planes = bytes((n * 31 + c * 71 + p * 3) & 0xFF for c in range(3) for p in range(1024))
        out += bytes(lab) + planes
    return out


def gzip_member(data):
    """One gzip member (mtime 0, so the bytes never change)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    return z.compress(data) + z.flush()


def dataset_seeds():
    yield "images_3x2x3.idx", idx([3, 2, 3])
    yield "images_1x28x28.idx", idx([1, 28, 28])
    yield "labels_5.idx", idx([5], bytes([2, 0, 5, 9, 1]))
    yield "short.idx", idx([3, 2, 3])[:-1]
    yield "long.idx", idx([3, 2, 3]) + b"\0"
    yield "header_only.idx", idx([2, 2, 2], b"")
    yield "float_type.idx", idx([1, 1, 1], b"\0\0\0\0", kind=0x0D)
    yield "zero_dim.idx", idx([0, 4, 4], b"")
    yield "huge_dims.idx", bytes([0, 0, 8, 3]) + b"\xff" * 12
    yield "four_dims.idx", idx([1, 1, 1, 1])
    yield "bad_magic.idx", b"\x01\x02\x08\x03" + bytes(12)
    yield "cifar10_2.bin", cifar([(3,), (9,)])
    yield "cifar100_1.bin", cifar([(19, 99)])
    yield "cifar10_bad_label.bin", cifar([(1,), (12,)])
    yield "cifar_odd_size.bin", cifar([(1,)])[:-5]
    labels = idx([5], bytes([2, 0, 5, 9, 1]))
    yield "labels_5.idx.gz", gzip_member(labels)
    yield "labels_5_two_members.idx.gz", gzip_member(labels[:6]) + gzip_member(labels[6:])
    yield "labels_5_cut.idx.gz", gzip_member(labels)[:-6]
    yield "labels_5_trailing.idx.gz", gzip_member(labels) + b"JUNK"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    for folder, seeds in (("decode", decode_seeds), ("datasets", dataset_seeds)):
        out = os.path.join(root, folder)
        os.makedirs(out, exist_ok=True)
        for name, blob in seeds():
            with open(os.path.join(out, name), "wb") as f:
                f.write(blob)
    return 0


if __name__ == "__main__":
    sys.exit(main())
