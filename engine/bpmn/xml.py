"""Read uploaded BPMN and DMN files safely, validate them, and refuse what the engine cannot run.

Community admins upload process definitions through the HTTP API, so their XML is untrusted.
SpiffWorkflow has no XML hardening of its own, raises raw lxml errors, accepts unknown elements
unless asked to validate, and silently ignores several valid BPMN constructs it does not execute.
Every problem found here becomes a ``DefinitionError`` naming the file, the element and the line.
"""

from __future__ import annotations

import copy
import re
import threading
from functools import cache
from typing import Any, Final, NoReturn

from lxml import etree
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as SPIFF_DMN_SCHEMAS
from SpiffWorkflow.spiff.parser.process import VALIDATOR

from engine.kernel.errors import DefinitionError

MAX_DEFINITION_BYTES: Final = 2 * 1024 * 1024
"""Largest upload read, checked before parsing: real definitions are tens of kilobytes, and the
limit bounds the parser's memory and time whatever the document's structure."""

BPMN_NS: Final = "http://www.omg.org/spec/BPMN/20100524/MODEL"

XINCLUDE_NAMESPACES: Final = frozenset({"http://www.w3.org/2001/XInclude", "http://www.w3.org/2003/XInclude"})
"""Both namespaces libxml2 honours for XInclude: refused even though nothing here expands them, so
that no later tool (an editor, an export) can be made to read a server file on our behalf."""

PARSER_OPTIONS: Final = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "attribute_defaults": False,
    "huge_tree": False,
    "recover": False,
    "remove_pis": False,
    "remove_comments": True,
}
"""Every security-relevant lxml option, spelled out rather than inherited from the installed
lxml's defaults (which have changed between releases). ``huge_tree=False`` keeps libxml2's depth
and text-size caps; processing instructions are kept only so that they can be refused with a
line; comments are dropped because SpiffWorkflow's parser takes every child node for an element
(a comment inside a ``scriptTask`` makes it fail)."""

UNSUPPORTED_ELEMENTS: Final = {
    "complexGateway": "SpiffWorkflow 3.2 has no parser for complex gateways",
    "implicitThrowEvent": "SpiffWorkflow 3.2 has no parser for implicit throw events",
    "choreographyTask": "choreographies are not executable",
    "callChoreography": "choreographies are not executable",
    "subChoreography": "choreographies are not executable",
    "adHocSubProcess": (
        "SpiffWorkflow 3.2 ignores the ordering of ad hoc subprocesses and fails at run time"
        " as soon as a task inside one completes"
    ),
}
"""Valid BPMN flow elements that SpiffWorkflow 3.2 cannot run. The first five have no entry in
``SpiffBpmnParser``'s parser classes, so they fail only when a token reaches them (or never,
leaving dead branches); ad hoc subprocesses parse but crash (``KeyError: 'data_objects'``, or
``eval(None)`` without a completion condition)."""

EXECUTED_EVENT_DEFINITIONS: Final = {
    "startEvent": frozenset({"message", "signal", "timer", "conditional"}),
    "endEvent": frozenset({"message", "cancel", "error", "escalation", "terminate"}),
    "intermediateCatchEvent": frozenset({"message", "signal", "timer", "conditional"}),
    "intermediateThrowEvent": frozenset({"escalation", "message", "signal", "timer"}),
    "boundaryEvent": frozenset({"cancel", "error", "escalation", "message", "signal", "timer", "conditional"}),
}
"""Event definitions that SpiffWorkflow 3.2's event parsers read, per kind of event (the XPath lists
in ``SpiffWorkflow/bpmn/parser/event_parsers.py``). Any other definition is skipped without a word
and the event runs as a plain none event: a link throw ends its path, a signal end event signals
nothing, an error start event starts its event subprocess at once."""

DMN_SCHEMAS_NOT_COMPILABLE: Final = frozenset({"http://www.omg.org/spec/DMN/20180521/MODEL/"})
"""DMN namespaces whose XSD, as bundled with SpiffWorkflow 3.2, lxml cannot compile (DMN 1.2 refers
to a DMNDI schema that is not shipped): such files get the root and namespace checks only."""

_SCHEMA_LOCK = threading.Lock()
"""An lxml ``XMLSchema`` keeps one error log per object, and the schemas here are shared by every
request thread: validation is serialized so that each caller reads its own errors."""

_CLARK_NAMESPACE = re.compile(r"\{([^}]*)\}")
"""The ``{uri}`` part of a qualified name as libxml2 writes it in its messages."""


class _DoctypeRefuser:
    """Parser target that stops the parse at the DOCTYPE, before libxml2 reads any declaration.

    A document type is where entities (billion laughs, external files, parameter entities) and
    external DTDs come from; BPMN and DMN never need one, so its mere presence is refused.
    """

    def __init__(self, file: str) -> None:
        self.file = file

    def doctype(self, name: str | None, public_id: str | None, system_url: str | None) -> NoReturn:
        raise DefinitionError("unsafe XML: a DOCTYPE is not allowed in a definition", file=self.file)

    def close(self) -> None:
        """lxml requires a target to have one; there is nothing to build."""


def read_xml(source: bytes, file: str, *, max_bytes: int = MAX_DEFINITION_BYTES) -> etree._ElementTree:
    """Parse an uploaded definition, refusing oversized input, DTDs, processing instructions and XIncludes.

    The source is parsed twice: a first pass whose target refuses a DOCTYPE as soon as it starts,
    so no declaration is ever processed, then a pass that builds the tree with line numbers.
    """
    if len(source) > max_bytes:
        raise DefinitionError(
            f"definition too large: {len(source)} bytes, more than MAX_DEFINITION_BYTES ({max_bytes})",
            file=file, limit="MAX_DEFINITION_BYTES",
        )
    _parse(source, etree.XMLParser(target=_DoctypeRefuser(file), **PARSER_OPTIONS), file)
    tree = _parse(source, etree.XMLParser(**PARSER_OPTIONS), file).getroottree()
    _refuse_processing_instructions(tree, file)
    _refuse_xinclude(tree, file)
    return tree


def validate_bpmn(tree: etree._ElementTree, file: str) -> None:
    """Validate against SpiffWorkflow's BPMN schema (with its extensions), so unknown elements are refused.

    The check runs on a copy because SpiffWorkflow's validator first renames bpmn-js's
    ``formalExpression`` in correlation properties to what the schema expects.
    """
    _require_root(tree, {BPMN_NS}, file, "BPMN")
    checked = copy.deepcopy(tree)
    VALIDATOR.preprocess(checked)
    _validate(VALIDATOR.validator, checked, file, "BPMN")


def check_supported(tree: etree._ElementTree, file: str) -> None:
    """Refuse valid BPMN that SpiffWorkflow 3.2 would ignore or misrun inside a process."""
    for process in tree.getroot().iter(f"{{{BPMN_NS}}}process"):
        for element in process.iter(etree.Element):
            reason = _unsupported_reason(element)
            if reason is not None:
                raise DefinitionError(
                    f"unsupported BPMN: {reason}",
                    file=file,
                    element_id=_nearest_id(element),
                    line=element.sourceline,
                )


def validate_dmn(tree: etree._ElementTree, file: str) -> None:
    """Check a DMN file's root, and its schema where the bundled XSD for its version compiles."""
    namespace = _require_root(tree, set(SPIFF_DMN_SCHEMAS), file, "DMN")
    _require_dmn_prefix(tree, namespace, file)
    if namespace not in DMN_SCHEMAS_NOT_COMPILABLE:
        _validate(_dmn_schema(namespace), tree, file, "DMN")


def _parse(source: bytes, parser: etree.XMLParser, file: str) -> Any:
    """The root element, or whatever the parser's target returns from ``close()``."""
    try:
        return etree.fromstring(source, parser)
    except etree.XMLSyntaxError as error:
        raise _syntax_error(parser.error_log, error, file) from error


def _syntax_error(log: etree._ListErrorLog, error: etree.XMLSyntaxError, file: str) -> DefinitionError:
    """Report the first error libxml2 met in this parse, which is the cause; later ones are consequences.

    The parser's own log is read because the exception's log also carries earlier parses' errors.
    """
    errors = log.filter_from_errors()
    message, line = (errors[0].message, errors[0].line) if errors else (str(error.msg), error.lineno)
    return DefinitionError(f"not well-formed XML: {message}", file=file, line=line or None)


def _refuse_processing_instructions(tree: etree._ElementTree, file: str) -> None:
    """Refuse processing instructions: BPMN gives them no meaning, and a stylesheet one would run
    in any browser that opens the stored definition. The XML declaration is not one of them."""
    instructions = tree.xpath("//processing-instruction()")
    if instructions:
        instruction = instructions[0]
        raise DefinitionError(
            f"unsafe XML: processing instruction <?{instruction.target}?> is not allowed",
            file=file,
            line=instruction.sourceline,
        )


def _refuse_xinclude(tree: etree._ElementTree, file: str) -> None:
    for element in tree.getroot().iter(etree.Element):
        if etree.QName(element).namespace in XINCLUDE_NAMESPACES:
            raise DefinitionError("unsafe XML: XInclude is not allowed", file=file, line=element.sourceline)


def _require_root(tree: etree._ElementTree, namespaces: set[str], file: str, kind: str) -> str:
    """Insist on a ``definitions`` root: SpiffWorkflow looks for processes and decisions below it,
    and a schema would also accept a lone ``process`` that the parser then never finds."""
    root = etree.QName(tree.getroot())
    if root.localname != "definitions" or root.namespace not in namespaces:
        raise DefinitionError(
            f"not a {kind} file: the root element must be {kind} definitions, not {root.text}",
            file=file,
            line=tree.getroot().sourceline,
        )
    return str(root.namespace)


def _require_dmn_prefix(tree: etree._ElementTree, namespace: str, file: str) -> None:
    """SpiffWorkflow's DMN parser queries with the ``dmn`` prefix, mapped from the root's default
    namespace or its own ``dmn`` binding; any other prefix fails deep inside it with an lxml error."""
    nsmap = tree.getroot().nsmap
    if namespace not in (nsmap.get(None), nsmap.get("dmn")):
        raise DefinitionError(
            "DMN elements must use the default namespace or the prefix 'dmn'",
            file=file,
            line=tree.getroot().sourceline,
        )


@cache
def _dmn_schema(namespace: str) -> etree.XMLSchema:
    """Compiled once per DMN version, on first use, from the XSD bundled with SpiffWorkflow."""
    return etree.XMLSchema(etree.parse(SPIFF_DMN_SCHEMAS[namespace]))


def _validate(schema: etree.XMLSchema, tree: etree._ElementTree, file: str, kind: str) -> None:
    with _SCHEMA_LOCK:
        if schema.validate(tree):
            return
        first = schema.error_log[0]
    _raise_schema_error(first, tree, file, kind)


def _raise_schema_error(entry: etree._LogEntry, tree: etree._ElementTree, file: str, kind: str) -> NoReturn:
    """Name the element the schema complained about by the nearest id, since lines can hold many."""
    prefixes = _prefixes(tree)
    element = _element_at(tree, entry.path, prefixes)
    readable = _CLARK_NAMESPACE.sub(lambda match: _prefix_for(match.group(1), prefixes), entry.message)
    raise DefinitionError(
        f"not valid {kind}: {readable}",
        file=file,
        element_id=_nearest_id(element) if element is not None else None,
        line=entry.line or None,
    )


def _prefixes(tree: etree._ElementTree) -> dict[str, str]:
    """The document's own prefixes, which libxml2 also uses in the paths of its errors."""
    return {
        prefix: uri
        for element in tree.getroot().iter(etree.Element)
        for prefix, uri in element.nsmap.items()
        if prefix is not None
    }


def _prefix_for(uri: str, prefixes: dict[str, str]) -> str:
    names = [prefix for prefix, bound in prefixes.items() if bound == uri]
    return f"{names[0]}:" if names else f"{{{uri}}}"


def _element_at(tree: etree._ElementTree, path: str | None, prefixes: dict[str, str]) -> etree._Element | None:
    """Find the element of a libxml2 error path, or nothing if the path cannot be resolved."""
    if not path:
        return None
    try:
        found = tree.xpath(path, namespaces=prefixes)
    except etree.XPathError:
        return None
    if isinstance(found, list) and found and isinstance(found[0], etree._Element):
        return found[0]
    return None


def _nearest_id(element: etree._Element) -> str | None:
    """The id of the element or, for id-less parts like event definitions, of its closest owner."""
    for candidate in (element, *element.iterancestors()):
        if candidate.get("id"):
            return candidate.get("id")
    return None


def _unsupported_reason(element: etree._Element) -> str | None:
    name = etree.QName(element)
    if name.namespace != BPMN_NS:
        return None
    if name.localname in UNSUPPORTED_ELEMENTS:
        return f"{name.localname}: {UNSUPPORTED_ELEMENTS[name.localname]}"
    if element.get("isForCompensation") == "true":
        return f"{name.localname} is a compensation handler, which SpiffWorkflow 3.2 never runs"
    if name.localname in EXECUTED_EVENT_DEFINITIONS:
        return _event_reason(element, name.localname)
    return None


def _event_reason(event: etree._Element, kind: str) -> str | None:
    for child in event.iterchildren(etree.Element):
        definition = etree.QName(child)
        if definition.namespace != BPMN_NS:
            continue
        if definition.localname == "eventDefinitionRef":
            return f"{kind} refers to a shared event definition, which SpiffWorkflow 3.2 ignores"
        trigger = definition.localname.removesuffix("EventDefinition")
        if trigger != definition.localname and trigger not in EXECUTED_EVENT_DEFINITIONS[kind]:
            return f"a {trigger} {kind} would run as a none event in SpiffWorkflow 3.2"
    if kind == "startEvent" and _starts_interrupting_event_subprocess(event):
        return (
            "SpiffWorkflow 3.2 never interrupts the enclosing process when an event subprocess starts;"
            ' mark its start event isInterrupting="false"'
        )
    return None


def _starts_interrupting_event_subprocess(start: etree._Element) -> bool:
    """BPMN makes event subprocess starts interrupting by default; SpiffWorkflow 3.2 runs them all
    alongside the main flow, so only the non-interrupting reading is honest."""
    parent = start.getparent()
    return (
        parent is not None
        and parent.tag == f"{{{BPMN_NS}}}subProcess"
        and parent.get("triggeredByEvent") == "true"
        and start.get("isInterrupting", "true") != "false"
    )
