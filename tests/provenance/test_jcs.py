"""RFC 8785 canonicalisation: the RFC's own examples, its number table, and properties."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from levelfield.errors import DataError
from levelfield.provenance import canonicalize, es_number, parse_canonical

# RFC 8785 §3.2.2 example (also cyberphone/json-canonicalization testdata/input/values.json).
RFC8785_VALUES_INPUT = r"""{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"""
RFC8785_VALUES_OUTPUT = (
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
    '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
)

# RFC 8785 §3.2.3 sorting example, extended as in the reference test data (weird.json).
RFC8785_SORTING_INPUT = r"""{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\u000a": "Newline",
  "1": "One",
  "\u0080": "Control\u007f",
  "\ud83d\ude02": "Smiley",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "</script>": "Browser Challenge"
}"""
RFC8785_SORTING_OUTPUT = (
    '{"\\n":"Newline","\\r":"Carriage Return","1":"One","</script>":"Browser Challenge",'
    '"\u0080":"Control\u007f","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign",'
    '"\U0001f602":"Smiley","\ufb33":"Hebrew Letter Dalet With Dagesh"}'
)

# RFC 8785 Appendix B: IEEE-754 bit patterns and their ECMAScript serialisation.
RFC8785_APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    return float(struct.unpack(">d", bytes.fromhex(bits))[0])


def test_rfc8785_section_3_2_2_values_example() -> None:
    assert canonicalize(json.loads(RFC8785_VALUES_INPUT)) == RFC8785_VALUES_OUTPUT.encode()


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    assert canonicalize(json.loads(RFC8785_SORTING_INPUT)) == RFC8785_SORTING_OUTPUT.encode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # cyberphone/json-canonicalization testdata: structures, arrays, french, unicode
        (
            '{"1": {"f": {"f": "hi","F": 5} ,"\\n": 56.0}, "10": { }, "": "empty", "a": { },'
            ' "111": [ {"e": "yes","E": "no" } ], "A": { }}',
            '{"":"empty","1":{"\\n":56,"f":{"F":5,"f":"hi"}},"10":{},"111":[{"E":"no","e":"yes"}],'
            '"A":{},"a":{}}',
        ),
        ('[56, {"d": true, "10": null, "1": [ ]}]', '[56,{"1":[],"10":null,"d":true}]'),
        (
            '{"peach": "a", "péché": "b", "pêche": "c", "sin": "d"}',
            '{"peach":"a","péché":"b","pêche":"c","sin":"d"}',
        ),
        ('{"Unnormalized Unicode":"A\\u030a"}', '{"Unnormalized Unicode":"A\u030a"}'),
    ],
)
def test_rfc8785_reference_testdata(text: str, expected: str) -> None:
    assert canonicalize(json.loads(text)).decode() == expected


@pytest.mark.parametrize(("bits", "expected"), RFC8785_APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, expected: str) -> None:
    assert es_number(_double(bits)) == expected


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_rfc8785_appendix_b_nan_and_infinity_are_errors(bits: str) -> None:
    with pytest.raises(DataError):
        canonicalize([_double(bits)])


@pytest.mark.parametrize(
    "bad",
    [
        {1: "x"},
        {"s": "\ud800"},
        {"b": b"bytes"},
        {"set": {1, 2}},
        2**53 + 1,
        float("nan"),
    ],
)
def test_canonicalize_rejects_what_json_cannot_hold(bad: object) -> None:
    with pytest.raises(DataError):
        canonicalize(bad)


def test_parse_canonical_rejects_non_canonical_and_duplicates() -> None:
    assert parse_canonical('{"a":1,"b":[true]}') == {"a": 1, "b": [True]}
    for text in [
        '{"b":1,"a":2}',
        '{"a": 1}',
        '{"a":1.0}',
        '{"a":1E+30}',
        '{"a":1,"a":1}',
        '{"a":NaN}',
        "{",
    ]:
        with pytest.raises(DataError):
            parse_canonical(text)


finite = st.floats(allow_nan=False, allow_infinity=False)


@given(finite)
def test_es_number_round_trips_and_is_json(x: float) -> None:
    text = es_number(x)
    assert float(text) == x or (x == 0 and text == "0")
    assert float(json.loads(text)) == x


@given(
    st.recursive(
        st.none() | st.booleans() | finite | st.text(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_canonical_form_is_a_fixed_point(value: object) -> None:
    try:
        once = canonicalize(value)
    except DataError:
        return  # lone surrogates in generated text: refused, as they must be
    reread = json.loads(once, parse_int=float)
    assert canonicalize(reread) == once
    assert parse_canonical(once) == reread


@pytest.mark.skipif(
    shutil.which("node") is None, reason="node (the ECMAScript oracle) not installed"
)
def test_es_number_matches_node_number_to_string() -> None:
    """V8's ``String(x)`` is ECMAScript's Number::toString: 25,000 doubles must agree."""
    rng = np.random.default_rng(8785)
    bits = rng.integers(0, 2**64, 20_000, dtype=np.uint64, endpoint=False)
    doubles = bits.view(np.float64)
    scaled = rng.normal(size=5_000) * 10.0 ** rng.integers(-30, 30, 5_000)
    extra = [_double(b) for b, _ in RFC8785_APPENDIX_B] + [1e21, 1e-7, 123e-20, 0.1, 2.0**70]
    values = [float(x) for x in np.concatenate([doubles, scaled]) if np.isfinite(x)] + extra
    script = (
        "const xs=JSON.parse(require('fs').readFileSync(0,'utf8'));"
        "process.stdout.write(JSON.stringify(xs.map(String)))"
    )
    out = subprocess.run(
        ["node", "-e", script], input=json.dumps(values), capture_output=True, text=True, check=True
    ).stdout
    node = [s if s != "-0" else "0" for s in json.loads(out)]
    assert [es_number(x) for x in values] == node
