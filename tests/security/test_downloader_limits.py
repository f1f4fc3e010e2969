"""The downloader follows only http(s), caps size and redirects, and writes only into its cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from corpus.download import DownloadConfig, Downloader
from corpus.errors import CorpusError, SourceError
from tests.corpus.gutenberg_mirror import OVERSIZE, serve
from tests.faults.report import RecordProperty


def refusal(call: object) -> str:
    """The one-line message of the CorpusError that `call()` raises."""
    with pytest.raises(CorpusError) as caught:
        call()  # type: ignore[operator]
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.reliability("security", "downloader limits against a misbehaving server")
def test_the_downloader_refuses_what_it_must(
    tmp_path: Path, record_property: RecordProperty
) -> None:
    rows: list[dict[str, str]] = []
    record_property("rows", rows)
    cache = tmp_path / "cache"
    with serve() as mirror:
        mirror.files["/plain.txt"] = b"the plain text"
        config = DownloadConfig(
            cache_dir=cache, mirror=mirror.url, max_bytes=OVERSIZE - 1, retries=0,
            max_redirects=3,
        )
        downloader = Downloader(config, sleep=lambda _: None)
        for target in ("to-file", "to-ftp"):
            message = refusal(lambda t=target: downloader.fetch_url(f"{mirror.url}/{t}"))
            assert "not http(s); refusing it" in message
            rows.append({
                "case": f"a redirect to {'file://' if target == 'to-file' else 'ftp://'}",
                "checked": "refused, nothing read from the target", "observed": message,
            })
        message = refusal(lambda: downloader.fetch_url(f"{mirror.url}/loop"))
        assert "more than 3 redirects" in message
        assert mirror.hits["/loop"] == 4
        rows.append({
            "case": "a redirect loop", "checked": "stops after max_redirects (3)",
            "observed": f"{mirror.hits['/loop']} requests; {message}",
        })
        for path in ("declared-oversize", "streamed-oversize"):
            message = refusal(lambda p=path: downloader.fetch_url(f"{mirror.url}/{p}"))
            assert f"{OVERSIZE - 1}-byte limit" in message
            rows.append({
                "case": f"a body over the size cap ({path.split('-')[0]} length)",
                "checked": "refused from the header or mid-stream, never read whole",
                "observed": message,
            })
        for bad_id in ("../../etc/passwd", "1342/../../x", "١٢٣"):
            with pytest.raises(SourceError) as caught:
                downloader.fetch_gutenberg(bad_id)
            message = str(caught.value)
            assert "not a Gutenberg id" in message
        assert sum(mirror.hits.values()) == 4 + 2 + 2 + 0  # no request for the bad ids
        rows.append({
            "case": "ids `../../etc/passwd`, `1342/../../x`, `١٢٣` (Arabic-Indic digits)",
            "checked": "refused before any request or path is made of them",
            "observed": message,
        })
        url = f"{mirror.url}/plain.txt"
        assert downloader.fetch_url(url) == b"the plain text"
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [cache / "urls" / hashlib.sha256(url.encode()).hexdigest()]
    rows.append({
        "case": "a URL fetched into the cache",
        "checked": "the only file written is under the cache, named by the URL's sha256",
        "observed": f"wrote {written[0].relative_to(tmp_path)}",
    })
