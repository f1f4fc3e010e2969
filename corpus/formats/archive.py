"""Reading members of a zip container (EPUB, DOCX) with the unpacked size capped."""

from __future__ import annotations

import io
import zipfile

from corpus.errors import CorruptDocument, DocumentTooLarge

__all__ = ["Archive"]

_READ_BLOCK = 1 << 16


class Archive:
    """A zip opened from bytes whose members, read together, may not unpack past ``max_bytes``.

    The sizes a zip declares can lie, so the cap is enforced on the bytes actually inflated.
    """

    def __init__(self, data: bytes, *, name: str, kind: str, max_bytes: int) -> None:
        self.name = name
        self.kind = kind
        self._left = max_bytes
        self._max_bytes = max_bytes
        try:
            self._zip = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, OSError, ValueError) as err:
            raise CorruptDocument(
                f"{name}: not a valid {kind} (not a zip archive); re-download or re-export it"
            ) from err
        declared = sum(info.file_size for info in self._zip.infolist())
        if declared > max_bytes:
            raise self._too_large()

    def names(self) -> list[str]:
        """Member names in archive order."""
        return self._zip.namelist()

    def has(self, member: str) -> bool:
        """Whether the archive holds ``member``."""
        return member in self._zip.NameToInfo

    def read(self, member: str) -> bytes:
        """A member's bytes, counted against the cap; CorruptDocument when missing or damaged."""
        try:
            with self._zip.open(member) as handle:
                chunks = []
                while block := handle.read(min(_READ_BLOCK, self._left + 1)):
                    self._left -= len(block)
                    if self._left < 0:
                        raise self._too_large()
                    chunks.append(block)
        except KeyError as err:
            raise CorruptDocument(
                f"{self.name}: the {self.kind} has no {member}; re-download or re-export it"
            ) from err
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as err:
            raise CorruptDocument(
                f"{self.name}: the {self.kind}'s {member} is damaged ({err}); "
                "re-download or re-export it"
            ) from err
        return b"".join(chunks)

    def _too_large(self) -> DocumentTooLarge:
        return DocumentTooLarge(
            f"{self.name}: the {self.kind} unpacks to more than {self._max_bytes} bytes; "
            "check the file or raise RAGMILL_MAX_BOOK_BYTES"
        )
