"""The drawing primitives of the bundled sample (`make_sample.py`): charts with their numbers written on them,
labelled geometry figures, signs with text, and flat shapes to count, all drawn with PIL.

Only Pillow's built-in font is used, so the same Pillow version draws the same bytes on any machine.
"""

from __future__ import annotations

import math

from PIL import Image, ImageDraw, ImageFont

W, H = 320, 240
WHITE, BLACK, GREY = (255, 255, 255), (20, 20, 20), (150, 150, 150)
COLORS = {"red": (220, 50, 47), "blue": (38, 139, 210), "green": (60, 160, 60), "orange": (240, 150, 30)}


def _font(size: int = 14):
    return ImageFont.load_default(size=size)


def _canvas(w: int = W, h: int = H) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    img = Image.new("RGB", (w, h), WHITE)
    return img, ImageDraw.Draw(img)


def bar_chart(title: str, labels: list[str], values: list[float], unit: str = "") -> Image.Image:
    img, d = _canvas()
    d.text((W // 2, 8), title, fill=BLACK, font=_font(15), anchor="mt")
    left, bottom, top = 40, H - 30, 40
    d.line([(left, top), (left, bottom), (W - 10, bottom)], fill=BLACK, width=2)
    step = (W - left - 20) / len(values)
    scale = (bottom - top - 20) / max(values)
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        x0 = left + 10 + i * step
        x1 = x0 + step * 0.6
        y = bottom - value * scale
        d.rectangle([x0, y, x1, bottom], fill=COLORS["blue"])
        d.text(((x0 + x1) / 2, y - 3), f"{value:g}{unit}", fill=BLACK, font=_font(12), anchor="mb")
        d.text(((x0 + x1) / 2, bottom + 4), label, fill=BLACK, font=_font(12), anchor="mt")
    return img


def line_chart(title: str, labels: list[str], values: list[float]) -> Image.Image:
    img, d = _canvas()
    d.text((W // 2, 8), title, fill=BLACK, font=_font(15), anchor="mt")
    left, bottom, top = 40, H - 30, 45
    d.line([(left, top), (left, bottom), (W - 10, bottom)], fill=BLACK, width=2)
    lo, hi = min(values) - 2, max(values) + 2
    step = (W - left - 40) / (len(values) - 1)
    pts = [(left + 15 + i * step, bottom - (v - lo) / (hi - lo) * (bottom - top)) for i, v in enumerate(values)]
    d.line(pts, fill=COLORS["red"], width=2)
    for (x, y), label, value in zip(pts, labels, values, strict=True):
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=COLORS["red"])
        d.text((x, y - 6), f"{value:g}", fill=BLACK, font=_font(12), anchor="mb")
        d.text((x, bottom + 4), label, fill=BLACK, font=_font(12), anchor="mt")
    return img


def polygon_figure(points: dict[str, tuple[int, int]], edges: dict[tuple[str, str], str], notes=()) -> Image.Image:
    """Labelled vertices, edges with length labels at their midpoints, free text notes (x, y, text)."""
    img, d = _canvas(280, 220)
    names = list(points)
    d.polygon([points[n] for n in names], outline=BLACK, width=2)
    cx = sum(p[0] for p in points.values()) / len(points)
    cy = sum(p[1] for p in points.values()) / len(points)
    for name, (x, y) in points.items():
        dx, dy = x - cx, y - cy
        norm = math.hypot(dx, dy) or 1
        d.text((x + 12 * dx / norm, y + 12 * dy / norm), name, fill=BLACK, font=_font(14), anchor="mm")
    for (a, b), label in edges.items():
        (x0, y0), (x1, y1) = points[a], points[b]
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        dx, dy = mx - cx, my - cy
        norm = math.hypot(dx, dy) or 1
        offset = 10 + _font(14).getlength(label) / 2 * abs(dx) / norm  # wide labels move further off a vertical edge
        d.text(
            (mx + offset * dx / norm, my + offset * dy / norm), label, fill=COLORS["blue"], font=_font(14), anchor="mm"
        )
    for x, y, text in notes:
        d.text((x, y), text, fill=COLORS["red"], font=_font(13), anchor="mm")
    return img


def circle_figure(radius_label: str) -> Image.Image:
    img, d = _canvas(280, 220)
    c, r = (140, 110), 80
    d.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], outline=BLACK, width=2)
    d.line([c, (c[0] + r, c[1])], fill=COLORS["blue"], width=2)
    d.ellipse([c[0] - 3, c[1] - 3, c[0] + 3, c[1] + 3], fill=BLACK)
    d.text((c[0] - 8, c[1] - 8), "O", fill=BLACK, font=_font(14), anchor="mm")
    d.text((c[0] + r / 2, c[1] - 10), radius_label, fill=COLORS["blue"], font=_font(14), anchor="mm")
    return img


def parallel_lines(angle_label: str, other_label: str) -> Image.Image:
    img, d = _canvas(280, 220)
    d.line([(20, 70), (260, 70)], fill=BLACK, width=2)
    d.line([(20, 160), (260, 160)], fill=BLACK, width=2)
    d.line([(96, 210), (184, 20)], fill=BLACK, width=2)  # transversal at 65 degrees
    d.text((250, 58), "a", fill=BLACK, font=_font(13), anchor="mm")
    d.text((250, 148), "b", fill=BLACK, font=_font(13), anchor="mm")
    d.text((184, 58), angle_label, fill=COLORS["red"], font=_font(14), anchor="mm")
    d.text((140, 148), other_label, fill=COLORS["red"], font=_font(14), anchor="mm")
    d.text((140, 200), "a // b", fill=GREY, font=_font(12), anchor="mm")
    return img


def sign(text_lines: list[str], shape: str, color: str, text_color=WHITE) -> Image.Image:
    """A sign on a pole against sky and grass."""
    img, d = _canvas(256, 192)
    d.rectangle([0, 0, 256, 140], fill=(200, 225, 245))
    d.rectangle([0, 140, 256, 192], fill=(120, 180, 90))
    d.rectangle([124, 100, 132, 185], fill=GREY)
    box = [58, 20, 198, 120]
    if shape == "octagon":
        cx, cy, r = 128, 70, 55
        d.polygon(
            [
                (cx + r * math.cos(math.pi / 8 + k * math.pi / 4), cy + r * math.sin(math.pi / 8 + k * math.pi / 4))
                for k in range(8)
            ],
            fill=COLORS[color],
        )
    elif shape == "circle":
        d.ellipse([73, 15, 183, 125], fill=WHITE, outline=COLORS[color], width=10)
    else:
        d.rectangle(box, fill=COLORS[color] if color in COLORS else WHITE, outline=BLACK, width=2)
    size = 22 if len(text_lines) == 1 else 15
    y0 = 70 - (len(text_lines) - 1) * size * 0.6
    for i, line in enumerate(text_lines):
        d.text((128, y0 + i * size * 1.2), line, fill=text_color, font=_font(size), anchor="mm")
    return img


def shapes_scene(objects: list[tuple[str, str]], first_cell: int = 0) -> Image.Image:
    """Non-overlapping shapes on a grid: (shape, color) pairs, laid out left to right, top to bottom."""
    img, d = _canvas()
    d.rectangle([0, 0, W, H], fill=(235, 235, 230))
    cols = 4
    for i, (shape, color) in enumerate(objects):
        col, row = (i + first_cell) % cols, (i + first_cell) // cols
        cx, cy, r = 45 + col * 75, 50 + row * 75, 24
        fill = COLORS[color]
        if shape == "circle":
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
        elif shape == "square":
            d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
        else:
            d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return img
