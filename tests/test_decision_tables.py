"""Decision tables as process owners write them in Camunda Modeler: S-FEEL entries and
every hit policy, evaluated with DMN semantics."""
from __future__ import annotations

import re

import pytest

from app.engine.decision_tables import NoAnswer, TableError, from_source
from app.engine.feel import FeelError, parse_unary_tests, to_value


@pytest.mark.parametrize("entry,value,expected", [
    ("-", "anything", True),
    ('"Medium","Low"', "Low", True),
    ('"Medium","Low"', "High", False),
    ("[1..5]", 5, True), ("[1..5)", 5, False), ("]1..5]", 1, False), ("(1..5]", 2, True),
    (">= 3", 3, True), ("< 3", 3, False), ("!= 2", 3, True),
    ('not("ast")', "ast", False), ('not("ast")', "ssf", True), ("not(1, 2)", 3, True),
    ("null", None, True), ("null", 0, False), ("true", True, True), ("false", True, False),
    ("-5", -5, True), ("2.5", 2.5, True), ("1, [4..6]", 5, True),
    ("< 3", None, False), ("< 3", "2", False),  # no match, not an error, for null or the wrong type
    ("limit", 7, True),  # a variable reference
    ('"Pérez"', "Pérez", True), ('"say \\"hi\\""', 'say "hi"', True),  # non-ASCII and escapes
])
def test_unary_tests(entry, value, expected):
    assert parse_unary_tests(entry).matches(to_value(value), {"limit": 7}) is expected


@pytest.mark.parametrize("entry", ['"unclosed', "[1..", "> ", "1 2", 'contains("x")', "a + b"])
def test_unsupported_or_broken_entries_are_errors(entry):
    with pytest.raises(FeelError):
        parse_unary_tests(entry)


def table(policy: str, rules: list[tuple[str, str]], aggregation: str = "", output_values: str = "",
          type_ref: str = "number") -> object:
    rows = "".join(
        f'<rule id="r{i}"><inputEntry id="i{i}"><text>{test}</text></inputEntry>'
        f'<outputEntry id="o{i}"><text>{out}</text></outputEntry></rule>'
        for i, (test, out) in enumerate(rules, start=1))
    values = f"<outputValues><text>{output_values}</text></outputValues>" if output_values else ""
    agg = f' aggregation="{aggregation}"' if aggregation else ""
    source = (f'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="n">'
              f'<decision id="t" name="T"><decisionTable id="dt" hitPolicy="{policy}"{agg}>'
              f'<input id="in" label="Score"><inputExpression id="ie" typeRef="{type_ref}"><text>score</text>'
              f'</inputExpression></input><output id="out" name="band" typeRef="string">{values}</output>'
              f'{rows}</decisionTable></decision></definitions>')
    return from_source(source.encode())["t"]


BANDS = [("&lt; 10", '"low"'), ("[5..20]", '"medium"'), ("&gt;= 15", '"high"')]


def test_first_takes_the_first_match_in_rule_order():
    assert table("FIRST", BANDS).evaluate({"score": 7}) == {"band": "low"}
    assert table("FIRST", BANDS).evaluate({"score": 16}) == {"band": "medium"}


def test_unique_overlap_is_refused_at_deploy_and_no_match_is_no_answer():
    with pytest.raises(TableError, match="rules 1 .* and 2 .* can both match"):
        table("UNIQUE", BANDS)
    unique = table("UNIQUE", [("&lt; 10", '"low"'), ("[10..20)", '"medium"'), ("&gt;= 20", '"high"')])
    assert unique.evaluate({"score": 10}) == {"band": "medium"}
    with pytest.raises(NoAnswer, match="no rule matched"):
        unique.evaluate({"score": None})


def test_any_needs_agreeing_outputs():
    agreeing = table("ANY", [("&lt; 10", '"low"'), ("&lt; 5", '"low"')])
    assert agreeing.evaluate({"score": 1}) == {"band": "low"}
    with pytest.raises(NoAnswer, match="different outputs"):
        table("ANY", BANDS).evaluate({"score": 7})


def test_priority_and_output_order_follow_the_output_values():
    values = '"high","medium","low"'
    assert table("PRIORITY", BANDS, output_values=values).evaluate({"score": 7}) == {"band": "medium"}
    assert table("OUTPUT ORDER", BANDS, output_values=values).evaluate({"score": 16}) == [
        {"band": "high"}, {"band": "medium"}]


def test_rule_order_and_collect_return_every_match():
    assert table("RULE ORDER", BANDS).evaluate({"score": 16}) == [{"band": "medium"}, {"band": "high"}]
    assert table("COLLECT", BANDS).evaluate({"score": 100}) == [{"band": "high"}]
    assert table("COLLECT", BANDS).evaluate({"score": -1}) == [{"band": "low"}]


@pytest.mark.parametrize("aggregation,expected", [("SUM", 30), ("MIN", 10), ("MAX", 20), ("COUNT", 2)])
def test_collect_aggregations(aggregation, expected):
    numbers = [("&lt; 10", "10"), ("[5..20]", "20"), ("&gt;= 50", "5")]
    assert table("COLLECT", numbers, aggregation).evaluate({"score": 7}) == {"band": expected}


def test_collect_with_no_match_counts_zero():
    numbers = [("&lt; 10", "10")]
    assert table("COLLECT", numbers, "COUNT").evaluate({"score": 70}) == {"band": 0}
    assert table("COLLECT", numbers, "SUM").evaluate({"score": 70}) == {"band": None}


def test_outputs_outside_their_declared_values_are_refused():
    with pytest.raises(TableError, match="'medium' is not one of its declared values"):
        table("FIRST", BANDS, output_values='"low","high"')


def test_nel_assessment_track_in_feel():
    from pathlib import Path

    nel = from_source((Path(__file__).resolve().parent.parent / "dmn" / "nel_assessment_track.dmn").read_bytes())
    track = nel["nel_assessment_track"]
    for complexity in ("low", "high"):
        for escalating in (False, True):
            for agencies in (False, True):
                expected = 35 if complexity == "high" or escalating or agencies else 10
                got = track.evaluate({"complexity": complexity, "concernsEscalating": escalating,
                                      "multipleAgencies": agencies})
                assert got == {"assessmentDays": expected}


@pytest.mark.parametrize("policy", ["PRIORITY", "OUTPUT ORDER"])
def test_priority_without_output_values_is_refused(policy):
    # Without the output values there is no priority: refused, not quietly FIRST or RULE ORDER.
    with pytest.raises(TableError, match=f"decision t .*output 'band': hit policy {policy} takes its order"):
        table(policy, BANDS)
    with pytest.raises(TableError, match="no output lists its values"):
        table(policy, BANDS, output_values="[1..9]")  # a range gives no order either


def test_nel_assessment_track_declares_its_values():
    from pathlib import Path

    nel = from_source((Path(__file__).resolve().parent.parent / "dmn" / "nel_assessment_track.dmn").read_bytes())
    track = nel["nel_assessment_track"]
    assert track.outputs[0].allowed == [10, 35]
    with pytest.raises(NoAnswer, match="complexity.* 'medium', not one of its allowed values"):
        track.evaluate({"complexity": "medium", "concernsEscalating": False, "multipleAgencies": False})


def test_computed_outputs_are_checked_against_the_declared_values_when_evaluated():
    computed = table("FIRST", [("&lt; 10", "chosen"), ("-", '"high"')], output_values='"low","high"')
    assert computed.evaluate({"score": 1, "chosen": "low"}) == {"band": "low"}
    with pytest.raises(NoAnswer, match="rule 1 \\(r1\\) gives output 'band' the value 'medium', not one of its declared"):
        computed.evaluate({"score": 1, "chosen": "medium"})
    with pytest.raises(NoAnswer, match="the value None"):
        computed.evaluate({"score": 1})


def test_output_values_may_be_ranges():
    ranged = table("FIRST", [("&lt; 10", "1"), ("-", "score")], output_values="[0..100]")
    assert ranged.evaluate({"score": 50}) == {"band": 50}
    with pytest.raises(NoAnswer, match="rule 2 \\(r2\\) gives output 'band' the value 150"):
        ranged.evaluate({"score": 150})
    with pytest.raises(TableError, match="rule 1 .*200 is not one of its declared values"):
        table("FIRST", [("&lt; 10", "200")], output_values="[0..100]")


@pytest.mark.parametrize("type_ref,value", [
    ("number", "7"), ("number", True), ("integer", 2.5), ("long", "3"), ("string", 7), ("string", False),
    ("boolean", "true"), ("boolean", 1), ("date", "tomorrow"), ("date", 20260101), ("dateTime", "2026-01-01"),
    ("feel:number", "7"),
])
def test_a_value_of_the_wrong_type_is_an_error_not_an_answer(type_ref, value):
    typed = table("FIRST", [("-", '"any"')], type_ref=type_ref)
    declared = type_ref.removeprefix("feel:")
    with pytest.raises(NoAnswer, match=f"input 'Score' \\(score\\) is {value!r} .*but its type is {declared}$"):
        typed.evaluate({"score": value})


@pytest.mark.parametrize("type_ref,value", [
    ("number", 7), ("number", 2.5), ("integer", 3), ("long", 3.0), ("string", "7"), ("boolean", False),
    ("date", "2026-01-01"), ("date", "2026-01-01T09:00:00Z"), ("dateTime", "2026-01-01T09:00:00Z"),
    ("number", None), ("boolean", None), ("tAge", "seven"),  # null is every type; item definitions are not checked
])
def test_values_of_the_declared_type_are_evaluated(type_ref, value):
    assert table("FIRST", [("-", '"any"')], type_ref=type_ref).evaluate({"score": value}) == {"band": "any"}


def test_an_absent_input_is_null_when_the_answer_does_not_depend_on_it():
    rules = [("&lt; 10", '"low"'), ("null", '"unknown"'), ("-", '"high"')]
    # Null given: the rule written for null answers, absent or not.
    assert table("FIRST", rules).evaluate({"score": None}) == {"band": "unknown"}
    with pytest.raises(NoAnswer, match="absent inputs score: rule 1 \\(r1\\) could apply if they were given"):
        table("FIRST", rules).evaluate({})
    # Every rule is written for null: nothing could change the answer.
    assert table("FIRST", rules[1:]).evaluate({}) == {"band": "unknown"}
    with pytest.raises(NoAnswer, match="rule 1 \\(r1\\) could apply"):
        table("COLLECT", [("&gt; 10", '"high"'), ("-", '"any"')]).evaluate({})
    with pytest.raises(NoAnswer, match="absent inputs score: rule 1"):
        table("UNIQUE", [("&lt; 10", '"low"'), ("&gt;= 10", '"high"')]).evaluate({})
    # A decision that fails for another reason names the absent inputs too.
    with pytest.raises(NoAnswer, match="the value None, not one of its declared values; absent inputs: score"):
        table("FIRST", [("null", "chosen")], output_values='"low"').evaluate({})


@pytest.mark.parametrize("entry,expected", [
    ("True", "True is Python; FEEL writes true"), ("False", "FEEL writes false"), ("None", "FEEL writes null"),
    ("'high'", "unexpected \"'high'\""), ("== 3", "unexpected '='"), ("level >= 3", "unexpected '>='"),
    ('in ("a", "b")', "function in(...) is not supported"), ("not True", "unexpected 'True'"),
])
def test_python_entries_as_spiffworkflow_tables_have_them_are_refused(entry, expected):
    with pytest.raises(TableError, match=re.escape(expected)):
        table("FIRST", [(entry.replace(">", "&gt;"), '"low"')])
    if entry in ("True", "None"):
        with pytest.raises(TableError, match=re.escape(expected)):
            table("FIRST", [("-", entry)])  # as an output entry too
