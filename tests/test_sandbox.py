"""The script sandbox: escapes refused, runaway work stopped, ordinary scripts unchanged, task data kept JSON.

Each refusal is checked twice: against the environment directly, and through a real SpiffWorkflow workflow
(script task, pre-script, gateway condition, timer expression), because SpiffWorkflow wraps errors and runs
expressions from places a unit test of the environment alone would not reach. A broken budget makes these
tests hang rather than fail, which is loud enough.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import isolation
from engine.bpmn.determinism import deterministic
from engine.bpmn.sandbox import (
    MAX_INT_BITS, MAX_SEQUENCE_LENGTH, STEP_BUDGET, SandboxEnvironment, SandboxScriptEngine, check_definition_scripts, script_error_from,
)
from engine.kernel.errors import DefinitionError, ScriptError

# -- Helpers ---------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def engine_clock() -> Iterator[None]:
    """The project drives SpiffWorkflow only inside ``deterministic()`` (its task ids and clock need it)."""
    with deterministic(datetime(2025, 1, 1, tzinfo=timezone.utc), timezone.utc, uuid.NAMESPACE_URL, "sandbox"):
        yield


_DEFINITIONS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
    id="definitions" targetNamespace="http://yishi.example/test">
  <bpmn:process id="process" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:sequenceFlow id="to_first" sourceRef="start" targetRef="{first}"/>
    {body}
  </bpmn:process>
</bpmn:definitions>"""


def _workflow(first: str, body: str) -> BpmnWorkflow:
    parser = SpiffBpmnParser()
    parser.add_bpmn_str(_DEFINITIONS.format(first=first, body=body).encode())
    return BpmnWorkflow(parser.get_spec("process"), script_engine=SandboxScriptEngine())


def deploy_check(workflow: BpmnWorkflow) -> None:
    check_definition_scripts(workflow.spec.task_specs.values(), "test.bpmn")


def _script_task(task_id: str, script: str, then: str) -> str:
    return f"""
    <bpmn:scriptTask id="{task_id}"><bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="{task_id}_out" sourceRef="{task_id}" targetRef="{then}"/>"""


def script_workflow(script: str) -> BpmnWorkflow:
    return _workflow("script", _script_task("script", script, "end") + '<bpmn:endEvent id="end"/>')


def prescript_workflow(script: str) -> BpmnWorkflow:
    return _workflow(
        "manual",
        f"""
    <bpmn:manualTask id="manual">
      <bpmn:extensionElements>
        <spiffworkflow:preScript>{escape(script)}</spiffworkflow:preScript>
      </bpmn:extensionElements>
    </bpmn:manualTask>
    <bpmn:sequenceFlow id="manual_out" sourceRef="manual" targetRef="end"/>
    <bpmn:endEvent id="end"/>""",
    )


def gateway_workflow(setup: str, condition: str) -> BpmnWorkflow:
    """setup → gateway: ``condition`` leads to a script setting path='many', the default to path='few'."""
    return _workflow(
        "setup",
        _script_task("setup", setup, "gateway")
        + f"""
    <bpmn:exclusiveGateway id="gateway" default="to_few"/>
    <bpmn:sequenceFlow id="to_many" sourceRef="gateway" targetRef="many">
      <bpmn:conditionExpression>{escape(condition)}</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="to_few" sourceRef="gateway" targetRef="few"/>"""
        + _script_task("many", "path = 'many'", "end")
        + _script_task("few", "path = 'few'", "end")
        + '<bpmn:endEvent id="end"/>',
    )


def timer_workflow(kind: str, expression: str) -> BpmnWorkflow:
    return _workflow(
        "timer",
        f"""
    <bpmn:intermediateCatchEvent id="timer">
      <bpmn:timerEventDefinition><bpmn:{kind}>{escape(expression)}</bpmn:{kind}></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:sequenceFlow id="timer_out" sourceRef="timer" targetRef="end"/>
    <bpmn:endEvent id="end"/>""",
    )


def refusal(workflow: BpmnWorkflow) -> ScriptError:
    """Run the workflow, expecting SpiffWorkflow's wrapped error; return the ScriptError behind it."""
    with pytest.raises(WorkflowTaskException) as caught:
        workflow.do_engine_steps()
    error = script_error_from(caught.value)
    assert error is not None, f"no ScriptError behind {caught.value!r}"
    return error


def task_state(workflow: BpmnWorkflow, bpmn_id: str) -> int:
    return next(task.state for task in workflow.get_tasks() if task.task_spec.bpmn_id == bpmn_id)


def run(script: str, data: dict | None = None) -> dict:
    """Execute a script directly in the environment and return the task data it leaves."""
    context = {} if data is None else data
    SandboxEnvironment().execute(script, context)
    return context


def refused(script: str, data: dict | None = None) -> ScriptError:
    with pytest.raises(ScriptError) as caught:
        run(script, data)
    return caught.value


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """A file an escaped script would create; every escape test asserts it never appears."""
    return tmp_path / "escaped"


# -- Escapes: refused at compile time or at run time, through the environment and through workflows ----------

ESCAPES = {
    "__import__": "__import__('os').system('touch {marker}')",
    "import": "import os\nos.system('touch {marker}')",
    "from import": "from os import system\nsystem('touch {marker}')",
    "subclasses": "x = ().__class__.__base__.__subclasses__()",
    "module private": "random._os.system('touch {marker}')",
    "open": "open('{marker}', 'w').write('x')",
    "eval": "eval(\"__import__('os').system('touch {marker}')\")",
    "exec": "exec(\"__import__('os').system('touch {marker}')\")",
    "getattr": "x = getattr(1, '__class__')",
    "globals": "x = globals()",
    "vars": "x = vars()",
    "type": "x = type(1)",
    "compile": "x = compile('1', 'f', 'eval')",
    "str.format": "x = '{0.__class__}'.format(1)",
    "frame": "g = (i for i in [1])\nx = g.gi_frame",
    "class": "class A:\n    pass",
    "print": "print('hello')",
}


@pytest.mark.parametrize("script", ESCAPES.values(), ids=ESCAPES.keys())
def test_escapes_are_refused_by_the_environment(script: str, marker: Path) -> None:
    error = refused(script.replace("{marker}", str(marker)))
    assert error.code == "script_error" and error.message
    assert not marker.exists()


@pytest.mark.parametrize("script", ESCAPES.values(), ids=ESCAPES.keys())
def test_escapes_are_refused_in_a_script_task(script: str, marker: Path) -> None:
    workflow = script_workflow(script.replace("{marker}", str(marker)))
    refusal(workflow)
    assert task_state(workflow, "script") == TaskState.ERROR
    assert not marker.exists()


def test_compile_time_refusals_list_the_reasons() -> None:
    error = refused("import os\nx = ().__class__")
    assert error.message.startswith("the script was refused")
    assert "Line 1: import statements are not allowed." in error.details["errors"]
    assert any('"__class__"' in reason for reason in error.details["errors"])


def test_a_module_in_task_data_gives_no_way_in() -> None:
    assert "invalid attribute name" in refused("x = random._os", {"random": random}).message
    error = refused("x = random.random()", {"random": random})
    assert error.details["variable"] == "random" and "module" in error.message


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ("x = open('/etc/passwd')", "name 'open' is not allowed here"),
        ("x = getattr(1, '__class__')", "name 'getattr' is not allowed here"),
        ("x = undefined_thing", "NameError: name 'undefined_thing' is not defined"),
        ("x = 'abc'.ljust(10)", "'str.ljust' is not available in scripts"),
        ("x = str.join(',', ['a'])", "'type.join' is not available in scripts"),
        ("x = '%s' % 1", "use an f-string"),
        ("x = 'a'\nx.y = 1", "a str cannot be changed in place"),
    ],
)
def test_run_time_refusals_say_what_is_not_allowed(script: str, message: str) -> None:
    error = refused(script)
    assert message in error.message
    assert error.details["line"] == script.count("\n") + 1


def test_a_refused_prescript_errors_its_task(marker: Path) -> None:
    workflow = prescript_workflow(f"import os\nos.system('touch {marker}')")
    assert "import statements are not allowed" in refusal(workflow).message
    assert task_state(workflow, "manual") == TaskState.ERROR
    assert not marker.exists()


def test_a_gateway_condition_cannot_escape(marker: Path) -> None:
    workflow = gateway_workflow("count = 3", f"__import__('os').system('touch {marker}') == 0")
    assert '"__import__" is an invalid variable name' in refusal(workflow).message
    assert task_state(workflow, "gateway") == TaskState.ERROR
    assert not marker.exists()


@pytest.mark.parametrize("kind", ["timeDate", "timeDuration"])
def test_a_timer_expression_cannot_escape(kind: str) -> None:
    workflow = timer_workflow(kind, "__import__('os').getcwd()")
    assert refusal(workflow).message.startswith("the expression was refused")
    # SpiffWorkflow evaluates the timer while updating the task, which stays FUTURE (not ERROR).
    assert task_state(workflow, "timer") == TaskState.FUTURE


# -- Runaway work: stopped by the step budget or by a size guard -----------------------------------------------

RUNAWAYS = {
    "while True": "while True:\n    pass",
    "nested for": "for i in range(1000):\n    for j in range(1000):\n        pass",
    "recursion": "def f(n):\n    return 0 if n == 0 else f(n - 1) + f(n - 1)\nx = f(40)",
    "lambda recursion": "f = lambda n: 0 if n == 0 else f(n - 1) + f(n - 1)\nx = f(40)",
    "endless generator": "def g():\n    while True:\n        yield 1\nx = sum(g())",
    "swallowed": "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
    "swallowed at top": "try:\n    while True:\n        pass\nexcept Exception:\n    pass",
}


@pytest.mark.parametrize("script", RUNAWAYS.values(), ids=RUNAWAYS.keys())
def test_runaway_loops_exhaust_the_step_budget(script: str) -> None:
    assert f"step budget of {STEP_BUDGET} exceeded" in refused(script).message


HUGE = {
    "9**9**9": "x = 9**9**9",
    "10**10**8": "x = 10**10**8",
    "pow in place": "x = 10\nx **= 10**8",
    "2 << 10**10": "x = 2 << 10**10",
    "int product": "x = 2**4000 * 2**4000",
    "str repeat": "x = 'a' * 10**10",
    "list repeat": "x = [0] * 10**10",
    "repeat on the left": "x = 10**10 * (0,)",
    "range(10**9)": "for i in range(10**9):\n    pass",
    "comprehension over range": "x = [i for i in range(10**9)]",
    "sum(range(10**12))": "x = sum(range(10**12))",
    "doubling +": "s = 'ab'\nwhile True:\n    s = s + s",
    "doubling +=": "s = [0]\nwhile True:\n    s += s",
    "doubling extend": "s = [0]\nwhile True:\n    s.extend(s)",
    "doubling slice": "s = [0]\nwhile True:\n    s[:0] = s",
    "doubling star": "s = [0]\nwhile True:\n    s = [*s, *s]",
    "doubling call": "def f(*a):\n    return a\ns = [0]\nwhile True:\n    s = f(*s, *s)",
    "replace": "s = 'a' * 1000\nx = s.replace('a', s)",
    "join": "x = ','.join(['a' * 1000] * 1000)",
    "zip of one list": "s = [0] * 100000\nx = list(zip(*[s] * 100000))",
    "f-string width": "x = f'{1:>10000000000}'",
    "f-string precision": "x = f'{1.5:.{10**9}f}'",
    "sum of lists": "x = sum([[0] * 1000] * 1000, [])",
    "int from long str": "x = int('9' * 5000)",
}


@pytest.mark.parametrize("script", HUGE.values(), ids=HUGE.keys())
def test_huge_single_operations_are_refused(script: str) -> None:
    refused(script)


def test_the_clock_backstops_expensive_steps() -> None:
    # Each step sorts 100 000 items, so a second passes long before the step budget would.
    script = "ballots = list(range(100000))\nwhile True:\n    ranked = sorted(ballots, reverse=True)"
    assert "time budget" in refused(script).message


def test_size_limits_are_named() -> None:
    assert f"more than {MAX_INT_BITS} bits" in refused("x = 9**9**9").message
    assert f"more than {MAX_SEQUENCE_LENGTH} items" in refused("x = 'a' * 10**10").message


def test_the_budget_stops_a_script_task() -> None:
    workflow = script_workflow("while True:\n    pass")
    assert "step budget" in refusal(workflow).message
    assert task_state(workflow, "script") == TaskState.ERROR


# -- Ordinary scripts keep working ----------------------------------------------------------------------------


def test_ordinary_python_works() -> None:
    data = run(
        """
total = (1 + 2) * 3 ** 2 // 4 % 5 - 0.5
parts = "a,b".split(",")
squares = [i * i for i in range(5)]
index = {name: position for position, name in enumerate(parts)}
ranked = sorted([3, 1, 2], reverse=True)
count = sum(squares)
count += 1
label = f"{count:>4} {3.14159:.2f} {parts!r} {'x'.upper()}"
found = index.get("b")
missing = index.get("z", "none")
first, *rest = ranked
pairs = list(zip(parts, squares))
flags = [isinstance(count, int), any(squares), all(squares), len(parts), max(ranked), min(ranked), abs(-2)]
numbers = [int("7"), float("1.5"), round(2.567, 1), str(42), bool(0)]
n = 0
while n < 3:
    n = n + 1
try:
    broken = 1 / 0
except ZeroDivisionError:
    broken = None
def double(x):
    return 2 * x
doubled = [double(x) for x in squares]
del double
for _ in range(3):
    pass
"""
    )
    assert data == {
        "total": 0.5,
        "parts": ["a", "b"],
        "squares": [0, 1, 4, 9, 16],
        "index": {"a": 0, "b": 1},
        "ranked": [3, 2, 1],
        "count": 31,
        "label": "  31 3.14 ['a', 'b'] X",
        "found": 1,
        "missing": "none",
        "first": 3,
        "rest": [2, 1],
        "pairs": [["a", 0], ["b", 1]],
        "flags": [True, True, False, 2, 3, 1, 2],
        "numbers": [7, 1.5, 2.6, "42", False],
        "n": 3,
        "broken": None,
        "doubled": [0, 2, 8, 18, 32],
    }


def test_scripts_read_change_and_delete_task_data() -> None:
    data = run(
        "votes.append('c')\ntally['c'] = 1\ndel tally['a']\ndel scratch\nshown = title.title()",
        {"votes": ["a", "b"], "tally": {"a": 2}, "scratch": 1, "title": "park plan", "_internal": {1, 2}},
    )
    assert data == {
        "votes": ["a", "b", "c"],
        "tally": {"c": 1},
        "title": "park plan",
        "shown": "Park Plan",
        "_internal": {1, 2},  # underscore keys are the host's: hidden from scripts and left untouched
    }


def test_limits_leave_room_for_real_work() -> None:
    data = run(f"ballots = list(range({MAX_SEQUENCE_LENGTH}))\ncount = len([b for b in ballots if b % 2])\ndel ballots")
    assert data == {"count": MAX_SEQUENCE_LENGTH // 2}


def test_expressions_evaluate_on_a_copy_of_task_data() -> None:
    environment = SandboxEnvironment()
    data = {"count": 3, "names": ["a"]}
    assert environment.evaluate("count > 2", data) is True
    assert environment.evaluate("names.append('b') or len(names)", data) == 2
    assert data == {"count": 3, "names": ["a"]}
    assert environment.evaluate("(count, 'x')", data) == [3, "x"]
    assert environment.evaluate("limit * 2", data, external_context={"limit": 5}) == 10


def test_external_context_is_not_written_to_task_data() -> None:
    data: dict = {}
    SandboxEnvironment().execute("result = limit + 1", data, external_context={"limit": 5})
    assert data == {"result": 6}


def test_a_workflow_with_ordinary_scripts_completes_and_serializes() -> None:
    workflow = gateway_workflow("count = 3\nwords = 'a b'.split()\nlabel = f'{count} votes'", "count > 2")
    workflow.do_engine_steps()
    assert workflow.is_completed()
    assert workflow.data["path"] == "many" and workflow.data["label"] == "3 votes"
    assert BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG)).serialize_json(workflow)


def test_a_gateway_condition_can_take_the_default_flow() -> None:
    workflow = gateway_workflow("count = 1", "count > 2")
    workflow.do_engine_steps()
    assert workflow.data["path"] == "few"


def test_a_timer_expression_is_evaluated() -> None:
    workflow = timer_workflow("timeDuration", '"PT1H"')
    workflow.do_engine_steps()
    assert not workflow.is_completed()
    assert task_state(workflow, "timer") == TaskState.WAITING


# -- Task data stays JSON -------------------------------------------------------------------------------------

UNSTORABLE = {
    "set": ("x = {1, 2}", "x", "holds a set"),
    "function": ("def helper():\n    return 1", "helper", "holds a function"),
    "lambda": ("f = lambda: 1", "f", "delete helpers with `del`"),
    "generator": ("g = (i for i in [1])", "g", "holds a generator"),
    "nested": ("x = {'a': [1, {2}]}", "x", "task data 'x'['a'][1] holds a set"),
    "exception": ("try:\n    1 / 0\nexcept Exception as e:\n    err = e", "err", "ZeroDivisionError"),
    "int key": ("x = {1: 'a'}", "x", "has the key 1, which is not a string"),
    "nan": ("x = float('nan')", "x", "holds nan"),
    "cycle": ("x = []\nx.append(x)", "x", "nested more than"),
}


@pytest.mark.parametrize(("script", "variable", "message"), UNSTORABLE.values(), ids=UNSTORABLE.keys())
def test_non_json_values_are_refused_by_name(script: str, variable: str, message: str) -> None:
    data = {"kept": [1]}
    error = refused(script + "\nkept.append(2)", data)
    assert error.details["variable"] == variable
    assert f"task data '{variable}'" in error.message and message in error.message
    assert data == {"kept": [1]}  # nothing is written back when a script is refused


def test_tuples_become_lists() -> None:
    assert run("x = (1, (2, 3))") == {"x": [1, [2, 3]]}


def test_existing_non_json_task_data_is_refused_by_name() -> None:
    from decimal import Decimal

    error = refused("y = 1", {"amount": Decimal("1.5")})
    assert error.details["variable"] == "amount" and "Decimal" in error.message


def test_a_set_left_in_a_script_task_is_refused_by_name() -> None:
    workflow = script_workflow("tags = {'a', 'b'}")
    error = refusal(workflow)
    assert error.details["variable"] == "tags" and "holds a set" in error.message
    assert task_state(workflow, "script") == TaskState.ERROR


# -- Digging the ScriptError out of SpiffWorkflow's wrapping --------------------------------------------------


def test_script_error_from_finds_the_error_in_the_chain() -> None:
    original = ScriptError("boom")
    try:
        try:
            raise original
        except ScriptError:
            raise RuntimeError("wrapped")  # noqa: B904 - implicit chaining, as SpiffWorkflow does
    except RuntimeError as wrapped:
        assert script_error_from(wrapped) is original
    assert script_error_from(original) is original
    assert script_error_from(ValueError("unrelated")) is None


# -- Deploy-time check ----------------------------------------------------------------------------------------

DEPLOY_REFUSALS = {
    "script task": (lambda: script_workflow("import os"), "script"),
    "pre-script": (lambda: prescript_workflow("x = ().__class__"), "manual"),
    "gateway condition": (lambda: gateway_workflow("count = 3", "__import__('os').getcwd() == ''"), "gateway"),
    "timer": (lambda: timer_workflow("timeDuration", "__import__('os').getcwd()"), "timer"),
    "syntax": (lambda: script_workflow("x = ("), "script"),
}


@pytest.mark.parametrize(("build", "element_id"), DEPLOY_REFUSALS.values(), ids=DEPLOY_REFUSALS.keys())
def test_a_definition_with_a_refused_script_cannot_be_deployed(build, element_id: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        deploy_check(build())
    assert caught.value.details["element_id"] == element_id
    assert caught.value.details["file"] == "test.bpmn" and caught.value.details["errors"]


def test_a_definition_with_ordinary_scripts_can_be_deployed() -> None:
    deploy_check(gateway_workflow("count = 3\nlabel = f'{count:>3}'", "count > 2"))
    deploy_check(timer_workflow("timeDate", '"2025-01-02T00:00:00Z"'))


# --- bounded from outside the interpreter (engine.bpmn.isolation) ----------------------------------------

C_LEVEL_COMPARISON = "a1 = [1]*100000\na2 = [1]*100000\nb1 = [a1]*100000\nb2 = [a2]*100000\nsame = b1 == b2\ndel a1, a2, b1, b2"
"""Ten billion comparisons inside one C call: no step budget sees them (it froze a gunicorn worker for 31 s)."""


def test_c_level_work_is_stopped_from_outside_and_the_next_script_runs() -> None:
    started = time.monotonic()
    with pytest.raises(ScriptError, match="hard time limit of 3 s") as stopped:
        SandboxEnvironment().execute(C_LEVEL_COMPARISON, {})
    assert stopped.value.details["limit"] == "HARD_TIME_LIMIT_SECONDS"
    assert time.monotonic() - started < isolation.HARD_TIME_LIMIT_SECONDS + 2
    assert SandboxEnvironment().evaluate("1 + 1", {}) == 2  # a fresh child took the killed one's place


def test_memory_past_the_childs_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(isolation, "MEMORY_LIMIT_BYTES", 160 * 2**20)
    monkeypatch.setattr(isolation, "SCRIPTS", isolation.Isolation(size=1))
    try:
        with pytest.raises(ScriptError, match="memory limit of 160 MB") as refused:
            SandboxEnvironment().execute("x = [[0]*100000 for i in range(1000)]\nx = 1", {})
        assert refused.value.details["limit"] == "MEMORY_LIMIT_BYTES"
        assert SandboxEnvironment().evaluate("2 + 2", {}) == 4
    finally:
        isolation.SCRIPTS.close()
