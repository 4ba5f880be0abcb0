"""Units written after a number, read into (dimension, factor to SI) so "50 mm" equals "5 cm" and "5 m" does not.

Decision (issue 12): quantities of the same dimension are converted and compared; different dimensions
(length vs mass, length vs area) never match; a unit on only one side is ignored ("5" answers "5 cm").
Temperatures are affine (0 °C is not 0 K), so each scale is its own dimension: °C and °F never match each
other. Spellings are case-sensitive for abbreviations ("m" is metre, "M" is nothing) and not for words.
An unknown word after a number ("12 apples") is no unit. The factors are checked against sympy.physics.units
by the tests.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    dimension: str  # "length^2", "time", "speed", "temperature_C", ...
    factor: float  # value in this unit x factor = value in the SI unit of the dimension


_BASE: dict[str, tuple[str, float, tuple[str, ...]]] = {
    # name: (dimension, factor, spellings); abbreviations first, then words (matched case-insensitively)
    "nm": ("length", 1e-9, ("nm", "nanometer", "nanometers", "nanometre", "nanometres")),
    "um": ("length", 1e-6, ("\u00b5m", "\u03bcm", "um", "micrometer", "micrometers", "micrometre", "micrometres")),
    "mm": ("length", 1e-3, ("mm", "millimeter", "millimeters", "millimetre", "millimetres")),
    "cm": ("length", 1e-2, ("cm", "centimeter", "centimeters", "centimetre", "centimetres")),
    "dm": ("length", 1e-1, ("dm", "decimeter", "decimeters", "decimetre", "decimetres")),
    "m": ("length", 1.0, ("m", "meter", "meters", "metre", "metres")),
    "km": ("length", 1e3, ("km", "kilometer", "kilometers", "kilometre", "kilometres")),
    "inch": ("length", 0.0254, ("inch", "inches")),
    "ft": ("length", 0.3048, ("ft", "foot", "feet")),
    "yd": ("length", 0.9144, ("yd", "yard", "yards")),
    "mile": ("length", 1609.344, ("mi", "mile", "miles")),
    "mg": ("mass", 1e-6, ("mg", "milligram", "milligrams")),
    "g": ("mass", 1e-3, ("g", "gram", "grams")),
    "kg": ("mass", 1.0, ("kg", "kilogram", "kilograms", "kilo", "kilos")),
    "tonne": ("mass", 1e3, ("tonne", "tonnes")),
    "lb": ("mass", 0.45359237, ("lb", "lbs", "pound", "pounds")),
    "oz": ("mass", 0.028349523125, ("oz", "ounce", "ounces")),
    "ms": ("time", 1e-3, ("ms", "millisecond", "milliseconds")),
    "s": ("time", 1.0, ("s", "sec", "secs", "second", "seconds")),
    "min": ("time", 60.0, ("min", "mins", "minute", "minutes")),
    "h": ("time", 3600.0, ("h", "hr", "hrs", "hour", "hours")),
    "day": ("time", 86400.0, ("d", "day", "days")),
    "week": ("time", 604800.0, ("week", "weeks")),
    "ml": ("volume", 1e-6, ("ml", "mL", "milliliter", "milliliters", "millilitre", "millilitres")),
    "l": ("volume", 1e-3, ("l", "L", "liter", "liters", "litre", "litres")),
    "kmh": ("speed", 1000 / 3600, ("km/h", "kph", "kmh", "km/hr")),
    "ms-1": ("speed", 1.0, ("m/s",)),
    "mph": ("speed", 0.44704, ("mph",)),
    "deg": ("angle", math.pi / 180, ("\u00b0", "deg", "degree", "degrees")),
    "rad": ("angle", 1.0, ("rad", "rads", "radian", "radians")),
    "degC": ("temperature_C", 1.0, ("\u00b0C", "celsius")),
    "degF": ("temperature_F", 1.0, ("\u00b0F", "fahrenheit")),
    "K": ("temperature_K", 1.0, ("K", "kelvin", "kelvins")),
}
_LENGTH_POWERS = {"length"}  # "cm^2" is an area, "cm^3" a volume: same factor, raised to the power
_SPELLINGS: dict[str, Unit] = {}
_WORDS: dict[str, Unit] = {}
for _dimension, _factor, _names in _BASE.values():
    for _name in _names:
        (_WORDS if len(_name) > 3 and _name.isalpha() else _SPELLINGS)[_name.lower() if len(_name) > 3 else _name] = (
            Unit(_dimension, _factor)
        )
_WORDS.update({"sq " + k: Unit("length^2", v.factor**2) for k, v in {**_SPELLINGS, **_WORDS}.items()
               if v.dimension == "length"})  # fmt: skip

# A unit right after a number: "5 cm", "5cm", "3 cm^2", "3 cm²", "36 km/h", "20 °C", "2 hours".
_UNIT = re.compile(
    r"\s*(sq\s+[a-z]+|\u00b0\s*[CF]\b|\u00b0|[a-zA-Z\u00b5\u03bc]+(?:/[a-zA-Z]+)?)(?![a-zA-Z0-9_/])"
    r"(?:\s*\^\s*\{?([23])\}?|([\u00b2\u00b3]))?"
)


def read_unit(text: str, pos: int) -> tuple[Unit | None, int]:
    """The unit written at `text[pos:]` (after a number) and where it ends; (None, pos) when there is none."""
    match = _UNIT.match(text, pos)
    if match is None:
        return None, pos
    name = re.sub(r"\s+", " ", match.group(1))
    unit = _SPELLINGS.get(name) or _WORDS.get(name.lower())
    if unit is None:
        return None, pos
    power = match.group(2) or {"\u00b2": "2", "\u00b3": "3"}.get(match.group(3) or "")
    if power:
        if unit.dimension not in _LENGTH_POWERS:
            return None, pos
        unit = Unit(f"length^{power}" if power == "2" else "volume", unit.factor ** int(power))
    return unit, match.end()
