"""OCR of real scanned pages: engine, resolution, pages/s on 1 and N processes, accuracy.

    python -m benchmarks.ocr --pages 8

Makes clean and poor scans of real book pages first (benchmarks/make_scans.py), then measures:

    engines   tesserocr (in-process) against pytesseract (a tesseract process per page), on the
              same clean pages: seconds per page and character error rate (CER)
    dpi       pages rendered for Tesseract at 150, 200, 300 dpi and at the scan's own resolution
              (what ragmill does), clean and poor: CER and seconds per page
    loop      a plain script: every clean page read one after another in one process
    workers   the same pages as `ocr_page` tasks through a real redis-server and a real embed
              worker of 1 and then N processes (one page a task, as an ingest sends them):
              pages/s, and the scaling N-process rate / (N x 1-process rate)
    cer       clean (300 dpi) and poor (150 dpi, skewed, noisy) scans read by the workers

CER is the edit distance between Tesseract's text and the page's own text layer over the length
of the latter, with spaces folded and line-end hyphens joined on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import redis

from benchmarks.make_scans import Scans, make_scans
from corpus.formats.ocr import OcrSettings, ocr_page, tessdata_dir
from corpus.formats.pdf_pages import open_pdf
from pipeline.bench.cpu_account import child_pids, process_cpu
from pipeline.stack import services
from pipeline.stack.broker import client_app
from pipeline.stack.local import service_env
from tasks.messages import send_options
from tasks.ocr import OcrPage, page_key

__all__ = ["cer", "main"]

Reader = Callable[[bytes, int], str]
_HYPHEN_BREAK = re.compile(r"(\w)- (\w)")


def normalise(text: str) -> str:
    """Spaces folded, typographic hyphens plain, words split at a line end joined."""
    text = " ".join(text.replace("\u2010", "-").replace("\u00ad", "-").split())
    return _HYPHEN_BREAK.sub(r"\1\2", text)


def cer(got: list[str], want: list[str]) -> float:
    """Edits over expected characters, summed over pages read against their expected text."""
    pairs = [(normalise(g), normalise(w)) for g, w in zip(got, want, strict=True)]
    return sum(edit_distance(g, w) for g, w in pairs) / max(1, sum(len(w) for _, w in pairs))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance, a row of the table at a time in numpy.

    Insertions along a row are a running minimum: cur[j] = min over k <= j of
    (cur'[k] + j - k), which `minimum.accumulate` computes on cur' - j.
    """
    target = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    steps = np.arange(len(b) + 1)
    previous = steps.copy()
    for i, code in enumerate(np.frombuffer(a.encode("utf-32-le"), dtype=np.uint32), 1):
        current = np.empty_like(previous)
        current[0] = i
        current[1:] = np.minimum(previous[1:] + 1, previous[:-1] + (target != code))
        previous = np.minimum.accumulate(current - steps) + steps
    return int(previous[-1])


def pages_of(pdf: Path) -> list[bytes]:
    """Each page of a scan as a one-page PDF, as extraction hands it to the workers."""
    document = open_pdf(pdf.read_bytes(), pdf.name)
    try:
        return [document.page_bytes(i) for i in range(document.page_count)]
    finally:
        document.close()


def tesserocr_reader(dpi: int | None) -> Reader:
    settings = OcrSettings(dpi=dpi)
    return lambda page, number: ocr_page(page, name="bench", page=number, settings=settings)


def pytesseract_reader(dpi: int) -> Reader | None:
    try:
        import pytesseract
    except ImportError:
        return None
    import pypdfium2 as pdfium

    def read(page: bytes, number: int) -> str:
        image = pdfium.PdfDocument(page)[0].render(scale=dpi / 72, grayscale=True).to_pil()
        text: str = pytesseract.image_to_string(image, lang="eng", config=f"--dpi {dpi}")
        return text

    return read


def timed(reader: Reader, pages: list[bytes], truth: list[str]) -> tuple[float, float]:
    """(seconds per page, CER over all pages) of reading `pages` one after another."""
    started = time.perf_counter()
    texts = [reader(page, number) for number, page in enumerate(pages, 1)]
    seconds = (time.perf_counter() - started) / len(pages)
    return seconds, cer(texts, truth)


def engines(pages: list[bytes], truth: list[str]) -> None:
    print("\nengines (clean, 300 dpi, one process)")
    print(f"{'engine':12} {'s/page':>7} {'CER':>7}")
    readers = {"tesserocr": tesserocr_reader(300), "pytesseract": pytesseract_reader(300)}
    for name, reader in readers.items():
        if reader is None:
            print(f"{name:12} not installed")
            continue
        reader(pages[0], 1)  # load the model once
        seconds, error = timed(reader, pages, truth)
        print(f"{name:12} {seconds:7.2f} {error:7.2%}")


def resolutions(scans: Scans, truth: list[str], count: int) -> None:
    print("\ndpi (tesserocr, one process)")
    print(f"{'scan':6} {'dpi':>4} {'s/page':>7} {'CER':>7}")
    for kind, pdf in (("clean", scans.clean), ("poor", scans.poor)):
        pages = pages_of(pdf)[:count]
        for dpi in (150, 200, 300, None):
            seconds, error = timed(tesserocr_reader(dpi), pages, truth[:count])
            print(f"{kind:6} {dpi or 'scan':>4} {seconds:7.2f} {error:7.2%}")


def loop(pages: list[bytes]) -> float:
    """Pages per second of a plain script: one process, one page after another."""
    reader = tesserocr_reader(None)
    reader(pages[0], 1)
    started = time.perf_counter()
    for number, page in enumerate(pages, 1):
        reader(page, number)
    return len(pages) / (time.perf_counter() - started)


def throughput(root: Path, scans: Scans, truth: list[str], processes: int) -> None:
    """The loop, then real embed workers of 1 and N processes on the same pages."""
    clean, poor = pages_of(scans.clean), pages_of(scans.poor)
    plain = loop(clean)
    redis_service, url = services.start_redis(root / "redis", root / "logs", persist=False)
    env = {**service_env(root / "data"), "REDIS_URL": url}
    rates: dict[int, float] = {}
    cpu: dict[int, float] = {}
    texts: dict[str, list[str]] = {}
    try:
        for count in sorted({1, processes}):
            worker = services.start_worker("embed", env, root / "logs", name=f"ocr{count}",
                                           concurrency=count)
            try:
                _read_on_workers(url, clean[:count], f"warm{count}")  # each process loads
                started, used = time.perf_counter(), _tree_cpu(worker.pid)
                texts["clean"] = _read_on_workers(url, clean, f"clean{count}")
                rates[count] = len(clean) / (time.perf_counter() - started)
                cpu[count] = (_tree_cpu(worker.pid) - used) / len(clean)
                if count == processes:
                    texts["poor"] = _read_on_workers(url, poor, "poor")
            finally:
                worker.stop(grace=20)
    finally:
        redis_service.stop(grace=10)
    _report(plain, rates, cpu, processes, {k: cer(v, truth) for k, v in texts.items()})


def _tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a worker and its pool processes."""
    return sum(process_cpu(p) or 0.0 for p in (pid, *child_pids(pid)))


def _read_on_workers(redis_url: str, pages: list[bytes], tag: str) -> list[str]:
    """Send each page as an `ocr_page` task and wait until every text is in Redis."""
    app = client_app(redis_url)
    for number, page in enumerate(pages, 1):
        message = OcrPage(run_id=f"bench-{tag}", digest=tag, page=number, name=tag,
                          language="auto", data=page)
        app.send_task("ragmill.ocr_page", **send_options(message))
    client = redis.Redis.from_url(redis_url)
    keys = [page_key(tag, "auto", n) for n in range(1, len(pages) + 1)]
    while True:
        values = client.mget(keys)
        if all(v is not None for v in values):
            return [json.loads(v).get("text", "") for v in values if v is not None]
        time.sleep(0.05)


def _report(
    plain: float, rates: dict[int, float], cpu: dict[int, float], processes: int,
    errors: dict[str, float],
) -> None:
    one, many = rates[1], rates[processes]
    print(f"\nthroughput (clean, at the scan's resolution; {processes} processes)")
    print(f"{'how':28} {'pages/s':>8} {'CPU s/page':>11}")
    print(f"{'plain loop, 1 process':28} {plain:8.3f}")
    print(f"{'embed worker, 1 process':28} {one:8.3f} {cpu[1]:11.2f}")
    print(f"{f'embed worker, {processes} processes':28} {many:8.3f} {cpu[processes]:11.2f}")
    # With idle cores the rate follows the CPU a page costs; a busy machine lowers the first.
    print(f"scaling {many / (processes * one):.2f}   vs plain loop {many / plain:.2f}x   "
          f"CPU a page, 1 vs {processes} processes: {cpu[1] / cpu[processes]:.2f}")
    print(f"CER clean {errors['clean']:.2%}   poor {errors['poor']:.2%}")
    # Other work on the machine shows here: the scaling is only as good as the idle cores.
    print("load average at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--processes", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--skip", nargs="*", default=[], choices=("engines", "dpi"),
                        help="parts to leave out")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    print(f"Tesseract language packs: {tessdata_dir()}; {args.pages} pages; "
          f"{args.processes} processes")
    with tempfile.TemporaryDirectory(prefix="ragmill-ocr-") as scratch:
        root = Path(scratch)
        scans = make_scans(root / "scans", args.pages)
        truth = scans.truth()
        clean = pages_of(scans.clean)
        if "engines" not in args.skip:
            engines(clean[: max(2, args.pages // 2)], truth[: max(2, args.pages // 2)])
        if "dpi" not in args.skip:
            resolutions(scans, truth, max(2, args.pages // 2))
        throughput(root, scans, truth, args.processes)


if __name__ == "__main__":
    main()
