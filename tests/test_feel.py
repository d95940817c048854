"""FEEL beyond table entries: dates as process variables carry them, literal expressions,
and business knowledge models called by name."""
from __future__ import annotations

import datetime as dt

import pytest

from app.engine.decision_tables import TableError, decide, from_source
from app.engine.feel import FeelError, parse_expression, parse_unary_tests, to_value

DMN = 'xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d" name="d" namespace="n"'


@pytest.mark.parametrize("entry,value,expected", [
    ('date("2026-12-25")', "2026-12-25", True),
    ('date("2026-12-25")', "2026-12-24", False),
    ('< date("2026-04-01")', "2026-03-31", True),
    ('< date("2026-04-01")', "2026-04-01", False),
    ('[date("2026-01-01")..date("2026-12-31")]', "2026-06-30", True),
    ('[date("2026-01-01")..date("2026-12-31")]', "2027-01-01", False),
    # A date-time variable (an instant from a form or the API) compared with a date: its day.
    ('[date("2026-01-01")..date("2026-12-31")]', "2026-12-31T23:30:00Z", True),
    ('>= date and time("2026-12-01T09:00:00Z")', "2026-12-01T09:00:00Z", True),
    ('>= date and time("2026-12-01T09:00:00Z")', "2026-12-01T08:59:59Z", False),
    ('< date("2026-04-01")', "not a date", False),
    ('< date("2026-04-01")', None, False),
    ('< date("2026-04-01")', 20260331, False),
])
def test_dates_in_entries(entry, value, expected):
    assert parse_unary_tests(entry).matches(to_value(value), {}) is expected


@pytest.mark.parametrize("entry", ['date("2026-02-30")', 'date("31/12/2026")', "date(x)", 'time("10:00")',
                                   'date and time("2026-12-01")'])
def test_bad_dates_and_unknown_functions_are_refused(entry):
    with pytest.raises(FeelError):
        parse_unary_tests(entry)


@pytest.mark.parametrize("text,variables,expected", [
    ('visitDate <= date("2026-12-04")', {"visitDate": "2026-12-03"}, True),
    ('date(visitDate) = date("2026-12-03")', {"visitDate": "2026-12-03"}, True),
    ('date and time("2026-12-01T09:00:00Z") > date and time(receivedAt)', {"receivedAt": "2026-12-01T08:00:00Z"},
     True),
    ('date("2026-13-01")', {}, FeelError),
    ("date(visitDate)", {"visitDate": "soon"}, None),
    ('if age < 1 then "every 10 working days" else "every 20 working days"', {"age": 0}, "every 10 working days"),
    ("missed >= 3 and not(engaged)", {"missed": 3, "engaged": False}, True),
    ("missed >= 3 and not(engaged)", {"missed": None, "engaged": False}, None),
])
def test_expressions_with_dates(text, variables, expected):
    if expected is FeelError:
        with pytest.raises(FeelError):
            parse_expression(text)
        return
    context = {k: to_value(v) for k, v in variables.items()}
    assert parse_expression(text).evaluate(context) == expected


def test_a_date_output_reaches_the_process_as_iso_text():
    source = (f'<definitions {DMN}><decision id="review" name="Review"><variable name="reviewBy"/>'
              '<literalExpression><text>date("2027-03-01")</text></literalExpression></decision></definitions>')
    assert decide(from_source(source.encode()), "review", {}) == {"reviewBy": "2027-03-01"}


def _unique_dates(second: str) -> bytes:
    rules = [('&lt; date("2026-04-01")', '"old"'), (second, '"new"')]
    rows = "".join(f'<rule id="r{i}"><inputEntry id="i{i}"><text>{t}</text></inputEntry>'
                   f'<outputEntry id="o{i}"><text>{o}</text></outputEntry></rule>' for i, (t, o) in enumerate(rules))
    return (f'<definitions {DMN}><decision id="t" name="T"><decisionTable id="dt" hitPolicy="UNIQUE">'
            '<input id="in"><inputExpression id="ie" typeRef="date"><text>referralDate</text></inputExpression>'
            f'</input><output id="o" name="policy" typeRef="string"/>{rows}</decisionTable></decision>'
            '</definitions>').encode()


def test_unique_date_ranges_are_checked_for_overlap():
    disjoint = from_source(_unique_dates('&gt;= date("2026-04-01")'))["t"]
    assert disjoint.evaluate({"referralDate": "2026-04-01"}) == {"policy": "new"}
    assert disjoint.evaluate({"referralDate": "2026-03-31"}) == {"policy": "old"}
    with pytest.raises(TableError, match="rules 1 .* and 2 .* can both match"):
        from_source(_unique_dates('&gt;= date("2026-03-31")'))


KNOWLEDGE = f'''<definitions {DMN}>
  <decision id="due" name="Visit due">
    <variable name="visitDueInDays"/>
    <informationRequirement><requiredInput href="#age"/></informationRequirement>
    <knowledgeRequirement><requiredKnowledge href="#interval"/></knowledgeRequirement>
    <literalExpression><text>Visit interval(child age: age, intensive: true)</text></literalExpression>
  </decision>
  <decision id="band" name="Band">
    <variable name="band"/>
    <knowledgeRequirement><requiredKnowledge href="#banding"/></knowledgeRequirement>
    <literalExpression><text>Banding(score)</text></literalExpression>
  </decision>
  <businessKnowledgeModel id="interval" name="Visit interval">
    <encapsulatedLogic>
      <formalParameter name="child age"/><formalParameter name="intensive"/>
      <literalExpression><text>if child age &lt; 1 then 10 else Halve(20, intensive)</text></literalExpression>
    </encapsulatedLogic>
  </businessKnowledgeModel>
  <businessKnowledgeModel id="halve" name="Halve">
    <encapsulatedLogic>
      <formalParameter name="days"/><formalParameter name="when"/>
      <literalExpression><text>if when then days / 2 else days</text></literalExpression>
    </encapsulatedLogic>
  </businessKnowledgeModel>
  <businessKnowledgeModel id="banding" name="Banding">
    <encapsulatedLogic>
      <formalParameter name="s"/>
      <decisionTable hitPolicy="FIRST">
        <input id="bi"><inputExpression><text>s</text></inputExpression></input>
        <output id="bo" name="band"/>
        <rule id="b1"><inputEntry><text>&gt;= 3</text></inputEntry><outputEntry><text>"high"</text></outputEntry></rule>
        <rule id="b2"><inputEntry><text>-</text></inputEntry><outputEntry><text>"low"</text></outputEntry></rule>
      </decisionTable>
    </encapsulatedLogic>
  </businessKnowledgeModel>
  <inputData id="age" name="age"/>
</definitions>'''


def test_business_knowledge_models_are_called_by_name():
    decisions = from_source(KNOWLEDGE.encode())
    assert decide(decisions, "due", {"age": 0}) == {"visitDueInDays": 10}
    # A model calling another model, with named arguments.
    assert decide(decisions, "due", {"age": 4}) == {"visitDueInDays": 10}
    # A decision table as a model's logic.
    assert decide(decisions, "band", {"score": 3}) == {"band": "high"}
    assert decide(decisions, "band", {"score": 1}) == {"band": "low"}


def test_a_call_of_a_model_the_decision_does_not_require_is_refused():
    source = KNOWLEDGE.replace('<knowledgeRequirement><requiredKnowledge href="#banding"/></knowledgeRequirement>', "")
    with pytest.raises(TableError, match=r"decision band \(Band\).*Banding\(\.\.\.\) is not supported"):
        from_source(source.encode())


def test_a_requirement_on_a_missing_model_is_refused():
    source = KNOWLEDGE.replace('href="#banding"', 'href="#gone"')
    with pytest.raises(TableError, match="requires business knowledge model 'gone'"):
        from_source(source.encode())


def test_wrong_arguments_give_null_not_a_guess():
    source = KNOWLEDGE.replace("Banding(score)", "Banding(score, 2)")
    assert decide(from_source(source.encode()), "band", {"score": 5}) == {"band": None}


def test_date_values_are_python_dates_inside_feel():
    assert parse_expression('date("2026-12-28")').evaluate({}) == dt.date(2026, 12, 28)


def test_python_constants_are_refused_in_literal_expressions():
    with pytest.raises(FeelError, match="None is Python; FEEL writes null"):
        parse_expression("if x = None then 1 else 2", {"x"})
