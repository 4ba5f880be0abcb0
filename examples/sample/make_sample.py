"""Make the small WeThink-schema sample the recipe ships with (this folder: `wethink_sample.jsonl` + `images/`).

    python examples/sample/make_sample.py --out examples/sample

An example generator, not part of the installed packages: the launchers prepare the committed JSONL, and
tests/test_data_sample.py checks that it is what this script makes.

The sample is a table of scenes: one or two images drawn with PIL (`drawing.py`) and the questions asked about
them, 40 rows over every canonical category and both reward methods, with the varied raw label spellings
(`category`, `reward`) a real export has. Where an answer follows arithmetically from the numbers a chart or
scene is drawn from (a total, a difference, a mean, a count), it is computed here from those same numbers, in
the row (`answer=str(sum(SALES))`). Every other answer (option letters, geometry results, sign text, yes/no,
descriptions) and every reasoning text is written out by hand and was checked against its image.
Deterministic: same Pillow, same bytes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from drawing import BLACK, bar_chart, circle_figure, line_chart, parallel_lines, polygon_figure, shapes_scene, sign


@dataclass(frozen=True)
class QA:
    """One row's question, answer and labels; `category` and `reward` are raw spellings, as an export has them."""

    problem: str
    answer: str
    category: str
    reward: str
    abilities: str | list[str]
    cot: str  # the row's refined_cot


@dataclass(frozen=True)
class Scene:
    """Images (relative path -> drawing; two images make a multi-image row) and the questions asked about them."""

    images: dict[str, Callable[[], Image.Image]]
    questions: list[QA]


# The numbers the charts and scenes are drawn from; the computed answers below use the same ones.
QUARTERS, SALES = ["Q1", "Q2", "Q3", "Q4"], [12, 18, 9, 15]
FRUIT, FRUIT_COUNT = ["apples", "bananas", "cherries"], [7, 4, 11]
DAYS, TEMPERATURES = ["Mon", "Tue", "Wed", "Thu", "Fri"], [14, 17, 21, 19, 23]
CITIES, POPULATION = ["Avon", "Brill", "Cole"], [2.5, 4.0, 1.5]
SALES_2022, SALES_2023 = [10, 14, 8, 12], [11, 15, 13, 16]
SHAPES_1 = [("circle", "red"), ("square", "blue"), ("circle", "red"), ("triangle", "green"), ("square", "blue"),
            ("circle", "red")]  # fmt: skip
SHAPES_2 = [("circle", "orange"), ("triangle", "blue"), ("circle", "green"), ("square", "red")]


def count(shapes: list[tuple[str, str]], kind: str) -> int:
    return sum(shape == kind for shape, _ in shapes)


BEST_QUARTER = QUARTERS[SALES.index(max(SALES))]
MEAN_TEMPERATURE = sum(TEMPERATURES) / len(TEMPERATURES)
CIRCLES, SQUARES, TRIANGLES = (count(SHAPES_1, kind) for kind in ("circle", "square", "triangle"))

SALES_CHART = {"chartqa/quarterly_sales.png": lambda: bar_chart("Quarterly Sales", QUARTERS, SALES)}
CLEVR_1 = {"clevr/scene_1.png": lambda: shapes_scene(SHAPES_1)}

SCENES = [
    Scene(SALES_CHART, [
        QA(problem="Which quarter has the highest sales?\nOptions: (A) Q1 (B) Q2 (C) Q3 (D) Q4",
           answer="B", category="Multiple Choice", reward="rule", abilities="chart understanding",
           cot=f"The bars read Q1 = 12, Q2 = 18, Q3 = 9 and Q4 = 15. The tallest bar is {BEST_QUARTER} with 18, "
               "which is option (B)."),
        QA(problem="What are the total sales over the four quarters? The total is ____.",
           answer=str(sum(SALES)), category="fill-in-the-blank", reward="rule",
           abilities=["chart understanding", "arithmetic"],
           cot=f"Add the four bars: 12 + 18 + 9 + 15 = {sum(SALES)}."),
        QA(problem="Describe the trend shown in the chart.",
           answer="Sales rise from 12 in Q1 to a peak of 18 in Q2, fall sharply to 9 in Q3, then recover to 15 in Q4.",
           category="descriptive", reward="model", abilities="chart understanding",
           cot="Q1 is 12, Q2 rises to 18 (the highest), Q3 drops to 9 (the lowest) and Q4 recovers to 15. So the "
               "trend is a rise, a sharp fall, then a recovery."),
        QA(problem="What is the title of the chart?",
           answer="Quarterly Sales", category="Short Text", reward="Model", abilities="OCR",
           cot='The text above the bars reads "Quarterly Sales".'),
    ]),
    Scene({"chartqa/fruit_count.png": lambda: bar_chart("Fruit in the basket", FRUIT, FRUIT_COUNT)}, [
        QA(problem="What is the difference between the largest and the smallest bar?",
           answer=str(max(FRUIT_COUNT) - min(FRUIT_COUNT)), category="numerical", reward="rule",
           abilities=["chart understanding", "arithmetic"],
           cot="The largest bar is cherries with 11 and the smallest is bananas with 4, "
               f"so 11 - 4 = {max(FRUIT_COUNT) - min(FRUIT_COUNT)}."),
        QA(problem="Are there more apples than bananas?",
           answer="Yes", category="Yes/No", reward="rule", abilities="chart understanding",
           cot="Apples have 7 and bananas have 4. 7 > 4, so yes."),
        QA(problem="Which fruit has the most items?\n(A) apples\n(B) bananas\n(C) cherries",
           answer="C", category="multiple-choice", reward="Rule", abilities="chart understanding",
           cot="Cherries reach 11, more than apples (7) and bananas (4). The answer is (C)."),
    ]),
    Scene({"chartqa/temperature.png": lambda: line_chart("Daytime temperature (C)", DAYS, TEMPERATURES)}, [
        QA(problem="On which day is the temperature highest?",
           answer="Fri", category="short answer", reward="rule", abilities="chart understanding",
           cot="The points read 14, 17, 21, 19 and 23. The highest value, 23, is on Fri."),
        QA(problem="Does the temperature ever drop from one day to the next?",
           answer="Yes", category="yes_no", reward="rule", abilities="chart understanding",
           cot="From Wed (21) to Thu (19) the temperature drops by 2, so yes."),
        QA(problem="What is the mean temperature over the five days?",
           answer=f"{MEAN_TEMPERATURE:g}", category="Math", reward="rule",
           abilities=["chart understanding", "arithmetic"],
           cot=f"Sum: 14 + 17 + 21 + 19 + 23 = {sum(TEMPERATURES)}. Mean: {sum(TEMPERATURES)} / 5 = "
               f"{MEAN_TEMPERATURE:g}."),
        QA(problem="By how many degrees does the temperature rise from Mon to Fri? It rises by ____ degrees.",
           answer=str(TEMPERATURES[-1] - TEMPERATURES[0]), category="Fill in the blank", reward="rule",
           abilities="chart understanding",
           cot=f"Mon is 14 and Fri is 23, so it rises by 23 - 14 = {TEMPERATURES[-1] - TEMPERATURES[0]} degrees."),
    ]),
    Scene({"chartqa/city_population.png": lambda: bar_chart("Population (millions)", CITIES, POPULATION)}, [
        QA(problem="How many cities have a population above 2 million?",
           answer=str(sum(p > 2 for p in POPULATION)), category="Numeric", reward="rule",
           abilities=["chart understanding", "counting"],
           cot="Avon has 2.5, Brill 4 and Cole 1.5 million. Avon and Brill are above 2 million, so 2 cities."),
    ]),
    Scene({
        "chartqa/sales_2022.png": lambda: bar_chart("Sales 2022", QUARTERS, SALES_2022),
        "chartqa/sales_2023.png": lambda: bar_chart("Sales 2023", QUARTERS, SALES_2023),
    }, [
        QA(problem="The first chart shows 2022 and the second shows 2023. Which year has the larger total sales?",
           answer="2023", category="short answer", reward="rule",
           abilities=["chart understanding", "multi-image reasoning"],
           cot=f"2022: 10 + 14 + 8 + 12 = {sum(SALES_2022)}. 2023: 11 + 15 + 13 + 16 = {sum(SALES_2023)}. "
               "2023 is larger."),
        QA(problem="By how much did Q3 sales change from 2022 (first chart) to 2023 (second chart)?",
           answer=str(SALES_2023[2] - SALES_2022[2]), category="Numeric", reward="rule",
           abilities=["chart understanding", "multi-image reasoning"],
           cot=f"Q3 was 8 in 2022 and 13 in 2023, an increase of {SALES_2023[2] - SALES_2022[2]}."),
    ]),
    Scene({"geoqa/right_triangle.png": lambda: polygon_figure(
        {"A": (50, 180), "B": (230, 180), "C": (50, 45)}, {("A", "B"): "4", ("A", "C"): "3", ("B", "C"): "x"},
        notes=[(62, 168, "90°")],
    )}, [
        QA(problem="In the right triangle, find x.",
           answer="5", category="math", reward="rule", abilities=["geometry", "Pythagorean theorem"],
           cot="<think>The legs are 3 and 4 and x is the hypotenuse. By Pythagoras x^2 = 3^2 + 4^2 = 25, so x = "
               "5.</think>"),
        QA(problem="Describe the figure and explain how to find x.",
           answer="It is a right triangle ABC with the right angle at A, legs AC = 3 and AB = 4; x is the hypotenuse "
                  "BC, found with the Pythagorean theorem: x = sqrt(3^2 + 4^2) = 5.",
           category="Open-ended", reward="model", abilities="geometry",
           cot="The figure is a right triangle with the right angle at A. The legs are 3 and 4 and the side "
               "opposite the right angle is x, so Pythagoras gives x = 5."),
    ]),
    Scene({"geoqa/triangle_angles.png": lambda: polygon_figure(
        {"P": (40, 180), "Q": (240, 180), "R": (150, 40)}, {},
        notes=[(70, 168, "50°"), (212, 168, "60°"), (150, 68, "x")],
    )}, [
        QA(problem="Find the value of x in degrees. x = ____",
           answer="70", category="fill-in-the-blank", reward="rule", abilities="geometry",
           cot="The angles of a triangle sum to 180. x = 180 - 50 - 60 = 70."),
    ]),
    Scene({"geoqa/rectangle.png": lambda: polygon_figure(
        {"A": (25, 50), "B": (235, 50), "C": (235, 190), "D": (25, 190)}, {("A", "B"): "6 cm", ("B", "C"): "4 cm"}
    )}, [
        QA(problem="What is the area of the rectangle?\nOptions: (A) 10 (B) 20 (C) 24 (D) 48",
           answer="C", category="Multiple Choice", reward="rule", abilities=["geometry", "area"],
           cot="Area = length x width = 6 x 4 = 24 square cm, which is option (C)."),
        QA(problem="What is the perimeter of the rectangle in cm?",
           answer="20", category="numerical", reward="rule", abilities=["geometry"],
           cot="Perimeter = 2 x (6 + 4) = 20 cm."),
    ]),
    Scene({"geoqa/circle.png": lambda: circle_figure("r = 5")}, [
        QA(problem="What is the circumference of circle O? Give the answer in terms of \\pi.",
           answer="10\\pi", category="math", reward="rule", abilities=["geometry", "circle"],
           cot="The radius is 5, so the circumference is 2 \\pi r = 2 \\pi \\cdot 5 = 10\\pi."),
        QA(problem="What is the area of circle O? Give the answer in terms of \\pi.",
           answer="25\\pi", category="Math", reward="rule", abilities=["geometry", "circle"],
           cot="The area is \\pi r^2 = \\pi \\cdot 5^2 = 25\\pi."),
    ]),
    Scene({"geoqa/isosceles.png": lambda: polygon_figure(
        {"A": (140, 30), "B": (93, 190), "C": (187, 190)}, {("A", "B"): "7", ("A", "C"): "7", ("B", "C"): "4"}
    )}, [
        QA(problem="What is the perimeter of triangle ABC?",
           answer="18", category="Numeric", reward="rule", abilities="geometry",
           cot="The sides are 7, 7 and 4, so the perimeter is 7 + 7 + 4 = 18."),
        QA(problem="Is triangle ABC isosceles?",
           answer="Yes", category="Yes/No", reward="rule", abilities="geometry",
           cot="Sides AB and AC are both 7, two equal sides, so it is isosceles."),
    ]),
    Scene({"geoqa/square.png": lambda: polygon_figure(
        {"A": (70, 40), "B": (210, 40), "C": (210, 180), "D": (70, 180)}, {("A", "B"): "3", ("B", "C"): "3"}
    )}, [
        QA(problem="What is the length of the diagonal AC of square ABCD?",
           answer="3\\sqrt{2}", category="math", reward="rule", abilities=["geometry", "Pythagorean theorem"],
           cot="The sides are 3, so AC = sqrt(3^2 + 3^2) = sqrt(18) = 3\\sqrt{2}."),
    ]),
    Scene({"geoqa/parallel_lines.png": lambda: parallel_lines("65°", "x")}, [
        QA(problem="Lines a and b are parallel. Is angle x equal to 65°?",
           answer="Yes", category="yes_no", reward="rule", abilities="geometry",
           cot="x and the 65° angle are corresponding angles on the transversal of two parallel lines, so x = 65°. "
               "Yes."),
    ]),
    Scene({"textvqa/stop_sign.png": lambda: sign(["STOP"], "octagon", "red")}, [
        QA(problem="What word is written on the sign?",
           answer="STOP", category="Short Text", reward="rule", abilities=["OCR", "scene text"],
           cot="The red octagonal sign carries the white word STOP."),
        QA(problem="Describe the sign in the image.",
           answer="A red octagonal stop sign with the white word STOP, on a grey pole in front of a blue sky and "
                  "green grass.",
           category="descriptive", reward="model", abilities=["OCR", "scene description"],
           cot="I see a red eight-sided sign with the word STOP in white letters, mounted on a grey pole; the "
               "background is sky above grass."),
    ]),
    Scene({"textvqa/bakery_hours.png": lambda: sign(["BAKERY", "OPEN", "9:00 - 17:00"], "rect", "orange", BLACK)}, [
        QA(problem="At what time does the bakery close?",
           answer="17:00", category="short answer", reward="rule", abilities="OCR",
           cot="The sign reads OPEN 9:00 - 17:00, so it closes at 17:00."),
        QA(problem="How many hours a day is the bakery open?",
           answer="8", category="Numeric", reward="rule", abilities=["OCR", "arithmetic"],
           cot="It opens at 9:00 and closes at 17:00: 17 - 9 = 8 hours."),
    ]),
    Scene({"textvqa/speed_limit.png": lambda: sign(["SPEED", "LIMIT", "30"], "circle", "red", BLACK)}, [
        QA(problem="What is the speed limit shown on the sign?",
           answer="30", category="numerical", reward="rule", abilities="OCR",
           cot="The round sign reads SPEED LIMIT 30."),
    ]),
    Scene({"textvqa/street_sign.png": lambda: sign(["Elm St"], "rect", "green")}, [
        QA(problem="Is this the sign for Oak Street?",
           answer="No", category="Yes/No", reward="rule", abilities="OCR",
           cot="The green sign reads Elm St, not Oak Street, so no."),
    ]),
    Scene({"textvqa/price_tag.png": lambda: sign(["APPLES", "$3 / kg"], "rect", "white", BLACK)}, [
        QA(problem="How much do 2 kg of apples cost, in dollars?",
           answer="6", category="Numeric", reward="rule", abilities=["OCR", "arithmetic"],
           cot="The tag says apples cost $3 per kg, so 2 kg cost 2 x 3 = 6 dollars."),
    ]),
    Scene({"textvqa/exit_sign.png": lambda: sign(["EXIT"], "rect", "blue")}, [
        QA(problem="Which word appears on the blue sign?\n(A) PARK\n(B) EXIT\n(C) STOP\n(D) SHOP",
           answer="B", category="multiple-choice", reward="rule", abilities="OCR",
           cot="The blue sign reads EXIT, which is option (B)."),
    ]),
    Scene(CLEVR_1, [
        QA(problem="How many circles are there?",
           answer=str(CIRCLES), category="counting", reward="rule", abilities="counting",
           cot=f"Counting the round shapes: there are {CIRCLES} red circles."),
        QA(problem="How many shapes are there in total?",
           answer=str(len(SHAPES_1)), category="Numeric", reward="rule", abilities="counting",
           cot=f"There are {CIRCLES} circles, {SQUARES} squares and {TRIANGLES} triangle: {len(SHAPES_1)} shapes."),
        QA(problem="Are there more squares than triangles?",
           answer="Yes", category="yes_no", reward="rule", abilities=["counting", "comparison"],
           cot=f"There are {SQUARES} squares and {TRIANGLES} triangle. {SQUARES} > {TRIANGLES}, so yes."),
        QA(problem="<image>\nWhat color is the triangle?",
           answer="green", category="Short Text", reward="rule", abilities=["attribute recognition"],
           cot="The only triangle in the scene is green."),
        QA(problem="What fraction of the shapes are circles?",
           answer="\\frac{1}{2}", category="math", reward="rule", abilities=["counting", "fractions"],
           cot=f"{CIRCLES} of the {len(SHAPES_1)} shapes are circles: {CIRCLES}/{len(SHAPES_1)} = 1/2."),
        QA(problem="Describe the objects in the image.",
           answer="Six flat shapes on a grey background: three red circles, two blue squares and one green triangle.",
           category="Open-ended", reward="model", abilities=["scene description", "counting"],
           cot="The image shows three red circles, two blue squares and one green triangle, laid out in rows on a "
               "light grey background."),
    ]),
    Scene({**CLEVR_1, "clevr/scene_2.png": lambda: shapes_scene(SHAPES_2, 1)}, [
        QA(problem="How many circles are there in the two images combined?",
           answer=str(CIRCLES + count(SHAPES_2, "circle")), category="counting", reward="rule",
           abilities=["counting", "multi-image reasoning"],
           cot="The first image has 3 circles and the second has 2 (orange and green), so 5 in total."),
    ]),
]  # fmt: skip


def build_rows(out_dir: str) -> list[dict]:
    """Draw every image into `out_dir/images/...` (once per path) and return the JSONL rows, scene by scene."""
    written: set[str] = set()
    rows = []
    for scene in SCENES:
        for rel, draw in scene.images.items():
            if rel not in written:
                path = os.path.join(out_dir, "images", rel)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                draw().quantize(colors=64, dither=Image.Dither.NONE).save(path, optimize=True)
                written.add(rel)
        paths = list(scene.images)
        for qa in scene.questions:
            rows.append({
                "problem": qa.problem,
                "answer": qa.answer,
                "category": qa.category,
                "abilities": qa.abilities,
                "refined_cot": qa.cot,
                "image_path": paths[0] if len(paths) == 1 else paths,
                "reward": qa.reward,
            })  # fmt: skip
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
    parser = argparse.ArgumentParser(prog="make_sample.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                        help="output folder (default: this script's folder, examples/sample)")  # fmt: skip
    args = parser.parse_args(argv)
    path = write_sample(args.out)
    print(f"wrote {path} and images under {os.path.join(args.out, 'images')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
