"""The WeThink output format and where the answer is read from."""

import pytest

from rewards.format import extract_answer, is_well_formed


@pytest.mark.parametrize(
    "response",
    [
        "<think>reasoning</think><answer>B</answer>",
        "  <think>\nmulti\nline\n</think>\n\n<answer> 42 </answer>\n",
        "<think></think><answer>x</answer>",
        "<think>r</think><answer>B</answer><|im_end|>",  # an end-of-turn marker left by the decoder
    ],
)
def test_well_formed(response):
    assert is_well_formed(response)


@pytest.mark.parametrize(
    "response",
    [
        "<answer>B</answer>",  # no think
        "<think>r</think>",  # no answer
        "<think>r</think><answer>B</answer> and more",  # text after the answer
        "preamble <think>r</think><answer>B</answer>",  # text before the think
        "<answer>B</answer><think>r</think>",  # wrong order
        "<think>r</think><answer>A</answer><answer>B</answer>",  # two answers
        "<think>a</think><think>b</think><answer>B</answer>",  # two thinks
        "<think>r <answer>A</answer></think><answer>B</answer>",  # answer tag inside think
        "<think>r</think><answer>B",  # unclosed
        "",
    ],
)
def test_malformed(response):
    assert not is_well_formed(response)


def test_answer_is_the_last_well_formed_block_even_when_format_fails():
    assert extract_answer("<think>r</think><answer> B </answer>") == "B"
    assert extract_answer("<answer>A</answer> text <answer>C</answer> trailing") == "C"
    assert extract_answer("<answer><answer>7</answer>") == "7"  # the inner, well-formed block
    assert extract_answer("<think>no answer</think>") is None
    assert extract_answer("<answer>unclosed") is None
    assert extract_answer("<answer></answer>") == ""


def test_the_string_search_means_what_the_patterns_of_before_meant():
    """issue 26: the format check and the answer extraction read the whole response, so they now work by string
    search (linear); on random mixes of their tags they agree with the patterns they replace."""
    import random
    import re

    well_formed = re.compile(r"\s*<think>.*?</think>\s*<answer>.*?</answer>\s*", re.DOTALL)
    block = re.compile(r"<answer>((?:(?!<answer>).)*?)</answer>", re.DOTALL)
    end_markers = re.compile(r"(?:\s*(?:<\|im_end\|>|<\|endoftext\|>|</s>))+\s*$")

    def before_well_formed(response):
        response = end_markers.sub("", response)
        tags = ("<think>", "</think>", "<answer>", "</answer>")
        return all(response.count(t) == 1 for t in tags) and well_formed.fullmatch(response) is not None

    def before_answer(response):
        blocks = block.findall(response)
        return blocks[-1].strip() if blocks else None

    rng = random.Random(26)
    pieces = ["<think>", "</think>", "<answer>", "</answer>", "<|im_end|>", "</s>", "x", "42", " ", "\n", "<", ">"]
    for _ in range(20_000):
        response = "".join(rng.choice(pieces) for _ in range(rng.randrange(10)))
        assert is_well_formed(response) == before_well_formed(response), repr(response)
        assert extract_answer(response) == before_answer(response), repr(response)
