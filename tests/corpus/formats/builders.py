"""Small documents of every format, built by the tests themselves (zipfile and hand-written PDF)."""

from __future__ import annotations

import io
import zipfile

CHAPTER_TEXT = "It was a dark night. The wind blew hard over the moor."

CONTAINER = b"""<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""

OPF = b"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>A Test Book</dc:title><dc:creator>Ann Author</dc:creator>
<dc:language>en</dc:language><dc:identifier id="id">http://www.gutenberg.org/4242</dc:identifier>
</metadata>
<manifest>
<item id="nav" href="nav.xhtml" media-type="application/xhtml+xml" properties="nav"/>
<item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>
</manifest>
<spine><itemref idref="c2"/><itemref idref="c1"/></spine>
</package>"""

NAV = b"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml" xmlns:epub="http://www.idpf.org/2007/ops"><body>
<nav epub:type="toc"><ol><li><a href="text/one.xhtml">Chapter One</a></li>
<li><a href="text/two.xhtml#start">The Prologue</a></li></ol></nav></body></html>"""


def xhtml(body: str, doctype: str = "") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        + doctype
        + '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>t</title>'
        "<style>p { STYLE-MARKER }</style></head><body>" + body + "</body></html>"
    ).encode()


def zip_bytes(members: dict[str, bytes], *, mimetype: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if mimetype is not None:
            archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def epub(extra: dict[str, bytes] | None = None, *, one: bytes | None = None) -> bytes:
    """An EPUB 3 whose spine puts two.xhtml (no heading) before one.xhtml (with an h1)."""
    members = {
        "META-INF/container.xml": CONTAINER,
        "OEBPS/content.opf": OPF,
        "OEBPS/nav.xhtml": NAV,
        "OEBPS/text/one.xhtml": one
        or xhtml(f"<h1>Chapter One</h1><p>{CHAPTER_TEXT}</p><script>SCRIPT-MARKER</script>"),
        "OEBPS/text/two.xhtml": xhtml(
            '<div class="pg-boilerplate" id="pg-header"><p>Title: A Test Book</p>'
            "<p>Release date: June 1, 1998 [eBook #4242]</p>"
            "<p>*** START OF THE PROJECT GUTENBERG EBOOK A TEST BOOK ***</p></div>"
            "<p id='start'>Before the story begins, a word.</p>"
        ),
        **(extra or {}),
    }
    return zip_bytes(members, mimetype=b"application/epub+zip")


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def docx(paragraphs: list[tuple[str, str]]) -> bytes:
    """A DOCX of ``(style id, text)`` paragraphs; "\\n" in text becomes a <w:br/>."""
    body = "".join(
        f'<w:p><w:pPr><w:pStyle w:val="{style}"/></w:pPr><w:r>'
        + "<w:br/>".join(f"<w:t>{line}</w:t>" for line in text.split("\n"))
        + "</w:r></w:p>"
        for style, text in paragraphs
    )
    return zip_bytes(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": f"<w:document {_W}><w:body>{body}</w:body></w:document>".encode(),
            "word/styles.xml": (
                f'<w:styles {_W}><w:style w:styleId="Kapitel"><w:name w:val="heading 1"/>'
                "</w:style></w:styles>"
            ).encode(),
            "docProps/core.xml": (
                b'<cp:coreProperties xmlns:cp="x" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                b"<dc:title>Word Book</dc:title><dc:creator>Wanda Writer</dc:creator>"
                b"</cp:coreProperties>"
            ),
        }
    )


def pdf(pages: list[list[tuple[float, str]]], *, encrypt: bool = False) -> bytes:
    """A PDF with one page per entry, each a list of (font size, line) set top-down in Helvetica.

    Written by hand (objects, xref, trailer) so the tests need no PDF-writing library.
    ``encrypt`` adds a standard security handler whose password nobody knows.
    """
    objects: list[bytes] = []
    count = len(pages)
    kids = " ".join(f"{4 + 2 * index} 0 R" for index in range(count))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode())
    objects.append(
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
    )
    for index, lines in enumerate(pages):
        stream = ["BT"]
        y = 800.0
        for size, line in lines:
            y -= size * 1.5
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            stream.append(f"/F1 {size} Tf 1 0 0 1 72 {y:.1f} Tm ({escaped}) Tj")
        stream.append("ET")
        content = "\n".join(stream).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {5 + 2 * index} 0 R "
            "/Resources << /Font << /F1 3 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    encrypt_ref = b""
    if encrypt:
        offsets.append(out.tell())
        key = b"<" + b"ab" * 32 + b">"
        out.write(
            b"%d 0 obj\n<< /Filter /Standard /V 1 /R 2 /O " % (len(objects) + 1)
            + key
            + b" /U "
            + key
            + b" /P -4 >>\nendobj\n"
        )
        encrypt_ref = b" /Encrypt %d 0 R /ID [<00112233445566778899aabbccddeeff> "
        encrypt_ref = encrypt_ref % (len(objects) + 1) + b"<00112233445566778899aabbccddeeff>]"
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(offsets) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R" % (len(offsets) + 1)
        + encrypt_ref
        + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    )
    return out.getvalue()
