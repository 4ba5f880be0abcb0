"""Generate the small WeThink-schema sample the recipe ships with (`examples/sample`).

    python -m data_prep.sample --out examples/sample

Every image is drawn here with PIL (charts with numbers, labelled geometry, signs with text, shapes to
count), and every answer is computed from the same numbers that are drawn, so the answers are right for
the image. Rows cover every canonical category and both reward methods, with the varied raw label
spellings a real export has. Deterministic: same Pillow, same bytes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class Item:
    images: dict[str, Callable[[], Image.Image]]  # relative path -> drawing
    problem: str
    answer: str
    category: str  # raw spelling, as an export would have it
    reward: str
    abilities: str | list[str]
    refined_cot: str
    extra: dict = field(default_factory=dict)


def _items() -> list[Item]:
    q = ["Q1", "Q2", "Q3", "Q4"]
    sales = [12, 18, 9, 15]
    sales_chart = {"chartqa/quarterly_sales.png": lambda: bar_chart("Quarterly Sales", q, sales)}
    fruit, fruit_n = ["apples", "bananas", "cherries"], [7, 4, 11]
    fruit_chart = {"chartqa/fruit_count.png": lambda: bar_chart("Fruit in the basket", fruit, fruit_n)}
    days, temps = ["Mon", "Tue", "Wed", "Thu", "Fri"], [14, 17, 21, 19, 23]
    temp_chart = {"chartqa/temperature.png": lambda: line_chart("Daytime temperature (C)", days, temps)}
    cities, pop = ["Avon", "Brill", "Cole"], [2.5, 4.0, 1.5]
    pop_chart = {"chartqa/city_population.png": lambda: bar_chart("Population (millions)", cities, pop)}
    y22, y23 = [10, 14, 8, 12], [11, 15, 13, 16]
    two_years = {
        "chartqa/sales_2022.png": lambda: bar_chart("Sales 2022", q, y22),
        "chartqa/sales_2023.png": lambda: bar_chart("Sales 2023", q, y23),
    }
    right_tri = {
        "geoqa/right_triangle.png": lambda: polygon_figure(
            {"A": (50, 180), "B": (230, 180), "C": (50, 45)},
            {("A", "B"): "4", ("A", "C"): "3", ("B", "C"): "x"},
            notes=[(62, 168, "90°")],
        )
    }
    angle_tri = {
        "geoqa/triangle_angles.png": lambda: polygon_figure(
            {"P": (40, 180), "Q": (240, 180), "R": (150, 40)},
            {},
            notes=[(70, 168, "50°"), (212, 168, "60°"), (150, 68, "x")],
        )
    }
    rect = {
        "geoqa/rectangle.png": lambda: polygon_figure(
            {"A": (25, 50), "B": (235, 50), "C": (235, 190), "D": (25, 190)}, {("A", "B"): "6 cm", ("B", "C"): "4 cm"}
        )
    }
    circle = {"geoqa/circle.png": lambda: circle_figure("r = 5")}
    iso = {
        "geoqa/isosceles.png": lambda: polygon_figure(
            {"A": (140, 30), "B": (93, 190), "C": (187, 190)}, {("A", "B"): "7", ("A", "C"): "7", ("B", "C"): "4"}
        )
    }
    square = {
        "geoqa/square.png": lambda: polygon_figure(
            {"A": (70, 40), "B": (210, 40), "C": (210, 180), "D": (70, 180)}, {("A", "B"): "3", ("B", "C"): "3"}
        )
    }
    parallel = {"geoqa/parallel_lines.png": lambda: parallel_lines("65°", "x")}
    stop = {"textvqa/stop_sign.png": lambda: sign(["STOP"], "octagon", "red")}
    hours = {"textvqa/bakery_hours.png": lambda: sign(["BAKERY", "OPEN", "9:00 - 17:00"], "rect", "orange", BLACK)}
    limit = {"textvqa/speed_limit.png": lambda: sign(["SPEED", "LIMIT", "30"], "circle", "red", BLACK)}
    street = {"textvqa/street_sign.png": lambda: sign(["Elm St"], "rect", "green")}
    price = {"textvqa/price_tag.png": lambda: sign(["APPLES", "$3 / kg"], "rect", "white", BLACK)}
    exit_sign = {"textvqa/exit_sign.png": lambda: sign(["EXIT"], "rect", "blue")}
    objs = [
        ("circle", "red"),
        ("square", "blue"),
        ("circle", "red"),
        ("triangle", "green"),
        ("square", "blue"),
        ("circle", "red"),
    ]
    scene = {"clevr/scene_1.png": lambda: shapes_scene(objs)}
    objs2 = [("circle", "orange"), ("triangle", "blue"), ("circle", "green"), ("square", "red")]
    two_scenes = {"clevr/scene_1.png": lambda: shapes_scene(objs), "clevr/scene_2.png": lambda: shapes_scene(objs2, 1)}
    n_circles = sum(s == "circle" for s, _ in objs)
    n_squares = sum(s == "square" for s, _ in objs)
    n_tri = sum(s == "triangle" for s, _ in objs)
    best_q = q[sales.index(max(sales))]
    mean_t = sum(temps) / len(temps)

    return [
        Item(
            sales_chart,
            "Which quarter has the highest sales?\nOptions: (A) Q1 (B) Q2 (C) Q3 (D) Q4",
            "B",
            "Multiple Choice",
            "rule",
            "chart understanding",
            f"The bars read Q1 = 12, Q2 = 18, Q3 = 9 and Q4 = 15. The tallest bar is {best_q} with 18, which is "
            "option (B).",
        ),
        Item(
            sales_chart,
            "What are the total sales over the four quarters? The total is ____.",
            str(sum(sales)),
            "fill-in-the-blank",
            "rule",
            ["chart understanding", "arithmetic"],
            f"Add the four bars: 12 + 18 + 9 + 15 = {sum(sales)}.",
        ),
        Item(
            sales_chart,
            "Describe the trend shown in the chart.",
            "Sales rise from 12 in Q1 to a peak of 18 in Q2, fall sharply to 9 in Q3, then recover to 15 in Q4.",
            "descriptive",
            "model",
            "chart understanding",
            "Q1 is 12, Q2 rises to 18 (the highest), Q3 drops to 9 (the lowest) and Q4 recovers to 15. So the "
            "trend is a rise, a sharp fall, then a recovery.",
        ),
        Item(
            sales_chart,
            "What is the title of the chart?",
            "Quarterly Sales",
            "Short Text",
            "Model",
            "OCR",
            'The text above the bars reads "Quarterly Sales".',
        ),
        Item(
            fruit_chart,
            "What is the difference between the largest and the smallest bar?",
            str(max(fruit_n) - min(fruit_n)),
            "numerical",
            "rule",
            ["chart understanding", "arithmetic"],
            "The largest bar is cherries with 11 and the smallest is bananas with 4, "
            f"so 11 - 4 = {max(fruit_n) - min(fruit_n)}.",
        ),
        Item(
            fruit_chart,
            "Are there more apples than bananas?",
            "Yes",
            "Yes/No",
            "rule",
            "chart understanding",
            "Apples have 7 and bananas have 4. 7 > 4, so yes.",
        ),
        Item(
            fruit_chart,
            "Which fruit has the most items?\n(A) apples\n(B) bananas\n(C) cherries",
            "C",
            "multiple-choice",
            "Rule",
            "chart understanding",
            "Cherries reach 11, more than apples (7) and bananas (4). The answer is (C).",
        ),
        Item(
            temp_chart,
            "On which day is the temperature highest?",
            "Fri",
            "short answer",
            "rule",
            "chart understanding",
            "The points read 14, 17, 21, 19 and 23. The highest value, 23, is on Fri.",
        ),
        Item(
            temp_chart,
            "Does the temperature ever drop from one day to the next?",
            "Yes",
            "yes_no",
            "rule",
            "chart understanding",
            "From Wed (21) to Thu (19) the temperature drops by 2, so yes.",
        ),
        Item(
            temp_chart,
            "What is the mean temperature over the five days?",
            f"{mean_t:g}",
            "Math",
            "rule",
            ["chart understanding", "arithmetic"],
            f"Sum: 14 + 17 + 21 + 19 + 23 = {sum(temps)}. Mean: {sum(temps)} / 5 = {mean_t:g}.",
        ),
        Item(
            temp_chart,
            "By how many degrees does the temperature rise from Mon to Fri? It rises by ____ degrees.",
            str(temps[-1] - temps[0]),
            "Fill in the blank",
            "rule",
            "chart understanding",
            f"Mon is 14 and Fri is 23, so it rises by 23 - 14 = {temps[-1] - temps[0]} degrees.",
        ),
        Item(
            pop_chart,
            "How many cities have a population above 2 million?",
            str(sum(p > 2 for p in pop)),
            "Numeric",
            "rule",
            ["chart understanding", "counting"],
            "Avon has 2.5, Brill 4 and Cole 1.5 million. Avon and Brill are above 2 million, so 2 cities.",
        ),
        Item(
            two_years,
            "The first chart shows 2022 and the second shows 2023. Which year has the larger total sales?",
            "2023",
            "short answer",
            "rule",
            ["chart understanding", "multi-image reasoning"],
            f"2022: 10 + 14 + 8 + 12 = {sum(y22)}. 2023: 11 + 15 + 13 + 16 = {sum(y23)}. 2023 is larger.",
        ),
        Item(
            two_years,
            "By how much did Q3 sales change from 2022 (first chart) to 2023 (second chart)?",
            str(y23[2] - y22[2]),
            "Numeric",
            "rule",
            ["chart understanding", "multi-image reasoning"],
            f"Q3 was 8 in 2022 and 13 in 2023, an increase of {y23[2] - y22[2]}.",
        ),
        Item(
            right_tri,
            "In the right triangle, find x.",
            "5",
            "math",
            "rule",
            ["geometry", "Pythagorean theorem"],
            "<think>The legs are 3 and 4 and x is the hypotenuse. By Pythagoras x^2 = 3^2 + 4^2 = 25, so x = "
            "5.</think>",
        ),
        Item(
            right_tri,
            "Describe the figure and explain how to find x.",
            "It is a right triangle ABC with the right angle at A, legs AC = 3 and AB = 4; x is the hypotenuse BC, "
            "found with the Pythagorean theorem: x = sqrt(3^2 + 4^2) = 5.",
            "Open-ended",
            "model",
            "geometry",
            "The figure is a right triangle with the right angle at A. The legs are 3 and 4 and the side "
            "opposite the right angle is x, so Pythagoras gives x = 5.",
        ),
        Item(
            angle_tri,
            "Find the value of x in degrees. x = ____",
            "70",
            "fill-in-the-blank",
            "rule",
            "geometry",
            "The angles of a triangle sum to 180. x = 180 - 50 - 60 = 70.",
        ),
        Item(
            rect,
            "What is the area of the rectangle?\nOptions: (A) 10 (B) 20 (C) 24 (D) 48",
            "C",
            "Multiple Choice",
            "rule",
            ["geometry", "area"],
            "Area = length x width = 6 x 4 = 24 square cm, which is option (C).",
        ),
        Item(
            rect,
            "What is the perimeter of the rectangle in cm?",
            "20",
            "numerical",
            "rule",
            ["geometry"],
            "Perimeter = 2 x (6 + 4) = 20 cm.",
        ),
        Item(
            circle,
            "What is the circumference of circle O? Give the answer in terms of \\pi.",
            "10\\pi",
            "math",
            "rule",
            ["geometry", "circle"],
            "The radius is 5, so the circumference is 2 \\pi r = 2 \\pi \\cdot 5 = 10\\pi.",
        ),
        Item(
            circle,
            "What is the area of circle O? Give the answer in terms of \\pi.",
            "25\\pi",
            "Math",
            "rule",
            ["geometry", "circle"],
            "The area is \\pi r^2 = \\pi \\cdot 5^2 = 25\\pi.",
        ),
        Item(
            iso,
            "What is the perimeter of triangle ABC?",
            "18",
            "Numeric",
            "rule",
            "geometry",
            "The sides are 7, 7 and 4, so the perimeter is 7 + 7 + 4 = 18.",
        ),
        Item(
            iso,
            "Is triangle ABC isosceles?",
            "Yes",
            "Yes/No",
            "rule",
            "geometry",
            "Sides AB and AC are both 7, two equal sides, so it is isosceles.",
        ),
        Item(
            square,
            "What is the length of the diagonal AC of square ABCD?",
            "3\\sqrt{2}",
            "math",
            "rule",
            ["geometry", "Pythagorean theorem"],
            "The sides are 3, so AC = sqrt(3^2 + 3^2) = sqrt(18) = 3\\sqrt{2}.",
        ),
        Item(
            parallel,
            "Lines a and b are parallel. Is angle x equal to 65°?",
            "Yes",
            "yes_no",
            "rule",
            "geometry",
            "x and the 65° angle are corresponding angles on the transversal of two parallel lines, so x = 65°. Yes.",
        ),
        Item(
            stop,
            "What word is written on the sign?",
            "STOP",
            "Short Text",
            "rule",
            ["OCR", "scene text"],
            "The red octagonal sign carries the white word STOP.",
        ),
        Item(
            stop,
            "Describe the sign in the image.",
            "A red octagonal stop sign with the white word STOP, on a grey pole in front of a blue sky and green "
            "grass.",
            "descriptive",
            "model",
            ["OCR", "scene description"],
            "I see a red eight-sided sign with the word STOP in white letters, mounted on a grey pole; the "
            "background is sky above grass.",
        ),
        Item(
            hours,
            "At what time does the bakery close?",
            "17:00",
            "short answer",
            "rule",
            "OCR",
            "The sign reads OPEN 9:00 - 17:00, so it closes at 17:00.",
        ),
        Item(
            hours,
            "How many hours a day is the bakery open?",
            "8",
            "Numeric",
            "rule",
            ["OCR", "arithmetic"],
            "It opens at 9:00 and closes at 17:00: 17 - 9 = 8 hours.",
        ),
        Item(
            limit,
            "What is the speed limit shown on the sign?",
            "30",
            "numerical",
            "rule",
            "OCR",
            "The round sign reads SPEED LIMIT 30.",
        ),
        Item(
            street,
            "Is this the sign for Oak Street?",
            "No",
            "Yes/No",
            "rule",
            "OCR",
            "The green sign reads Elm St, not Oak Street, so no.",
        ),
        Item(
            price,
            "How much do 2 kg of apples cost, in dollars?",
            "6",
            "Numeric",
            "rule",
            ["OCR", "arithmetic"],
            "The tag says apples cost $3 per kg, so 2 kg cost 2 x 3 = 6 dollars.",
        ),
        Item(
            exit_sign,
            "Which word appears on the blue sign?\n(A) PARK\n(B) EXIT\n(C) STOP\n(D) SHOP",
            "B",
            "multiple-choice",
            "rule",
            "OCR",
            "The blue sign reads EXIT, which is option (B).",
        ),
        Item(
            scene,
            "How many circles are there?",
            str(n_circles),
            "counting",
            "rule",
            "counting",
            f"Counting the round shapes: there are {n_circles} red circles.",
        ),
        Item(
            scene,
            "How many shapes are there in total?",
            str(len(objs)),
            "Numeric",
            "rule",
            "counting",
            f"There are {n_circles} circles, {n_squares} squares and {n_tri} triangle: {len(objs)} shapes.",
        ),
        Item(
            scene,
            "Are there more squares than triangles?",
            "Yes",
            "yes_no",
            "rule",
            ["counting", "comparison"],
            f"There are {n_squares} squares and {n_tri} triangle. {n_squares} > {n_tri}, so yes.",
        ),
        Item(
            scene,
            "<image>\nWhat color is the triangle?",
            "green",
            "Short Text",
            "rule",
            ["attribute recognition"],
            "The only triangle in the scene is green.",
        ),
        Item(
            scene,
            "What fraction of the shapes are circles?",
            "\\frac{1}{2}",
            "math",
            "rule",
            ["counting", "fractions"],
            f"{n_circles} of the {len(objs)} shapes are circles: {n_circles}/{len(objs)} = 1/2.",
        ),
        Item(
            scene,
            "Describe the objects in the image.",
            "Six flat shapes on a grey background: three red circles, two blue squares and one green triangle.",
            "Open-ended",
            "model",
            ["scene description", "counting"],
            "The image shows three red circles, two blue squares and one green triangle, laid out in rows on a "
            "light grey background.",
        ),
        Item(
            two_scenes,
            "How many circles are there in the two images combined?",
            str(n_circles + sum(s == "circle" for s, _ in objs2)),
            "counting",
            "rule",
            ["counting", "multi-image reasoning"],
            "The first image has 3 circles and the second has 2 (orange and green), so 5 in total.",
        ),
    ]


def build_rows(out_dir: str) -> list[dict]:
    """Draw every image into `out_dir/images/...` (once per path) and return the JSONL rows."""
    written: set[str] = set()
    rows = []
    for item in _items():
        for rel, draw in item.images.items():
            if rel not in written:
                path = os.path.join(out_dir, "images", rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                draw().quantize(colors=64, dither=Image.Dither.NONE).save(path, optimize=True)
                written.add(rel)
        paths = list(item.images)
        rows.append(
            {
                "problem": item.problem,
                "answer": item.answer,
                "category": item.category,
                "abilities": item.abilities,
                "refined_cot": item.refined_cot,
                "image_path": paths[0] if len(paths) == 1 else paths,
                "reward": item.reward,
            }
        )
    return rows


def write_sample(out_dir: str) -> str:
    """Write `out_dir/wethink_sample.jsonl` and its images; return the JSONL path."""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "wethink_sample.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for row in build_rows(out_dir):
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wethink-make-sample", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="examples/sample", help="output folder (default: examples/sample)")
    args = parser.parse_args(argv)
    path = write_sample(args.out)
    print(f"wrote {path} and images under {os.path.join(args.out, 'images')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
