"""Spherical Video V2 metadata (`st3d` + `sv3d` with an equirectangular `proj`) written into the video
sample entry of an MP4, so players and `ffprobe` recognise 360 output. Box sizes up the chain are
updated, and when `moov` precedes `mdat` (faststart) every chunk offset moves by the inserted bytes."""

from __future__ import annotations

import struct

STEREO_MODES = {"mono": 0, "top-bottom": 1, "left-right": 2}
_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl"}
_VIDEO_ENTRIES = {b"avc1", b"avc3", b"hvc1", b"hev1"}


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def _full_box(kind: bytes, payload: bytes, version: int = 0, flags: int = 0) -> bytes:
    return _box(kind, struct.pack(">I", (version << 24) | flags) + payload)


def spherical_boxes(stereo: str = "mono") -> bytes:
    st3d = _full_box(b"st3d", struct.pack(">B", STEREO_MODES[stereo]))
    svhd = _full_box(b"svhd", b"ethereal-flame-studio\x00")
    prhd = _full_box(b"prhd", struct.pack(">iii", 0, 0, 0))
    equi = _full_box(b"equi", struct.pack(">IIII", 0, 0, 0, 0))
    sv3d = _box(b"sv3d", svhd + _box(b"proj", prhd + equi))
    return st3d + sv3d


def _children(data: bytes, start: int, end: int):
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        header = 8
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = end - pos
        yield kind, pos, header, size
        pos += size


def _find_video_entry(moov: bytes):
    """Returns (chain of size-field offsets from moov down to the sample entry, entry end offset)."""
    for kind, pos, header, size in _children(moov, 8, len(moov)):
        if kind != b"trak":
            continue
        found = _descend(moov, pos, header, size, [0, pos])
        if found:
            return found
    raise ValueError("no video track with an avc/hevc sample entry")


def _descend(data: bytes, pos: int, header: int, size: int, chain: list[int]):
    for kind, cpos, cheader, csize in _children(data, pos + header, pos + size):
        if kind in _CONTAINERS:
            found = _descend(data, cpos, cheader, csize, chain + [cpos])
            if found:
                return found
        elif kind == b"stsd":
            entries_start = cpos + cheader + 8  # version/flags + entry_count
            for ekind, epos, _eh, esize in _children(data, entries_start, cpos + csize):
                if ekind in _VIDEO_ENTRIES:
                    return chain + [cpos, epos], epos + esize
    return None


def _shift_chunk_offsets(moov: bytearray, delta: int) -> None:
    def walk(start: int, end: int):
        for kind, pos, header, size in _children(moov, start, end):
            if kind in _CONTAINERS:
                walk(pos + header, pos + size)
            elif kind in (b"stco", b"co64"):
                count = struct.unpack(">I", moov[pos + header + 4 : pos + header + 8])[0]
                base = pos + header + 8
                width, fmt = (4, ">I") if kind == b"stco" else (8, ">Q")
                for i in range(count):
                    at = base + i * width
                    (value,) = struct.unpack(fmt, moov[at : at + width])
                    moov[at : at + width] = struct.pack(fmt, value + delta)

    walk(8, len(moov))


def inject(path: str, stereo: str = "mono") -> None:
    with open(path, "rb") as f:
        data = f.read()
    top = list(_children(data, 0, len(data)))
    moov_pos, moov_size = next((p, s) for k, p, _h, s in top if k == b"moov")
    mdat_pos = next(p for k, p, _h, _s in top if k == b"mdat")
    moov = bytearray(data[moov_pos : moov_pos + moov_size])
    chain, entry_end = _find_video_entry(bytes(moov))
    extra = spherical_boxes(stereo)
    moov[entry_end:entry_end] = extra
    for at in chain:
        (size,) = struct.unpack(">I", moov[at : at + 4])
        moov[at : at + 4] = struct.pack(">I", size + len(extra))
    if moov_pos < mdat_pos:
        _shift_chunk_offsets(moov, len(extra))
    with open(path, "wb") as f:
        f.write(data[:moov_pos] + bytes(moov) + data[moov_pos + moov_size :])
