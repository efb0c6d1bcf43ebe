#!/usr/bin/env python3
"""Crafts the byte-level image fixtures of tests/data/images/ from the good
ones made by tools/make_io_fixtures.sh (run that first):

  python3 tools/make_io_crafted.py

Good: orient_irot.heic (an irot property added to a HEIC by editing boxes).
Bad (tests/data/images/bad/): each file's comment names what is wrong; the
expected error codes are asserted in tests/unit/test_io.c (bad_corpus).
"""
import os
import random
import struct
import subprocess
import tempfile
import zlib

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
IMG = os.path.join(ROOT, 'tests', 'data', 'images')
BAD = os.path.join(IMG, 'bad')


def rd(name):
    with open(os.path.join(IMG, name), 'rb') as f:
        return f.read()


def wr(path, data):
    with open(path, 'wb') as f:
        f.write(data)


def png_chunk(typ, data):
    return struct.pack('>I', len(data)) + typ + data + struct.pack('>I', zlib.crc32(typ + data))


def png_ihdr_only(w, h):
    # A PNG whose IHDR claims w x h, with one tiny IDAT and IEND: a decoder
    # that allocates from the header before checking would ask for w*h*3.
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    return (b'\x89PNG\r\n\x1a\n' + png_chunk(b'IHDR', ihdr) +
            png_chunk(b'IDAT', zlib.compress(b'\0' * 16)) + png_chunk(b'IEND', b''))


def jpeg_set_size(data, w, h):
    # Rewrites the first SOF0/SOF2 marker's height and width (u16 each).
    i = 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF
        m, n = data[i + 1], struct.unpack('>H', data[i + 2:i + 4])[0]
        if m in (0xC0, 0xC1, 0xC2):
            return data[:i + 5] + struct.pack('>HH', h, w) + data[i + 9:]
        i += 2 + n
    raise SystemExit('no SOF')


def jpeg_scan_start(data):
    i = 2
    while True:
        m, n = data[i + 1], struct.unpack('>H', data[i + 2:i + 4])[0]
        if m == 0xDA:
            return i + 2 + n
        i += 2 + n


def heic_add_irot(data, angle):
    """Adds an 'irot' (angle * 90 degrees anticlockwise) to the primary
    item of a heif-enc output: appended to ipco, associated in ipma, and
    every box size and iloc file offset that moves is fixed up."""
    def box(off):
        return struct.unpack('>I4s', data[off:off + 8])
    assert box(0)[1] == b'ftyp'
    meta = box(0)[0]
    assert box(meta)[1] == b'meta'
    meta_size = box(meta)[0]
    kids, off = {}, meta + 12
    while off < meta + meta_size:
        sz, typ = box(off)
        kids[typ] = (off, sz)
        off += sz
    pitm = struct.unpack('>H', data[kids[b'pitm'][0] + 12:kids[b'pitm'][0] + 14])[0]
    iprp, iprp_sz = kids[b'iprp']
    ipco, ipco_sz = iprp + 8, box(iprp + 8)[0]
    assert box(ipco)[1] == b'ipco'
    n_props, p = 0, ipco + 8
    while p < ipco + ipco_sz:
        n_props += 1
        p += box(p)[0]
    ipma = ipco + ipco_sz
    ipma_sz = box(ipma)[0]
    assert box(ipma)[1] == b'ipma' and data[ipma + 8] == 0 and data[ipma + 11] & 1 == 0
    # ipma v0, 1-byte associations: entry_count u32, then item u16, n u8, n bytes.
    body = bytearray(data[ipma + 12:ipma + ipma_sz])
    count = struct.unpack('>I', body[:4])[0]
    q, out = 4, bytearray(body[:4])
    for _ in range(count):
        item, n = struct.unpack('>HB', body[q:q + 3])
        assoc = body[q + 3:q + 3 + n]
        if item == pitm:
            assoc += bytes([0x80 | (n_props + 1)])  # essential, new property
            n += 1
        out += struct.pack('>HB', item, n) + assoc
        q += 3 + (len(assoc) if item != pitm else len(assoc) - 1)
    irot = struct.pack('>I4sB', 9, b'irot', angle)
    new_ipma = struct.pack('>I', 12 + len(out)) + data[ipma + 4:ipma + 12] + bytes(out)
    grow = len(irot) + len(new_ipma) - ipma_sz
    res = bytearray(data[:ipco + ipco_sz] + irot + new_ipma + data[ipma + ipma_sz:])
    for at, old in ((meta, meta_size), (iprp, iprp_sz), (ipco, ipco_sz)):
        res[at:at + 4] = struct.pack('>I', old + (9 if at == ipco else grow))
    # iloc v1: offset/length/base_offset/index sizes, item_count u16, then
    # items: id u16, construction_method u16, data_ref u16, base_offset,
    # extent_count u16, extents (offset, length). Method 0 = file offsets,
    # which move by `grow` (everything after ipco shifts).
    iloc, _ = kids[b'iloc']
    ver = data[iloc + 8]
    assert iloc < ipco and ver in (0, 1)
    osz, lsz = data[iloc + 12] >> 4, data[iloc + 12] & 15
    bsz = data[iloc + 13] >> 4
    assert osz == 4 and bsz in (0, 4)
    n_items = struct.unpack('>H', data[iloc + 14:iloc + 16])[0]
    q = iloc + 16
    for _ in range(n_items):
        method = struct.unpack('>H', data[q + 2:q + 4])[0] & 15 if ver == 1 else 0
        q += 6 if ver == 1 else 4
        base = struct.unpack('>I', res[q:q + 4])[0] if bsz else 0
        if method == 0 and base:
            res[q:q + 4] = struct.pack('>I', base + grow)
        q += bsz
        n_ext = struct.unpack('>H', data[q:q + 2])[0]
        q += 2
        for _ in range(n_ext):
            if method == 0 and not base:
                o = struct.unpack('>I', res[q:q + 4])[0]
                res[q:q + 4] = struct.pack('>I', o + grow)
            q += osz + lsz
    return bytes(res)


def main():
    os.makedirs(BAD, exist_ok=True)
    # ---- good ----
    with tempfile.TemporaryDirectory() as t:
        # The pattern scaled to 128x64 (so the HEVC image is a whole 64x64
        # CTU multiple and ImageMagick writes no grid: libheif 1.15 garbles
        # grid images whose tiles overhang the output when an irot applies),
        # turned 90 degrees anticlockwise; irot = 3 (270 anticlockwise = 90
        # clockwise) turns it back to the canonical layout.
        subprocess.check_call(['/usr/bin/convert', os.path.join(IMG, 'quad.ppm'), '-sample', '128x64!',
                               '-rotate', '270', '-quality', '95', os.path.join(t, 'r.heic')])
        with open(os.path.join(t, 'r.heic'), 'rb') as f:
            wr(os.path.join(IMG, 'orient_irot.heic'), heic_add_irot(f.read(), 3))
    # A JPEG whose EXIF IFD0 offset points past the end: orientation is
    # ignored (the image is still fine).
    j = rd('orient_6.jpg')
    k = j.index(b'Exif\0\0') + 6
    bo = '<' if j[k:k + 2] == b'II' else '>'
    wr(os.path.join(IMG, 'exif_bad_offset.jpg'), j[:k + 4] + struct.pack(bo + 'I', 0xFFFFFFF0) + j[k + 8:])

    # ---- bad ----
    rnd = random.Random(1234)
    jpg, png, webp, heic = rd('quad.jpg'), rd('quad_rgb.png'), rd('quad_lossy.webp'), rd('quad.heic')
    bad = {
        # empty file -> E_FORMAT
        'empty.jpg': b'',
        # random bytes (no known magic) -> E_UNSUPPORTED
        'random.bin': bytes([0x42 ^ 0x13]) + bytes(rnd.randrange(256) for _ in range(511)),
        # a text file named .jpg -> E_UNSUPPORTED
        'text.jpg': b'This is not a JPEG, just text with a .jpg name.\n',
        # GIF is recognised but not supported -> E_UNSUPPORTED
        'tiny.gif': b'GIF89a\x01\x00\x01\x00\x00\x00\x00;',
        # cut inside the entropy-coded data -> E_FORMAT (truncated)
        'truncated.jpg': jpg[:jpeg_scan_start(jpg) + 40],
        'truncated_progressive.jpg': rd('quad_progressive.jpg')[:300],
        # cut inside IDAT -> E_FORMAT
        'truncated.png': png[:len(png) - 40],
        'truncated.webp': webp[:len(webp) // 2],
        'truncated.heic': heic[:len(heic) - 300],
        'truncated.ppm': rd('quad.ppm')[:2000],
        # header claims 100000 x 100000 -> E_LIMIT before any allocation
        'huge.png': png_ihdr_only(100000, 100000),
        # JPEG sizes are 16-bit: 65000 x 65000 (4225 Mpx) -> E_LIMIT
        'huge.jpg': jpeg_set_size(jpg, 65000, 65000),
        # 65535 x 65535: over libjpeg's own 65500 maximum -> E_LIMIT
        'huge_65535.jpg': jpeg_set_size(jpg, 65535, 65535),
        'huge.ppm': b'P6\n100000 100000\n255\n' + b'\0' * 64,
        # scan data replaced by stuffed 0xFF bytes (all-ones Huffman codes,
        # which no table defines) -> E_FORMAT
        'bad_huffman.jpg': (lambda s: jpg[:s] + b'\xff\x00' * 40 + jpg[s + 80:])(jpeg_scan_start(jpg)),
        # IDAT CRC flipped -> E_FORMAT
        'bad_crc.png': (lambda i: png[:i] + bytes([png[i] ^ 0xFF]) + png[i + 1:])(
            png.index(b'IDAT') + 4 + struct.unpack('>I', png[png.index(b'IDAT') - 4:png.index(b'IDAT')])[0]),
        # IHDR width 0 (CRC valid) -> E_FORMAT
        'zero_width.png': png_ihdr_only(0, 32),
    }
    # A lossless (VP8L) header claiming 16384 x 16384 (268 Mpx) -> E_LIMIT.
    # VP8L: signature 0x2f, then 14 bits width-1, 14 bits height-1, alpha
    # bit, 3-bit version 0 (little-endian bit order), then the bitstream.
    bits = (16383) | (16383 << 14)
    vp8l = b'\x2f' + struct.pack('<I', bits) + bytes(rnd.randrange(256) for _ in range(27))
    body = b'WEBP' + b'VP8L' + struct.pack('<I', len(vp8l)) + vp8l
    bad['huge.webp'] = b'RIFF' + struct.pack('<I', len(body)) + body
    for name, data in bad.items():
        wr(os.path.join(BAD, name), data)
    print('wrote', len(bad), 'bad files and 2 crafted good ones')


if __name__ == '__main__':
    main()
