"""Uploaded definitions are untrusted: every attack must end in a clean DefinitionError.

Clean means: our error type (never an lxml exception), naming the file, never echoing the content
of a file the attack pointed at, and never touching the network.
"""

from __future__ import annotations

import socket
from typing import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from engine.bpmn.xml import MAX_DEFINITION_BYTES, PARSER_OPTIONS, check_supported, read_xml, validate_bpmn, validate_dmn
from engine.kernel.errors import DefinitionError

FILE = "upload.bpmn"
BPMN = 'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'


def bpmn(process_body: str, root_extra: str = "") -> bytes:
    """A BPMN document whose one executable process holds ``process_body``."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<bpmn:definitions {BPMN} id="defs" targetNamespace="http://yishi.example/test">\n'
        f"{root_extra}"
        '<bpmn:process id="consultation" isExecutable="true">\n'
        f"{process_body}\n"
        "</bpmn:process>\n"
        "</bpmn:definitions>\n"
    ).encode()


MINIMAL_BODY = """\
<bpmn:startEvent id="start"><bpmn:outgoing>to_review</bpmn:outgoing></bpmn:startEvent>
<bpmn:sequenceFlow id="to_review" sourceRef="start" targetRef="review"/>
<bpmn:userTask id="review" name="Review the proposal">
  <bpmn:incoming>to_review</bpmn:incoming><bpmn:outgoing>to_end</bpmn:outgoing>
</bpmn:userTask>
<bpmn:sequenceFlow id="to_end" sourceRef="review" targetRef="end"/>
<bpmn:endEvent id="end"><bpmn:incoming>to_end</bpmn:incoming></bpmn:endEvent>"""

LAUGHS = "\n".join(
    f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10}">' for n in range(1, 10)
)
BILLION_LAUGHS = f"""<?xml version="1.0"?>
<!DOCTYPE lolz [
<!ENTITY lol0 "lol">
{LAUGHS}
]>
<lolz>&lol9;</lolz>"""

ATTACKS = {
    "billion laughs": BILLION_LAUGHS.encode(),
    "internal entity": b'<!DOCTYPE d [<!ENTITY who "admin">]><d by="&who;">&who;</d>',
    "external entity": b'<!DOCTYPE d [<!ENTITY pw SYSTEM "file:///etc/passwd">]><d>&pw;</d>',
    "external dtd": b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd"><d/>',
    "parameter entity": (
        b'<!DOCTYPE d [<!ENTITY % pe SYSTEM "file:///etc/passwd"> %pe;'
        b'<!ENTITY % inner "<!ENTITY leak \'x\'>"> %inner;]><d>&leak;</d>'
    ),
    "utf-16 doctype": (
        '<?xml version="1.0" encoding="UTF-16"?>\n'
        '<!DOCTYPE d [<!ENTITY pw SYSTEM "file:///etc/passwd">]><d>&pw;</d>'
    ).encode("utf-16"),
    "doctype in bpmn": b"<!DOCTYPE bpmn:definitions>\n" + bpmn(MINIMAL_BODY),
}


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A local port that records any connection, so a fetch by libxml2 itself (below Python) shows."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.setblocking(False)
        yield server


def assert_never_contacted(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()


def rejection(source: bytes) -> DefinitionError:
    """Run the full BPMN pipeline and return its refusal, failing if it accepts the source."""
    with pytest.raises(DefinitionError) as caught:
        tree = read_xml(source, FILE)
        validate_bpmn(tree, FILE)
        check_supported(tree, FILE)
    assert type(caught.value).__module__ == "engine.kernel.errors"
    assert caught.value.details["file"] == FILE
    return caught.value


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_any_doctype_is_refused_before_declarations_are_read(source: bytes) -> None:
    error = rejection(source)
    assert "DOCTYPE" in error.message
    assert "root:" not in error.message and "/bin/" not in error.message


NETWORK_ATTACKS = {
    "external dtd": '<!DOCTYPE d SYSTEM "{url}/evil.dtd"><d/>',
    "external entity": '<!DOCTYPE d [<!ENTITY x SYSTEM "{url}/x">]><d>&x;</d>',
    "parameter entity": '<!DOCTYPE d [<!ENTITY % p SYSTEM "{url}/p"> %p;]><d/>',
    "xinclude": '<d xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{url}/x"/></d>',
}


@pytest.mark.parametrize("template", NETWORK_ATTACKS.values(), ids=NETWORK_ATTACKS.keys())
def test_attacks_never_reach_the_network(template: str, listener: socket.socket) -> None:
    url = "http://127.0.0.1:%d" % listener.getsockname()[1]
    rejection(template.format(url=url).encode())
    assert_never_contacted(listener)


@pytest.mark.parametrize("source", ATTACKS.values(), ids=ATTACKS.keys())
def test_parser_options_alone_read_nothing_external(source: bytes) -> None:
    """Second line of defence, had a DOCTYPE slipped past: no file is read and expansion stays capped.

    Internal entities in attribute values still expand under these options, which is why any
    DOCTYPE is refused before the tree is built.
    """
    try:
        root = etree.fromstring(source, etree.XMLParser(**PARSER_OPTIONS))
    except etree.XMLSyntaxError:
        return
    strings = " ".join(
        f"{node.text} {node.tail} {' '.join(node.attrib.values())}" for node in root.iter(etree.Element)
    )
    assert "root:" not in strings
    assert len(strings) < 10_000


@given(st.binary(max_size=512))
@settings(max_examples=300, deadline=None)
def test_arbitrary_bytes_give_a_tree_or_a_definition_error(source: bytes) -> None:
    try:
        read_xml(source, FILE)
    except DefinitionError:
        pass


@given(st.text(alphabet="<>/!?&;=\"' abx[]%#-\n", max_size=200))
@settings(max_examples=300, deadline=None)
def test_arbitrary_markup_gives_a_tree_or_a_definition_error(text: str) -> None:
    try:
        read_xml(text.encode(), FILE)
    except DefinitionError:
        pass


def test_xinclude_is_refused_with_its_line() -> None:
    source = (
        b'<d xmlns:xi="http://www.w3.org/2001/XInclude">\n'
        b'  <xi:include href="file:///etc/passwd" parse="text"/>\n'
        b"</d>"
    )
    error = rejection(source)
    assert "XInclude" in error.message
    assert error.details["line"] == 2
    assert "root:" not in error.message


def test_xinclude_hidden_in_bpmn_extension_elements_is_refused() -> None:
    body = MINIMAL_BODY.replace(
        '<bpmn:userTask id="review" name="Review the proposal">',
        '<bpmn:userTask id="review" name="Review the proposal"><bpmn:extensionElements>'
        '<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="/etc/passwd"/>'
        "</bpmn:extensionElements>",
    )
    assert "XInclude" in rejection(bpmn(body)).message


def test_processing_instruction_is_refused() -> None:
    source = bpmn(MINIMAL_BODY).replace(b"\n<bpmn:definitions", b'\n<?xml-stylesheet href="x.xsl"?>\n<bpmn:definitions')
    error = rejection(source)
    assert "xml-stylesheet" in error.message
    assert error.details["line"] == 2


def test_document_just_above_the_limit_is_refused_before_parsing() -> None:
    source = b"<d>" + b" " * (MAX_DEFINITION_BYTES - 6) + b"</d>"
    assert len(source) == MAX_DEFINITION_BYTES + 1
    assert "too large" in rejection(source).message


def test_document_at_the_limit_is_read() -> None:
    source = b"<d>" + b" " * (MAX_DEFINITION_BYTES - 7) + b"</d>"
    assert read_xml(source, FILE).getroot().tag == "d"


def test_ill_formed_xml_names_file_and_line() -> None:
    source = bpmn(MINIMAL_BODY).replace(b'<bpmn:endEvent id="end">', b'<bpmn:endEvent id="end"><oops>')
    error = rejection(source)
    assert error.message.startswith("not well-formed XML:")
    assert error.details["line"] == 10
    assert FILE in error.message


@pytest.mark.parametrize(
    "source",
    [bytes(range(256)) * 4, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"", b"\xff\xfe\x00"],
    ids=["all bytes", "png header", "empty", "bad utf-16"],
)
def test_binary_blob_is_refused_as_ill_formed(source: bytes) -> None:
    assert rejection(source).message.startswith("not well-formed XML:")


def test_unknown_bpmn_element_is_named_with_line_and_id() -> None:
    body = MINIMAL_BODY + '\n<bpmn:fooTask id="mystery"/>'
    error = rejection(bpmn(body))
    assert "bpmn:fooTask" in error.message
    assert error.details["element_id"] == "mystery"
    assert error.details["line"] == 11


def test_unknown_attribute_names_the_element_that_carries_it() -> None:
    error = rejection(bpmn(MINIMAL_BODY.replace('name="Review the proposal"', 'nmae="typo"')))
    assert "nmae" in error.message
    assert error.details["element_id"] == "review"


def test_bpmn_root_must_be_definitions() -> None:
    source = f'<bpmn:process {BPMN} id="p"><bpmn:startEvent id="s"/></bpmn:process>'.encode()
    assert "root element" in rejection(source).message


UNSUPPORTED = {
    "complex gateway": ('<bpmn:complexGateway id="judge"/>', "judge", "complexGateway"),
    "ad hoc subprocess": (
        '<bpmn:adHocSubProcess id="brainstorm"><bpmn:task id="idea"/></bpmn:adHocSubProcess>',
        "brainstorm",
        "adHocSubProcess",
    ),
    "link event": (
        '<bpmn:intermediateThrowEvent id="jump"><bpmn:linkEventDefinition id="l" name="L"/>'
        "</bpmn:intermediateThrowEvent>",
        "jump",
        "link",
    ),
    "signal end event": (
        '<bpmn:endEvent id="announce"><bpmn:signalEventDefinition id="sd"/></bpmn:endEvent>',
        "announce",
        "signal endEvent",
    ),
    "compensation handler": ('<bpmn:task id="undo" isForCompensation="true"/>', "undo", "compensation"),
    "shared event definition": (
        '<bpmn:intermediateCatchEvent id="wait"><bpmn:eventDefinitionRef>t</bpmn:eventDefinitionRef>'
        "</bpmn:intermediateCatchEvent>",
        "wait",
        "shared event definition",
    ),
    "interrupting event subprocess": (
        '<bpmn:subProcess id="on_withdraw" triggeredByEvent="true">'
        '<bpmn:startEvent id="withdrawn"><bpmn:signalEventDefinition id="w"/></bpmn:startEvent>'
        "</bpmn:subProcess>",
        "withdrawn",
        "isInterrupting",
    ),
}


@pytest.mark.parametrize("element, element_id, named", UNSUPPORTED.values(), ids=UNSUPPORTED.keys())
def test_valid_but_unexecuted_bpmn_is_refused(element: str, element_id: str, named: str) -> None:
    error = rejection(bpmn(MINIMAL_BODY + "\n" + element))
    assert error.message.startswith("unsupported BPMN:")
    assert named in error.message
    assert error.details["element_id"] == element_id
    assert error.details["line"] == 11


def test_non_interrupting_event_subprocess_is_accepted() -> None:
    subprocess = (
        '<bpmn:subProcess id="on_comment" triggeredByEvent="true">'
        '<bpmn:startEvent id="commented" isInterrupting="false"><bpmn:signalEventDefinition id="c"/>'
        "</bpmn:startEvent></bpmn:subProcess>"
    )
    tree = read_xml(bpmn(MINIMAL_BODY + subprocess), FILE)
    validate_bpmn(tree, FILE)
    check_supported(tree, FILE)


def test_minimal_bpmn_reads_validates_and_is_supported() -> None:
    tree = read_xml(bpmn(MINIMAL_BODY), FILE)
    validate_bpmn(tree, FILE)
    check_supported(tree, FILE)
    assert tree.getroot().find(".//{*}userTask").get("name") == "Review the proposal"


def test_utf16_bpmn_without_doctype_is_read() -> None:
    source = bpmn(MINIMAL_BODY).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    tree = read_xml(source, FILE)
    validate_bpmn(tree, FILE)


def test_validation_leaves_the_tree_untouched() -> None:
    correlation = (
        '<bpmn:message id="m" name="m"/>'
        '<bpmn:correlationProperty id="cp"><bpmn:correlationPropertyRetrievalExpression messageRef="m">'
        "<bpmn:formalExpression>topic</bpmn:formalExpression>"
        "</bpmn:correlationPropertyRetrievalExpression></bpmn:correlationProperty>\n"
    )
    tree = read_xml(bpmn(MINIMAL_BODY, root_extra=correlation), FILE)
    validate_bpmn(tree, FILE)
    assert tree.getroot().find(".//{*}formalExpression") is not None


def test_comments_are_dropped_so_spiffworkflow_never_sees_them() -> None:
    source = bpmn(MINIMAL_BODY.replace("<bpmn:incoming>to_review", "<!-- note --><bpmn:incoming>to_review"))
    assert read_xml(source, FILE).xpath("//comment()") == []


DMN13 = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="defs" name="D" namespace="http://yishi.example">
  <decision id="quorum" name="Quorum">
    <decisionTable id="table">
      <input id="in"><inputExpression id="expr" typeRef="number"><text>turnout</text></inputExpression></input>
      <output id="out" name="reached" typeRef="boolean"/>
      <rule id="r1"><inputEntry id="e1"><text>&gt;= 0.3</text></inputEntry><outputEntry id="o1"><text>True</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>"""


def test_dmn_13_is_validated() -> None:
    validate_dmn(read_xml(DMN13, "quorum.dmn"), "quorum.dmn")


def test_dmn_schema_errors_name_the_element() -> None:
    tree = read_xml(DMN13.replace(b'<rule id="r1">', b'<rule id="r1"><verdict/>'), "quorum.dmn")
    with pytest.raises(DefinitionError) as caught:
        validate_dmn(tree, "quorum.dmn")
    assert "verdict" in caught.value.message
    assert caught.value.details["element_id"] == "r1"


@pytest.mark.parametrize(
    "source, complaint",
    [
        (bpmn(MINIMAL_BODY), "root element"),
        (DMN13.replace(b"20191111", b"29991111"), "root element"),
        (DMN13.replace(b"<definitions xmlns=", b"<d13:definitions xmlns:d13=").replace(b"</definitions>", b"</d13:definitions>"),
         "prefix"),
    ],
    ids=["bpmn file", "unknown dmn version", "foreign prefix"],
)
def test_dmn_root_and_prefix_are_checked(source: bytes, complaint: str) -> None:
    with pytest.raises(DefinitionError) as caught:
        validate_dmn(read_xml(source, "x.dmn"), "x.dmn")
    assert complaint in caught.value.message
