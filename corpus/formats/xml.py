"""Parsing XML and XHTML from documents without ever resolving entities or touching the network."""

from __future__ import annotations

from lxml import etree

from corpus.errors import CorruptDocument

__all__ = ["local_name", "parse_xml"]


def _parser(*, recover: bool) -> etree.XMLParser:
    # External entities (XXE) and DTDs are never loaded; entity references stay unexpanded,
    # which also defeats "billion laughs" expansion.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=recover,
    )


def parse_xml(data: bytes, *, name: str, what: str) -> etree._Element:
    """The root element of ``data``; a lenient second pass for slightly broken XHTML."""
    # A parser per call: lxml parsers must not be shared between threads.
    for recover in (False, True):
        parser = _parser(recover=recover)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            continue
        if root is not None:
            return root
    raise CorruptDocument(f"{name}: {what} is not well-formed XML; re-download or re-export it")


def local_name(element: etree._Element) -> str:
    """The tag without its namespace ("{http://www.w3.org/1999/xhtml}p" -> "p")."""
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()
