"""EPUB 2 and 3: spine order, navigation titles, OPF metadata; DRM refused, never decrypted.

Written on lxml and zipfile rather than EbookLib, which is AGPL.
"""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urldefrag

from lxml import etree

from corpus.errors import CorruptDocument, DecodeError, ProtectedDocument
from corpus.formats.archive import Archive
from corpus.formats.document import Document, sections_from_blocks
from corpus.formats.markup import read_blocks
from corpus.formats.xml import local_name, parse_xml
from corpus.metadata import BookMeta, gutenberg_number, merge_meta, read_header

__all__ = ["extract_epub"]

_CONTAINER = "META-INF/container.xml"
_ENCRYPTION = "META-INF/encryption.xml"
_RIGHTS = "META-INF/rights.xml"
# Publishers obfuscate embedded fonts with these; that is not DRM and the text stays readable.
_FONT_OBFUSCATION = frozenset(
    {"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"}
)
_XHTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})


def extract_epub(data: bytes, name: str, *, max_bytes: int) -> Document:
    """The sections of an EPUB in reading order, titled by their headings or the navigation."""
    archive = Archive(data, name=name, kind="EPUB", max_bytes=max_bytes)
    _refuse_drm(archive)
    opf_path = _package_path(archive)
    opf = parse_xml(archive.read(opf_path), name=name, what=opf_path)
    base = posixpath.dirname(opf_path)
    manifest = _manifest(opf, base)
    titles = _navigation_titles(archive, opf, manifest, base, name)
    blocks: list[tuple[str, str]] = []
    boilerplate: list[str] = []
    for path in _spine(opf, manifest):
        if not archive.has(path):
            continue
        found = read_blocks(parse_xml(archive.read(path), name=name, what=path))
        boilerplate.extend(found.boilerplate)
        title = titles.get(path, "")
        has_heading = any(kind == "heading" for kind, _ in found.blocks)
        if title and not has_heading and title not in found.boilerplate:
            blocks.append(("heading", title))
        blocks.extend(found.blocks)
    sections = sections_from_blocks(blocks)
    if not sections:
        raise DecodeError(f"{name}: the EPUB holds no text; check that it is a book")
    meta = merge_meta(_opf_meta(opf), read_header("\n".join(boilerplate)))
    return Document("epub", meta, sections)


def _refuse_drm(archive: Archive) -> None:
    """ProtectedDocument when content (not only fonts) is encrypted."""
    if archive.has(_RIGHTS):
        raise _protected(archive.name)
    if not archive.has(_ENCRYPTION):
        return
    root = parse_xml(archive.read(_ENCRYPTION), name=archive.name, what=_ENCRYPTION)
    for element in root.iter():
        if (
            local_name(element) == "encryptionmethod"
            and element.get("Algorithm") not in _FONT_OBFUSCATION
        ):
            raise _protected(archive.name)


def _protected(name: str) -> ProtectedDocument:
    return ProtectedDocument(
        f"{name}: the EPUB is DRM-protected (META-INF/encryption.xml); use a DRM-free edition"
    )


def _package_path(archive: Archive) -> str:
    root = parse_xml(archive.read(_CONTAINER), name=archive.name, what=_CONTAINER)
    for element in root.iter():
        if local_name(element) == "rootfile" and element.get("full-path"):
            return str(element.get("full-path"))
    raise CorruptDocument(
        f"{archive.name}: {_CONTAINER} names no package file; re-download or re-export it"
    )


def _manifest(opf: etree._Element, base: str) -> dict[str, tuple[str, str, str]]:
    """Manifest id -> (path in the zip, media type, properties)."""
    items = {}
    for element in opf.iter():
        if local_name(element) == "item" and element.get("id") and element.get("href"):
            path = _join(base, str(element.get("href")))
            items[str(element.get("id"))] = (
                path,
                element.get("media-type", ""),
                element.get("properties", ""),
            )
    return items


def _spine(opf: etree._Element, manifest: dict[str, tuple[str, str, str]]) -> list[str]:
    """Content documents in reading order (items marked linear="no" are skipped)."""
    paths = []
    for element in opf.iter():
        if local_name(element) != "itemref" or element.get("linear") == "no":
            continue
        item = manifest.get(element.get("idref", ""))
        if item is not None and item[1] in _XHTML_TYPES:
            paths.append(item[0])
    return paths


def _navigation_titles(
    archive: Archive,
    opf: etree._Element,
    manifest: dict[str, tuple[str, str, str]],
    base: str,
    name: str,
) -> dict[str, str]:
    """Content document path -> its first navigation title (EPUB 3 nav, else EPUB 2 NCX)."""
    titles: dict[str, str] = {}
    nav = next((item for item in manifest.values() if "nav" in item[2].split()), None)
    ncx = next((item for item in manifest.values() if item[1] == "application/x-dtbncx+xml"), None)
    for item, link_tag in ((nav, "a"), (ncx, "navpoint")):
        if item is None or not archive.has(item[0]):
            continue
        root = parse_xml(archive.read(item[0]), name=name, what=item[0])
        folder = posixpath.dirname(item[0])
        for target, title in _links(root, link_tag):
            titles.setdefault(_join(folder, target), title)
        if titles:
            break
    return titles


def _links(root: etree._Element, link_tag: str) -> list[tuple[str, str]]:
    """(href, label) of the navigation entries."""
    links = []
    for element in root.iter():
        if local_name(element) != link_tag:
            continue
        if link_tag == "a":
            href, label = element.get("href", ""), "".join(element.itertext())
        else:
            content = next((e for e in element.iter() if local_name(e) == "content"), None)
            text = next((e for e in element.iter() if local_name(e) == "text"), None)
            href = content.get("src", "") if content is not None else ""
            label = "".join(text.itertext()) if text is not None else ""
        label = " ".join(label.split())
        if href and label:
            links.append((urldefrag(href)[0], label))
    return links


def _opf_meta(opf: etree._Element) -> BookMeta:
    fields: dict[str, list[str]] = {}
    for element in opf.iter():
        tag = local_name(element)
        if tag in ("title", "creator", "language", "identifier", "source"):
            text = " ".join("".join(element.itertext()).split())
            if text:
                fields.setdefault(tag, []).append(text)
    number = next(
        (
            found
            for value in fields.get("identifier", []) + fields.get("source", [])
            if (found := gutenberg_number(value))
        ),
        "",
    )
    return BookMeta(
        title=next(iter(fields.get("title", [])), ""),
        author="; ".join(fields.get("creator", [])),
        language=next(iter(fields.get("language", [])), ""),
        gutenberg_id=number,
    )


def _join(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href)))
