"""Which language a page is in, told from the commonest words of a first English reading.

Tesseract needs a language before it reads, and a scan says nothing about its language. Its
English model reads the letters of other Latin-script languages well enough for their commonest
short words ("und", "les", "che") to come through, while it garbles their accented letters; so a
page read in English whose words are mostly another language's common words is read again with
that language's model. English pages (most of the corpus) are read once.
"""

from __future__ import annotations

import re

__all__ = ["LANGUAGES", "guess_language"]

# Words frequent in one language and rare in the others (short shared ones like "la" left out).
_COMMON = {
    "eng": "the and of to that is was he for it with his as had you not but",
    "deu": "und der die das ist nicht ein eine sich mit auf dem den des auch nach wie",
    "fra": "et les est une des du que qui dans pour pas sur au avec ce il elle",
    "ita": "il che di non per una del della sono gli ma con come anche questo",
    "spa": "el que los las del por una con para como pero sus al es muy",
    "nld": "het een van niet dat met voor zijn op ook aan als maar bij hij",
}
LANGUAGES = tuple(_COMMON)
_WORDS = {code: frozenset(words.split()) for code, words in _COMMON.items()}
_TOKEN = re.compile(r"[^\W\d_]+")
# Below this many words a page (a title, a caption) says too little to switch models.
_MIN_WORDS = 40
# Another language must account for this share of the words, and beat English by this factor.
_MIN_SHARE = 0.08
_OVER_ENGLISH = 2.0


def guess_language(text: str) -> str | None:
    """The Tesseract code of the language ``text`` is in, or None when unsure or English."""
    words = [word.lower() for word in _TOKEN.findall(text)]
    if len(words) < _MIN_WORDS:
        return None
    counts = {code: sum(word in common for word in words) for code, common in _WORDS.items()}
    best = max((code for code in counts if code != "eng"), key=counts.__getitem__)
    if counts[best] < _MIN_SHARE * len(words) or counts[best] < _OVER_ENGLISH * counts["eng"]:
        return None
    return best
