"""What a script may be compiled to, and how much it may run: the compile-time policy (RestrictedPython's, plus
ours: no imports, classes or print; loops and calls counted) and the step and time budget of one run."""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Iterable, Iterator
from types import CodeType
from typing import Any, Literal, TypeVar

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.transformer import RestrictingNodeTransformer, copy_locations

from engine.kernel.errors import ScriptError


_T = TypeVar("_T")

STEP_BUDGET = 100_000
"""Loop iterations plus function calls allowed to one script or expression.

Scripts in a deliberation process are glue (count a few thousand ballots, assemble a notice); they stay far
below this, while a runaway loop reaches it within tens of milliseconds. Counting steps rather than time makes
the refusal deterministic: the same script on the same data stops at the same step on every machine, so a
replay of the process fails (or not) exactly as the original run did.
"""

TIME_BUDGET_SECONDS = 1.0
"""Wall-clock backstop, checked at every step.

Steps are not equal (one may copy a 100 000-item list), so the step budget alone does not bound time. This
limit depends on machine load and is therefore NOT deterministic: it is only a second line behind the step
budget, never the rule a definition author should rely on.
"""

SCRIPT_FILENAME = "<bpmn script>"
"""File name compiled scripts carry, so that a traceback's script frames (and their lines) can be found."""

# -- Step budget -----------------------------------------------------------------------------------------------


class Budget:
    """Steps and time of one run. Once exceeded it stays exceeded: a script that catches the error keeps
    failing at its next step, and the run fails afterwards even if the script swallowed every error."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + TIME_BUDGET_SECONDS
        self.exceeded: str | None = None

    def step(self, value: _T | None = None) -> _T | None:
        """Count one step; returns ``value`` so a lambda body can be wrapped as ``_step_(body)``."""
        self.steps += 1
        if self.exceeded is None and self.steps > STEP_BUDGET:
            self.exceeded = f"step budget of {STEP_BUDGET} exceeded: a loop or recursion runs too long"
        elif self.exceeded is None and time.monotonic() > self.deadline:
            self.exceeded = f"time budget of {TIME_BUDGET_SECONDS} s exceeded"
        self.check()
        return value

    def iterate(self, iterable: Iterable[_T]) -> Iterator[_T]:
        """``_getiter_``: every ``for`` loop and comprehension iterates through this, one step per item."""
        for item in iterable:
            self.step()
            yield item

    def check(self) -> None:
        """Raise if the budget was exceeded, whether or not the script caught the first error."""
        if self.exceeded is not None:
            raise ScriptError(self.exceeded)


# -- Compile-time policy ---------------------------------------------------------------------------------------


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    """A call to one of our guards, placed at ``like``'s position so errors point at the script's line."""
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    copy_locations(node, like)  # type: ignore[arg-type]
    return ast.fix_missing_locations(node)


def _step_statement(like: ast.stmt) -> ast.Expr:
    """``_step_()`` as a statement, to open a loop or function body."""
    statement = ast.Expr(_call("_step_", [], like))
    copy_locations(statement, like)
    return statement


_BINOP_GUARDS: dict[type[ast.operator], str] = {
    ast.Add: "_add_",
    ast.Mult: "_mul_",
    ast.Pow: "_pow_",
    ast.LShift: "_lshift_",
    ast.Mod: "_mod_",
}


class _SandboxPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy, kept whole, plus our refusals and the rewrites the run-time guards rely on.

    Rewriting the operators also means CPython never constant-folds them, so compiling ``9**9**9`` is instant.
    """

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> ast.AST:
        self.error(node, "import statements are not allowed.")
        return node

    visit_ImportFrom = visit_Import  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        self.error(node, "class definitions are not allowed.")
        return node

    def visit_Name(self, node: ast.Name) -> Any:
        """RestrictedPython would route ``print`` to a ``_print_`` collector; scripts have nowhere to print to."""
        if isinstance(node.ctx, ast.Load) and node.id in ("print", "printed"):
            self.error(node, f'"{node.id}" is not available: store results in task data instead.')
            return node
        return super().visit_Name(node)

    def visit_While(self, node: ast.While) -> Any:
        """``for`` loops count through ``_getiter_``; a ``while`` loop has no iterator, so it counts here."""
        node = super().visit_While(node)
        node.body.insert(0, _step_statement(node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> Any:
        """Every call is a step, so recursion (``f(n-1) + f(n-1)``) cannot run unbounded without a loop."""
        node = super().visit_FunctionDef(node)
        node.body.insert(0, _step_statement(node))
        return node

    def visit_Lambda(self, node: ast.Lambda) -> Any:
        """A lambda has no statements, so ``_step_(body)`` counts the call as it returns; every finished call
        still counts, which bounds a call tree, and endless lambda recursion ends in RecursionError."""
        node = super().visit_Lambda(node)
        node.body = _call("_step_", [node.body], node.body)
        return node

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        """``a ** b`` becomes ``_pow_(a, b)`` and so on for the operators that can build huge values."""
        node = super().visit_BinOp(node)
        guard = _BINOP_GUARDS.get(type(node.op))
        return _call(guard, [node.left, node.right], node) if guard else node

    def visit_List(self, node: ast.List) -> Any:
        return self._size_starred(super().visit_List(node))

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return self._size_starred(super().visit_Tuple(node))

    def _size_starred(self, node: ast.List | ast.Tuple) -> ast.expr:
        """``[*l, *l]`` becomes ``_sized_([*l, *l])``; assignment targets (``a, *b = l``) are left alone."""
        if isinstance(node.ctx, ast.Load) and any(isinstance(item, ast.Starred) for item in node.elts):
            return _call("_sized_", [node], node)
        return node

    def visit_FormattedValue(self, node: ast.FormattedValue) -> Any:
        """``f'{x!r:>{w}}'`` becomes ``f'{_format_(x, ord("r"), f">{w}")}'`` so the spec is checked at run time."""
        node = super().visit_FormattedValue(node)
        if node.format_spec is not None:
            conversion = ast.Constant(node.conversion)
            node.value = _call("_format_", [node.value, conversion, node.format_spec], node.value)
            node.conversion, node.format_spec = -1, None
        return node


@functools.lru_cache(maxsize=1024)
def compile_script(source: str, mode: Literal["exec", "eval"]) -> CodeType:
    """Compile once per source text: the same condition is evaluated on every pass through its gateway."""
    what = "script" if mode == "exec" else "expression"
    compiler = compile_restricted_exec if mode == "exec" else compile_restricted_eval
    try:
        result = compiler(source, filename=SCRIPT_FILENAME, policy=_SandboxPolicy)
    except (MemoryError, RecursionError) as error:  # the parser or our visitor ran out on deep nesting
        raise ScriptError(f"the {what} is nested too deeply to compile") from error
    if result.errors:
        raise ScriptError(f"the {what} was refused: " + " ".join(result.errors), errors=list(result.errors))
    return result.code  # type: ignore[return-value]
