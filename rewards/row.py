"""The row contract between the data and the reward: the `extra_info` keys a row carries, the route a row takes,
and the question text the reward reads.

`data_prep.wethink` writes these keys, `recipes.wethink.dataset` fills the ones a row made another way lacks,
`rewards.hybrid` reads them and `recipes.wethink.main` groups the metrics by them. They are declared here, beside
the label vocabulary (`rewards.labels`), because the reward must stand alone: it imports nothing from data
preparation or the recipe, and both of those import the contract from here.
"""

from __future__ import annotations

from rewards.labels import DESCRIPTIVE, MODEL, RULE, UnknownLabelError, map_category, map_reward_method

# The `extra_info` keys of a prepared row (data_prep/parquet.py gives their column types).
INDEX = "index"  # the row's line number in the source JSONL: names the row in warnings
SPLIT = "split"  # "train" or "val"
QUESTION = "question"  # the problem without image placeholders (`question_text`): what the judge and hacks read
CATEGORY = "category"  # one of labels.CATEGORIES: refines the rule verifier, groups the metrics
ABILITIES = "abilities"  # the source's ability tags, kept for analysis
REWARD_METHOD = "reward_method"  # labels.RULE or labels.MODEL: the route (`reward_route`)
IMAGE_PATH = "image_path"  # the images as the source names them, relative to its image root
EXTRA_INFO_KEYS = (INDEX, SPLIT, QUESTION, CATEGORY, ABILITIES, REWARD_METHOD, IMAGE_PATH)

# Where an image goes in a problem's text: verl splits the user turn on it (and on <video>, <audio>).
IMAGE_PLACEHOLDER = "<image>"


def question_text(problem: str) -> str:
    """The problem without its image placeholders, as the judge and the hack checks read it: a placeholder and the
    spaces around it become one space, a line left empty by placeholders goes, the ends are stripped; every other
    line break stays (option lines are found by line). Linear in the text's length."""
    lines = []
    for line in str(problem).split("\n"):
        if IMAGE_PLACEHOLDER in line:
            line = " ".join(piece.strip() for piece in line.split(IMAGE_PLACEHOLDER) if piece.strip())
            if not line:
                continue
        lines.append(line)
    return "\n".join(lines).strip()


def canonical_category(raw: object) -> str | None:
    """`raw` as one of labels.CATEGORIES (any spelling the labels map), or None when it is missing or unknown."""
    return _canonical(map_category, raw)


def reward_route(category: str | None, *reward_methods: object) -> tuple[str, bool]:
    """(route, inferred): the first of `reward_methods` the labels know (any spelling), else inferred from the
    canonical `category`: "descriptive" goes to the judge (MODEL), anything else to the rules (RULE)."""
    for raw in reward_methods:
        method = _canonical(map_reward_method, raw)
        if method is not None:
            return method, False
    return (MODEL if category == DESCRIPTIVE else RULE), True


def _canonical(mapper, raw: object) -> str | None:
    try:
        return mapper(raw) if raw is not None else None
    except UnknownLabelError:
        return None
