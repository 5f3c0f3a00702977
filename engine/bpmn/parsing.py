"""Turn uploaded BPMN into SpiffWorkflow specs, with errors that name file, element and line.

The XML is read by ``engine.bpmn.xml`` (hardened, validated against the BPMN schema, unsupported
elements refused) before SpiffWorkflow's parser sees it; SpiffWorkflow's own structural errors
are translated into ``DefinitionError`` here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.specs.base import TaskSpec

from engine.bpmn.checks import check_definition
from engine.bpmn.lanes import RoleLaneParser, check_lanes
from engine.bpmn.limits import MAX_FLOW_DEPTH, MAX_NESTING_DEPTH
from engine.bpmn.xml import check_supported, read_xml, validate_bpmn
from engine.kernel.errors import DefinitionError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
CONTINUE_AS_NEW_PROPERTY = "continueAsNew"


@dataclass
class ParsedProcess:
    """The deployable process of one BPMN file and everything needed to run it."""

    key: str
    name: str
    spec: Any
    subprocess_specs: dict[str, Any]
    called_elements: set[str] = field(default_factory=set)

    def task_specs(self) -> Iterator[TaskSpec]:
        """Every task spec of the process and of the processes it calls."""
        yield from self.spec.task_specs.values()
        for sub in self.subprocess_specs.values():
            yield from sub.task_specs.values()


def called_elements(filename: str, source: bytes) -> tuple[etree._ElementTree, set[str]]:
    """Read the file safely and list the processes its call activities need from elsewhere."""
    tree = read_xml(source, filename)
    validate_bpmn(tree, filename)
    check_supported(tree, filename)
    check_definition(tree, filename)
    check_lanes(tree, filename)
    ns = {"bpmn": BPMN_NS}
    own = set(tree.xpath("//bpmn:process/@id", namespaces=ns))
    called = set(tree.xpath("//bpmn:callActivity/@calledElement", namespaces=ns))
    return tree, called - own


def parse_process(filename: str, tree: etree._ElementTree, library: Mapping[str, bytes]) -> ParsedProcess:
    """Parse the file's main process, resolving call activities against ``library`` sources.

    The main process is the file's one executable process that no other process in the file
    calls; a file with none or several is refused, since its key would be ambiguous. Each task
    spec's ``lane`` is its lane's role (``engine.bpmn.lanes``), not the lane's name.
    """
    parser = RoleLaneParser()
    try:
        for name, source in library.items():
            parser.add_bpmn_xml(read_xml(source, name), name)
        local_ids = _add_file(parser, filename, tree)
        key = _main_process(filename, tree, local_ids)
        spec = parser.get_spec(key)
        subprocess_specs = parser.get_subprocess_specs(key)
    except ValidationException as exc:
        raise _definition_error(exc, filename) from exc
    except RecursionError as exc:
        raise too_deep(filename) from exc
    missing = sorted(name for name, sub in subprocess_specs.items() if sub is None)
    if missing:
        raise DefinitionError(f"call activities need processes that are not deployed: {', '.join(missing)}", file=filename)
    called = {ts.spec for ts in spec.task_specs.values() if isinstance(ts, SubWorkflowTask)}
    return ParsedProcess(key, spec.description or key, spec, subprocess_specs, called)


def continue_as_new_elements(filename: str, tree: etree._ElementTree, parsed: ParsedProcess) -> list[str]:
    """Ids of the main process's elements marked ``continueAsNew`` (see ``engine.bpmn.workflows``).

    Read from the XML rather than from the parsed spec because SpiffWorkflow keeps extension
    properties of tasks and events only, and a loop's natural target is a merging gateway. Only
    automatic elements of the main process qualify: a user task is never run by the engine's step
    (so the loop could not be cut there), and a subprocess's elements are not where a run restarts.
    """
    found = tree.xpath(
        "//bpmn:*[bpmn:extensionElements/spiff:properties/spiff:property[@name=$name]]",
        namespaces={"bpmn": BPMN_NS, "spiff": SPIFF_NS}, name=CONTINUE_AS_NEW_PROPERTY,
    )
    ids = []
    for element in found:
        element_id = element.get("id")
        value = element.xpath("bpmn:extensionElements/spiff:properties/spiff:property[@name=$name]/@value",
                              namespaces={"bpmn": BPMN_NS, "spiff": SPIFF_NS}, name=CONTINUE_AS_NEW_PROPERTY)
        task_spec = parsed.spec.task_specs.get(element_id)
        if value != ["true"]:
            problem = f'{CONTINUE_AS_NEW_PROPERTY} must be "true" when present'
        elif element.getparent().get("id") != parsed.key or task_spec is None:
            problem = f"{CONTINUE_AS_NEW_PROPERTY} works only on elements of the main process {parsed.key}"
        elif task_spec.manual:
            problem = f"{CONTINUE_AS_NEW_PROPERTY} needs an automatic element (a gateway, an event, a script task), not a user task"
        else:
            ids.append(element_id)
            continue
        raise DefinitionError(problem, file=filename, element_id=element_id, line=element.sourceline)
    return sorted(ids)


def _add_file(parser: RoleLaneParser, filename: str, tree: etree._ElementTree) -> list[str]:
    before = set(parser.process_parsers)
    parser.add_bpmn_xml(tree, filename)
    return [pid for pid in parser.process_parsers if pid not in before]


def _main_process(filename: str, tree: etree._ElementTree, local_ids: list[str]) -> str:
    ns = {"bpmn": BPMN_NS}
    executable = [
        pid for pid in local_ids
        if tree.xpath(f"//bpmn:process[@id='{pid}']/@isExecutable", namespaces=ns) != ["false"]
    ]
    called = set(tree.xpath("//bpmn:callActivity/@calledElement", namespaces=ns))
    mains = [pid for pid in executable if pid not in called]
    if len(mains) != 1:
        found = ", ".join(mains) if mains else "none"
        raise DefinitionError(
            f"a definition file needs exactly one executable process that it does not call itself (found: {found})",
            file=filename,
        )
    return mains[0]


def too_deep(filename: str, element_id: str | None = None, line: int | None = None) -> DefinitionError:
    """SpiffWorkflow's parser and serializer recurse along flows and into subprocesses; the limits
    checked before them should keep them clear of Python's recursion limit, and this is the refusal if not."""
    return DefinitionError(
        f"the process is too deep to read: keep chains of flow nodes within MAX_FLOW_DEPTH ({MAX_FLOW_DEPTH})"
        f" and subprocess nesting within MAX_NESTING_DEPTH ({MAX_NESTING_DEPTH})",
        file=filename, element_id=element_id, line=line, limit="MAX_FLOW_DEPTH",
    )


def _definition_error(exc: ValidationException, filename: str) -> DefinitionError:
    message = str(exc.args[0]) if exc.args else str(exc)
    if isinstance(exc.__cause__ or exc.__context__, RecursionError) or message.startswith("RecursionError("):
        return too_deep(filename, getattr(exc, "id", None) or None, getattr(exc, "line_number", None) or None)
    return DefinitionError(
        message,
        file=getattr(exc, "file_name", None) or filename,
        element_id=getattr(exc, "id", None) or None,
        line=getattr(exc, "line_number", None) or None,
    )
