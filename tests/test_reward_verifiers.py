"""Rule verifiers and hack checks, one behaviour per case (pure functions, no processes)."""

import pytest

from rewards.choice import extract_choice, parse_options, verify_choice
from rewards.hacks import detect_hack
from rewards.numeric import Number, parse_number, verify_numeric
from rewards.outcome import AMBIGUOUS, Reason
from rewards.rule import infer_answer_type, is_chart_row
from rewards.text import normalize_text, verify_short_text, verify_yes_no, yes_no_of

QUESTION = "Which bar is tallest?\nA. 12\nB. 42\nC. Point B\nD. 7"


# --- multiple choice -------------------------------------------------------------------------------------


def test_options_are_parsed_from_lines_and_inline_forms():
    assert parse_options(QUESTION) == {"A": "12", "B": "42", "C": "Point B", "D": "7"}
    assert parse_options("Pick one: (A) red (B) blue (C) green") == {"A": "red", "B": "blue", "C": "green"}
    assert parse_options("What is it? Options: A: cat B: dog") == {"A": "cat", "B": "dog"}
    assert parse_options("(A) red\n(B) blue") == {"A": "red", "B": "blue"}
    assert parse_options("How many? Use plan B.") == {}  # a lone letter is not an option list


@pytest.mark.parametrize("answer", ["B", "(B)", "B.", "B)", "B. 42", "b", "Option B", "The answer is B", "42", "[B]"])
def test_every_way_of_naming_option_b(answer):
    assert extract_choice(answer, parse_options(QUESTION)) == "B"
    assert verify_choice(answer, "B", QUESTION).acc == 1.0


def test_option_text_that_contains_a_letter_is_matched_by_text():
    options = parse_options(QUESTION)
    assert extract_choice("Point B", options) == "C"
    assert extract_choice("C. Point B", options) == "C"


@pytest.mark.parametrize("answer", ["A B C D", "A, B, C, D", "A or C", "A and B", "A. B. C. D.", "12 or 42"])
def test_naming_several_options_scores_zero(answer):
    assert extract_choice(answer, parse_options(QUESTION)) is AMBIGUOUS
    outcome = verify_choice(answer, "B", QUESTION)
    assert (outcome.acc, outcome.reason) == (0.0, Reason.MULTIPLE_OPTIONS)


def test_reference_may_be_a_letter_form_or_the_option_text():
    for reference in ["B", "(B)", "B. 42", "42"]:
        assert verify_choice("B", reference, QUESTION).acc == 1.0
        assert verify_choice("A", reference, QUESTION).acc == 0.0


def test_wrong_option_and_article_are_not_confused():
    assert verify_choice("D", "B", QUESTION).acc == 0.0
    assert extract_choice("A large number", parse_options(QUESTION)) is None
    assert verify_choice("A large number", "B", QUESTION).reason == Reason.UNPARSEABLE


def test_letters_without_options_in_the_question():
    assert verify_choice("(C)", "C", "Which one is right?").acc == 1.0
    assert verify_choice("A or C", "C", "Which one is right?").reason == Reason.MULTIPLE_OPTIONS


# --- numbers ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value, percent",
    [
        ("1,234.5 cm", 1234.5, False),
        ("$12", 12.0, False),
        ("25%", 25.0, True),
        ("about 30 percent", 30.0, True),
        ("x = 3", 3.0, False),
        ("three", 3.0, False),
        ("-2.5", -2.5, False),
        ("\u22122.5", -2.5, False),
        ("1/2", 0.5, False),
        ("5 cm^2", 5.0, False),
        ("5cm", 5.0, False),
        ("12\u00b0", 12.0, False),
        ("1e3", 1000.0, False),
        (".5", 0.5, False),
        ("\\text{5 apples}", 5.0, False),
        ("Answer: 42.", 42.0, False),
    ],
)
def test_parse_number(text, value, percent):
    got = parse_number(text)
    assert isinstance(got, Number) and (got.value, got.percent) == (value, percent)


@pytest.mark.parametrize("text", ["3 or 4", "3, 4, 5", "2,3", "10-15"])
def test_several_numbers_are_not_one_answer(text):
    assert parse_number(text) is AMBIGUOUS


def test_latex_math_is_not_a_plain_number():
    assert parse_number("9^{9^{9}}") is None
    assert parse_number("\\frac{1}{2}") is None
    assert verify_numeric("\\frac{1}{2}", "0.5", 1e-4) is None  # handed to math-verify
    assert verify_numeric("0.5", "\\frac{1}{2}", 1e-4) is None


@pytest.mark.parametrize(
    "answer, reference, acc",
    [
        ("1,000", "1000", 1.0),
        ("50%", "0.5", 1.0),
        ("0.5", "50%", 1.0),
        ("50", "50%", 1.0),
        ("3.14159", "3.1416", 1.0),  # within the relative tolerance
        ("3.2", "3.1416", 0.0),
        ("12 apples", "12", 1.0),
        ("-4", "4", 0.0),
    ],
)
def test_numbers_match_within_tolerance(answer, reference, acc):
    assert verify_numeric(answer, reference, 1e-4).acc == acc


def test_numeric_failure_reasons():
    assert verify_numeric("3 or 4", "4", 1e-4).reason == Reason.MULTIPLE_VALUES
    assert verify_numeric("no idea", "4", 1e-4).reason == Reason.UNPARSEABLE
    assert verify_numeric("4", "blue", 1e-4) is None  # not a numeric reference


# --- yes/no and short text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes", "yes"),
        ("yes.", "yes"),
        ("No, the right one is bigger", "no"),
        ("True", "yes"),
        ("It is correct", "yes"),
        ("yes or no", AMBIGUOUS),
        ("the sign is red", None),
    ],
)
def test_yes_no_reading(text, expected):
    assert yes_no_of(text) == expected


def test_every_verifier_reads_a_hedge_as_the_one_ambiguous_value():
    assert extract_choice("A or C", parse_options(QUESTION)) is AMBIGUOUS
    assert parse_number("3 or 4") is AMBIGUOUS
    assert yes_no_of("Yes. No, it is not.") is AMBIGUOUS
    assert extract_choice("C", parse_options(QUESTION)) is not AMBIGUOUS  # control: one option is no hedge


def test_yes_no_verdicts():
    assert verify_yes_no("Yes, it is.", "yes").acc == 1.0
    assert verify_yes_no("No", "Yes").acc == 0.0
    assert verify_yes_no("yes and no", "yes").reason == Reason.MULTIPLE_VALUES
    assert verify_yes_no("maybe", "yes").reason == Reason.MULTIPLE_VALUES  # a hedge between the two
    assert verify_yes_no("the sign is red", "yes").reason == Reason.UNPARSEABLE


def test_short_text_normalisation():
    assert normalize_text("  The Red-Car. ") == "red car"
    assert normalize_text("A") == "a"  # an answer that is only an article keeps it
    assert verify_short_text("the red car", "Red car").acc == 1.0
    assert verify_short_text("\uff32\uff45\uff44 car", "red car").acc == 1.0  # full-width letters
    assert verify_short_text("blue car", "red car").acc == 0.0
    assert verify_short_text("...", "red car").reason == Reason.UNPARSEABLE


# --- hacks -----------------------------------------------------------------------------------------------


def test_hacks():
    assert detect_hack("", QUESTION) == Reason.EMPTY_ANSWER
    assert detect_hack(" . ", QUESTION) == Reason.EMPTY_ANSWER
    assert detect_hack("A B C D", QUESTION) == Reason.MULTIPLE_OPTIONS
    long_question = "<image>What is the man in the red shirt holding in his left hand?"
    assert detect_hack("What is the man in the red shirt holding in his left hand?", long_question) == (
        Reason.COPIED_QUESTION
    )
    assert detect_hack("what is the man in the red shirt holding in his left hand", long_question) == (
        Reason.COPIED_QUESTION
    )
    assert detect_hack("He is holding a red umbrella.", long_question) is None
    assert detect_hack("B", QUESTION) is None
    assert detect_hack("A", QUESTION) is None  # option A is not an empty answer once the article is dropped
    assert detect_hack("42", QUESTION) is None  # an option's text is not a copy of the question


# --- answer-type inference -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reference, question, expected",
    [
        ("B", QUESTION, "multiple_choice"),
        ("42", QUESTION, "multiple_choice"),
        ("(C)", "Which one?", "multiple_choice"),
        ("Yes", "Is it red?", "yes_no"),
        ("12.5 cm", "How long?", "numeric"),
        ("\\frac{\\sqrt{3}}{2}", "Find sin 60", "math"),
        ("x + 1", "Simplify", "math"),
        ("red car", "What is parked?", "short_text"),
    ],
)
def test_answer_type_is_inferred_from_the_reference(reference, question, expected):
    assert infer_answer_type(reference, question) == expected


# --- factorials (issue 26): "5!" is 120, not 5 --------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, reference, category, acc",
    [
        ("5!", "120", "numeric", 1.0),
        ("5!", "120", "math", 1.0),
        ("3!", "3", "numeric", 0.0),
        ("3!", "6", "fill_in_blank", 1.0),
        ("x = 4!", "24", "math", 1.0),
        ("There are 5!", "5", "numeric", 1.0),  # prose: "!" ends an exclamation
        ("5 != 3", "5", "numeric", 0.0),  # "!=" is no factorial: two numbers, no single value
    ],
)
async def test_a_factorial_is_read_as_its_value(answer, reference, category, acc):
    from rewards.hybrid import compute_score

    result = await compute_score("t", f"<think>t</think><answer>{answer}</answer>", reference,
                                 {"reward_method": "rule", "category": category})  # fmt: skip
    assert result["acc"] == acc, result


@pytest.mark.parametrize(
    "image_path, chart",
    [(["chartqa/bars.png"], True), ("ChartQA/bars.png", True), (["geoqa/a.png", "chartqa/b.png"], True),
     (["geoqa/a.png"], False), (["chartqa.png"], False), ([], False), (None, False)],
)  # fmt: skip
def test_a_chart_row_is_known_by_its_image_source(image_path, chart):
    assert is_chart_row({"image_path": image_path}) is chart
