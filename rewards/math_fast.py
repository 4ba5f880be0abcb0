"""Cheap exact paths for math answers, tried in this process before math-verify (issue 22, speed).

Most math answers are numbers or short expressions in one or two letters (`\\frac{\\pi}{2}`, `2\\sqrt{3}`,
`(x+1)^2`), an inequality (`x > 5`, `5 < x`), an interval / tuple (`[1, 2)`), a `\\pm` (`x = \\pm 2` is the values
2 and -2, as `2, -2` is) or a set (`\\{1, 2\\}`, order and repeats aside). Those are decided here by
evaluating both sides at fixed points, no algebra: equal values at every point are EQUAL, a clear difference is
DIFFERENT; `i` is the imaginary unit. Anything else (another LaTeX command, a word, `e`, a set, several relations, a value that
overflows) is undecided (None) and goes to math-verify as before. Every step is linear in the text; powers are
floats, so `9^{9^{9}}` overflows at once instead of growing an integer.
"""

from __future__ import annotations

import cmath
import math
import re

EQUAL, DIFFERENT = True, False
_NOISE = re.compile(r"\$|\\left|\\right|\\[,;:! ]|\\displaystyle")
_COMMANDS = {"\\frac": "FRAC", "\\dfrac": "FRAC", "\\tfrac": "FRAC", "\\sqrt": "SQRT", "\\pi": "PI", "\\cdot": "*",
             "\\times": "*", "\\div": "/", "\\infty": "INF", "\\le": "<=", "\\leq": "<=", "\\ge": ">=", "\\geq": ">=", "\\lt": "<",
             "\\gt": ">", "\\neq": "!=", "\\ne": "!=", "\\boxed": "", "\\pm": "PM", "\\{": "SET{", "\\}": "SET}"}  # fmt: skip
_TOKEN = re.compile(r"\s+|\\[a-zA-Z]+|\\[{}]|\d+(?:\.\d+)?|\.\d+|<=|>=|!=|[-+*/^(){}\[\],<>=a-zA-Z\u2264\u2265\u2260\u00b7\u00d7]|.")
_UNICODE = {"\u2264": "<=", "\u2265": ">=", "\u2260": "!=", "\u00b7": "*", "\u00d7": "*", "\u00b1": "PM"}
_VARIABLES = frozenset("abcdfghjklmnopqrstuvwxyzABCDFGHJKLMNOPQRSTUVWXYZ")  # not e, E, I: Euler's number, math-verify's
_UNIT = "i"  # the imaginary unit: `(1+i)(2-i)` is `3+i` (as rewards.math_equiv reads `i` when it is the only letter)
_GREEK = frozenset("\\" + name for name in ("alpha beta gamma delta epsilon zeta eta theta kappa lambda mu nu xi rho "
                                              "sigma tau phi chi psi omega Gamma Delta Theta Lambda Phi Psi Omega").split())
_POINTS: tuple[dict[str, float], dict[str, float]] = ({}, {})  # letter -> value, filled on first use
_RELATIONS = ("<=", ">=", "!=", "<", ">", "=")
_FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "!=": "!=", "=": "="}
_REL_TOL = 1e-9
_MAX_EXPONENT = 1e4
# The longest text (each side) the cheap path reads; longer goes to math-verify in the pool, off the event loop. A
# math answer is far shorter (`\\frac{\\sqrt{3}}{2}`: 18); at 4096 characters (the rule route's cap) a hostile answer
# cost the loop 26 ms of CPU here, 51 ms on a loaded CI machine, near its 50 ms budget; at this cap, 1/16 of that.
MAX_CHARS = 256


class _Undecided(Exception):
    pass


def _tokens(text: str) -> list[str]:
    out = []
    for token in _TOKEN.findall(_NOISE.sub(" ", text)):
        if token.isspace():
            continue
        if token in _GREEK:
            out.append(token)  # a variable
            continue
        if token.startswith("\\"):
            if token not in _COMMANDS:
                raise _Undecided  # any other command: math-verify's
            token = _COMMANDS[token]
            if not token:
                continue  # `\\boxed{15}` is `{15}`
        token = _UNICODE.get(token, token)
        if len(token) == 1 and not (token.isalnum() or token in "-+*/^(){}[],<>=.\u00b1"):
            raise _Undecided
        out.append(token)
    return out


class _Parser:
    """Recursive descent over the tokens; evaluates at one point (letter -> float), complex when `i` is used."""

    def __init__(self, tokens: list[str], point: dict[str, float]):
        self.tokens, self.pos, self.point = tokens, 0, point

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Undecided
        self.pos += 1
        return token

    def expression(self) -> complex:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> complex:
        value = self.unary()
        while True:
            token = self.peek()
            if token in ("*", "/"):
                self.take()
                right = self.unary()
                value = value * right if token == "*" else value / right
            elif token is not None and token[0].isdigit():
                raise _Undecided  # "2 3", "x 2": no operator between a value and a number
            elif token is not None and (token[0].isalpha() or token in _GREEK or token in ("(", "{")):
                if token == _UNIT and self.tokens[self.pos - 1] in _VARIABLES:
                    raise _Undecided  # "xi": a word, or a subscript
                value = value * self.power()  # implicit product: 2x, 2\sqrt{3}, (x+1)(x-1)
            else:
                return value

    def unary(self) -> complex:
        if self.peek() in ("-", "+"):
            return -self.unary() if self.take() == "-" else self.unary()
        return self.power()

    def power(self) -> complex:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        token = self.peek()
        if token is not None and token[0].isdigit() and len(token) > 1:  # LaTeX's x^23 is x^2 * 3
            self.tokens[self.pos : self.pos + 1] = [token[0], token[1:]]
        exponent = self.unary() if self.peek() == "-" else self.atom()
        if abs(exponent) > _MAX_EXPONENT:
            raise _Undecided
        result = base**exponent
        if isinstance(result, complex) and not isinstance(base, complex) and not isinstance(exponent, complex):
            raise _Undecided  # a root of a negative number: a branch we do not choose
        return result

    def group(self) -> complex:
        self.take("{")
        value = self.expression()
        self.take("}")
        return value

    def atom(self) -> complex:
        token = self.take()
        if token == "(":
            value = self.expression()
            self.take(")")
            return value
        if token == "{":
            self.pos -= 1
            return self.group()
        if token == "FRAC":
            numerator = self.group() if self.peek() == "{" else self.single()
            return numerator / (self.group() if self.peek() == "{" else self.single())
        if token == "SQRT":
            if self.peek() == "[":
                raise _Undecided  # an n-th root
            radicand = self.group() if self.peek() == "{" else self.single()
            if radicand < 0:
                raise _Undecided
            return math.sqrt(radicand)
        if token == "PI":
            return math.pi
        if token == "INF":
            return math.inf
        if token == _UNIT:
            if self.peek() in _VARIABLES:
                raise _Undecided
            return 1j
        if token[0].isdigit() or token[0] == ".":
            return float(token)
        if token in _VARIABLES or token in _GREEK:
            if token in _VARIABLES and self.peek() in _VARIABLES:
                raise _Undecided  # a word ("cos", "xy"): not a product of letters we dare guess
            return self.point[token]
        raise _Undecided

    def single(self) -> complex:
        """`\\frac12`: one digit or letter as an argument."""
        token = self.peek()
        if token is not None and token[0].isdigit() and len(token) > 1:
            self.tokens[self.pos : self.pos + 1] = [token[0], token[1:]]
        return self.atom()


def _point(index: int, letters: set[str]) -> dict[str, float]:
    point = _POINTS[index]
    for letter in letters - point.keys():
        # distinct, irrational-looking values; the second point differs in sign pattern
        seed = sum(map(ord, letter))
        point[letter] = (math.sqrt(seed % 17 + 2) + seed / 97) * (1 if index == 0 else -0.73)
    return point


def _values(tokens: list[str]) -> tuple[complex, ...]:
    letters = {t for t in tokens if t in _VARIABLES or t in _GREEK}
    values = []
    for index in range(2):
        parser = _Parser(list(tokens), _point(index, letters))
        value = parser.expression()
        if parser.peek() is not None or cmath.isnan(value):
            raise _Undecided
        values.append(value)
    return tuple(values)


def _close(a: complex, b: complex) -> bool:
    if cmath.isinf(a) or cmath.isinf(b):
        return a == b
    return abs(a - b) <= _REL_TOL * max(1.0, abs(a), abs(b))


def _far(a: complex, b: complex) -> bool:
    if cmath.isinf(a) or cmath.isinf(b):
        return a != b
    return abs(a - b) > 1e-6 * max(1.0, abs(a), abs(b))


def _compare_expressions(a: list[str], b: list[str]) -> bool | None:
    left, right = _values(a), _values(b)
    if all(_close(x, y) for x, y in zip(left, right)):
        return EQUAL
    if any(_far(x, y) for x, y in zip(left, right)):
        return DIFFERENT
    return None


def _split(tokens: list[str], separators: tuple[str, ...]) -> list[list[str]]:
    """Top-level parts of `tokens` between `separators` (outside any bracket)."""
    parts, depth, current = [], 0, []
    for token in tokens:
        depth += token in ("(", "{", "[", "SET{")
        depth -= token in (")", "}", "]", "SET}")
        if depth == 0 and token in separators:
            parts.append(current)
            parts.append([token])
            current = []
        else:
            current.append(token)
    parts.append(current)
    return parts


def _relation(tokens: list[str]) -> tuple[list[str], str, list[str]] | None:
    parts = _split(tokens, _RELATIONS)
    if len(parts) == 1:
        return None
    if len(parts) != 3 or not parts[0] or not parts[2]:
        raise _Undecided  # a chain `1 < x < 3` or a bare relation: math-verify's
    return parts[0], parts[1][0], parts[2]


def _bracketed(tokens: list[str]) -> tuple[str, list[list[str]], str] | None:
    if len(tokens) < 2 or tokens[0] not in ("(", "[") or tokens[-1] not in (")", "]"):
        return None
    inner = _split(tokens[1:-1], (",",))
    elements = inner[0::2]
    if len(elements) < 2:
        return None  # "(x+1)": a parenthesised expression
    if any(not e or not depth_ok(e) for e in elements):
        raise _Undecided
    return tokens[0], elements, tokens[-1]


def depth_ok(tokens: list[str]) -> bool:
    depth = 0
    for token in tokens:
        depth += token in ("(", "{", "[", "SET{")
        depth -= token in (")", "}", "]", "SET}")
        if depth < 0:
            return False
    return depth == 0


def _value_set(tokens: list[str]) -> list[tuple[complex, ...]]:
    """The values a `\\pm` expression, a list or a set stands for: `x = \\pm 2`, `2, -2`, `\\{1, 2\\}`."""
    if tokens[:1] == ["SET{"] and tokens[-1:] == ["SET}"]:
        tokens = tokens[1:-1]
    elif len(tokens) > 2 and tokens[1] == "=" and (tokens[0] in _VARIABLES or tokens[0] in _GREEK):
        tokens = tokens[2:]  # "x = \\pm 2"
    values = []
    for element in _split(tokens, (",",))[0::2]:
        if not element or any(t in _RELATIONS or t in ("SET{", "SET}") for t in element):
            raise _Undecided
        signs = element.count("PM")
        if signs > 1:
            raise _Undecided
        variants = [element] if not signs else [[s if t == "PM" else t for t in element] for s in ("+", "-")]
        values += [_values(variant) for variant in variants]
    return values


def _same_values(got: list[tuple[complex, ...]], expected: list[tuple[complex, ...]]) -> bool | None:
    def inside(value, pool):
        return any(all(_close(a, b) for a, b in zip(value, other)) for other in pool)

    if all(inside(g, expected) for g in got) and all(inside(e, got) for e in expected):
        return EQUAL
    return DIFFERENT


def _decide(answer: list[str], reference: list[str]) -> bool | None:
    if not depth_ok(answer) or not depth_ok(reference):
        raise _Undecided
    sets = [side[:1] == ["SET{"] for side in (answer, reference)]
    if any(sets) or "PM" in answer or "PM" in reference:
        if any(sets) and not all(sets):
            return None  # a set against a tuple, an interval or a list: math-verify's
        return _same_values(_value_set(answer), _value_set(reference))
    got, expected = _relation(answer), _relation(reference)
    if (got is None) != (expected is None):
        return _one_relation(got or expected, reference if got else answer)
    if got and expected:
        (gl, gop, gr), (el, eop, er) = got, expected
        if _compare_expressions(gl, el) is not EQUAL:
            gl, gop, gr = gr, _FLIPPED[gop], gl  # "5 < x" is "x > 5"
            if _compare_expressions(gl, el) is not EQUAL:
                return None  # other sides: math-verify's
        if gop != eop:
            return DIFFERENT  # "x \\geq 5" for "x > 5", "x \\neq 3" for "x = 3"
        return _compare_expressions(gr, er)
    got_b, expected_b = _bracketed(answer), _bracketed(reference)
    if (got_b is None) != (expected_b is None):
        return None
    if got_b and expected_b:
        if len(got_b[1]) != len(expected_b[1]):
            return None
        verdicts = [_compare_expressions(g, e) for g, e in zip(got_b[1], expected_b[1])]
        if DIFFERENT in verdicts:
            return DIFFERENT if len(got_b[1]) == 2 else None  # a longer tuple may be a set: math-verify's
        if all(v is EQUAL for v in verdicts):
            return EQUAL if (got_b[0], got_b[2]) == (expected_b[0], expected_b[2]) else DIFFERENT
        return None
    if "," in answer or "," in reference:
        return None
    return _compare_expressions(answer, reference)


def _one_relation(relation: tuple[list[str], str, list[str]], other: list[str]) -> bool | None:
    """One side a relation, the other an expression: `x = 3` answers `3` (and `2x + 1` answers `y = 2x + 1`) by its
    right-hand side when its left is one letter; `x < 5` is not `5`. Brackets or commas: math-verify's."""
    left, op, right = relation
    if "," in other or (other and other[0] in ("(", "[") and _bracketed(other)):
        return None
    if op != "=":
        return DIFFERENT
    if len(left) == 1 and (left[0] in _VARIABLES or left[0] in _GREEK):
        return _compare_expressions(right, other)
    return None


def quick_verdict(answer: str, reference: str) -> bool | None:
    """EQUAL / DIFFERENT when both are numbers, short expressions, one relation or a two-element interval that
    evaluate cleanly; None (math-verify decides) otherwise, and at once for a side longer than MAX_CHARS."""
    if len(answer) > MAX_CHARS or len(reference) > MAX_CHARS:
        return None
    try:
        return _decide(_tokens(answer), _tokens(reference))
    except (_Undecided, ZeroDivisionError, OverflowError, ValueError, TypeError, RecursionError, KeyError, IndexError):
        return None
