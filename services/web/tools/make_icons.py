"""Draw the app icons (the favicon's white L on the campaign red) as PNGs, with the standard library only.

Run from the repository root: `.venv/bin/python services/web/tools/make_icons.py`. The PNGs it writes are
committed; run it again only when the design changes."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "web_svc" / "static" / "icons"
RED = (0xA4, 0x06, 0x1D)
WHITE = (0xFF, 0xFF, 0xFF)
# The favicon's L on its 32-unit grid: two rectangles (x0, y0, x1, y1).
L_SHAPE = ((9.0, 8.0, 13.0, 24.0), (9.0, 20.0, 21.0, 24.0))
SAMPLES = ((0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75))


def in_rounded_square(x: float, y: float, radius: float) -> bool:
    cx = min(max(x, radius), 32 - radius)
    cy = min(max(y, radius), 32 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def in_l(x: float, y: float, scale: float) -> bool:
    # Scale about the L's own centre (15, 16) so a maskable icon keeps it inside the safe zone.
    ux, uy = 15 + (x - 15) / scale, 16 + (y - 16) / scale
    return any(x0 <= ux < x1 and y0 <= uy < y1 for x0, y0, x1, y1 in L_SHAPE)


def draw(size: int, *, maskable: bool) -> bytes:
    unit = 32 / size
    scale = 1.25 if not maskable else 1.0  # the L fills more of a plain icon; a maskable one stays central
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter type: none
        for px in range(size):
            bg = fg = 0
            for sx, sy in SAMPLES:
                x, y = (px + sx) * unit, (py + sy) * unit
                if maskable or in_rounded_square(x, y, 6.0):
                    bg += 1
                    if in_l(x, y, scale):
                        fg += 1
            alpha = bg / len(SAMPLES)
            mix = fg / bg if bg else 0.0
            colour = [round(r * (1 - mix) + w * mix) for r, w in zip(RED, WHITE, strict=True)]
            row += bytes(colour) + bytes([round(alpha * 255)])
        rows.append(bytes(row))
    return png(size, b"".join(rows))


def png(size: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for size in (192, 512):
        (OUT / f"icon-{size}.png").write_bytes(draw(size, maskable=False))
        (OUT / f"maskable-{size}.png").write_bytes(draw(size, maskable=True))


if __name__ == "__main__":
    main()
