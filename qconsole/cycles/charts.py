"""Growth charts: a text chart for the terminal and a PNG for the report.

The PNG is matplotlib's (qconsole.evaluation.report.cycles_chart) when matplotlib is installed;
qconsole does not depend on it, so without it a small PNG is drawn here with zlib alone (lines
and markers on a grid, no text: the report's caption names the colours), rather than leaving
the report without a picture.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

PALETTE = ((59, 125, 216), (220, 110, 40), (60, 160, 80), (170, 70, 170), (200, 60, 60),
           (90, 90, 90))
COLOUR_NAMES = ("blue", "orange", "green", "purple", "red", "grey")


def bar(value: float | None, width: int = 20) -> str:
    if value is None:
        return " " * width
    full = max(0, min(width, round(value * width)))
    return "█" * full + "·" * (width - full)


def text_chart(matrix: Any) -> str:
    """Per topic and cycle: a bar of the adapter's accuracy, the base's figure beside it."""
    lines = []
    for j, topic in enumerate(matrix.topics):
        lines.append(f"{topic}")
        for k, c in enumerate(matrix.cycles):
            a, b = matrix.adapter[k][j], matrix.base[k][j]
            if a is None:
                continue
            mark = " *" if matrix.trained_at.get(topic) == c else "  "
            lines.append(f"  cycle {c}{mark} {bar(a)} {100 * a:5.1f}%  (base "
                         f"{100 * (b or 0):5.1f}%)")
    lines.append("  (* the cycle that trained the topic)")
    return "\n".join(lines)


def _png_bytes(width: int, height: int, pixels: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def line_png(series: Sequence[Sequence[float | None]], *, width: int = 480, height: int = 260,
             dashed: Sequence[Sequence[float | None]] = ()) -> bytes:
    """Lines over x = 0..n-1, y in [0, 1]: ``series`` solid with markers, ``dashed`` thin."""
    pad = 24
    pixels = [bytearray(b"\xff" * (3 * width)) for _ in range(height)]

    def put(x: int, y: int, rgb: tuple[int, int, int]) -> None:
        if 0 <= x < width and 0 <= y < height:
            pixels[y][3 * x: 3 * x + 3] = bytes(rgb)

    for i in range(11):  # grid every 10 points
        y = height - pad - round(i / 10 * (height - 2 * pad))
        for x in range(pad, width - pad):
            put(x, y, (225, 225, 225) if i not in (0, 10) else (150, 150, 150))
    n = max((len(s) for s in (*series, *dashed)), default=1)

    def xy(i: int, v: float) -> tuple[int, int]:
        x = pad + (round(i * (width - 2 * pad) / (n - 1)) if n > 1 else (width - 2 * pad) // 2)
        return x, height - pad - round(max(0.0, min(1.0, v)) * (height - 2 * pad))

    def line(p: tuple[int, int], q: tuple[int, int], rgb: tuple[int, int, int], thick: int,
             dash: bool) -> None:
        steps = max(abs(q[0] - p[0]), abs(q[1] - p[1]), 1)
        for s in range(steps + 1):
            if dash and (s // 6) % 2:
                continue
            x = p[0] + round((q[0] - p[0]) * s / steps)
            y = p[1] + round((q[1] - p[1]) * s / steps)
            for dx in range(-thick, thick + 1):
                for dy in range(-thick, thick + 1):
                    put(x + dx, y + dy, rgb)

    for group, dash in ((dashed, True), (series, False)):
        for j, s in enumerate(group):
            rgb = PALETTE[j % len(PALETTE)]
            pts = [xy(i, v) for i, v in enumerate(s) if v is not None]
            for p, q in zip(pts, pts[1:], strict=False):
                line(p, q, rgb, 0 if dash else 1, dash)
            if not dash:
                for p in pts:
                    line(p, p, rgb, 3, False)
    return _png_bytes(width, height, pixels)


def growth_png(matrix: Any) -> tuple[bytes | None, str]:
    """(PNG, how it was drawn) of accuracy per topic over cycles, the base dashed."""
    from qconsole.evaluation.report import cycles_chart

    data = cycles_chart(matrix)
    if data is not None:
        return data, "matplotlib"
    series = [[row[j] for row in matrix.adapter] for j in range(len(matrix.topics))]
    base = [[row[j] for row in matrix.base] for j in range(len(matrix.topics))]
    names = ", ".join(f"{t} {COLOUR_NAMES[j % len(COLOUR_NAMES)]}"
                      for j, t in enumerate(matrix.topics))
    return line_png(series, dashed=base), (
        f"drawn without matplotlib: x = cycle 1..{len(matrix.cycles)}, y = accuracy 0-100% "
        f"(grid every 10 points), solid = adapter, dashed = base; {names}")
