"""Small synthetic Gutenberg books, one per header and marker variant."""

from __future__ import annotations

BODY = "It was a dark night.\nThe wind blew hard.\n\nA second paragraph ends here."

MODERN = f"""The Project Gutenberg eBook of A Test Book

Title: A Test Book

Author: Ann Author

Release date: June 1, 1998 [eBook #4242]

Language: English

*** START OF THE PROJECT GUTENBERG EBOOK A TEST BOOK ***

{BODY}

*** END OF THE PROJECT GUTENBERG EBOOK A TEST BOOK ***

START: FULL LICENSE
THE FULL PROJECT GUTENBERG LICENSE
"""

THIS_VARIANT = f"""The Project Gutenberg EBook of Katrine, by Elinor Lane

Title: Katrine

Author: Elinor Lane

Release Date: December 6, 2004 [EBook #14263]

*** START OF THIS PROJECT GUTENBERG EBOOK KATRINE ***

Produced by Rick Niles and the Online Distributed Proofreading Team at
http://www.pgdp.net

{BODY}

End of the Project Gutenberg EBook of Katrine, by Elinor Lane

*** END OF THIS PROJECT GUTENBERG EBOOK KATRINE ***

*** START: FULL LICENSE ***
"""

NO_SPACES = f"""Title: Morning Bells

***START OF THE PROJECT GUTENBERG EBOOK MORNING BELLS***

{BODY}

***END OF THE PROJECT GUTENBERG EBOOK MORNING BELLS***
"""

GUTENBERGS_END = f"""*** start of the project gutenberg ebook jack ***

{BODY}

End of Project Gutenberg's Jack Sheppard, by William Harrison Ainsworth

Some trailing license text.
"""

SMALL_PRINT = f"""Project Gutenberg Etext of News from Nowhere, by William Morris

Please take a look at the important information in this header.

Title: News from Nowhere

Author: William Morris

Release Date: June, 2002  [Etext #3261]

**The Legal Small Print**

***START**THE SMALL PRINT!**FOR PUBLIC DOMAIN ETEXTS**START***
Why is this "Small Print!" statement here?  You know: lawyers.
*END THE SMALL PRINT! FOR PUBLIC DOMAIN ETEXTS*Ver.12.12.00*END*

{BODY}

{BODY}

{BODY}

{BODY}

End of The Project Gutenberg Etext of News from Nowhere, by William Morris
"""

WRAPPED_START = f"""Title: A Very Long Title Indeed

*** START OF THE PROJECT GUTENBERG EBOOK A VERY LONG TITLE THAT
WRAPS ONTO A SECOND LINE ***

{BODY}

*** END OF THE PROJECT GUTENBERG EBOOK A VERY LONG TITLE ***
"""

NO_MARKERS = f"My Notes\n\n{BODY}\n"

VARIANTS = {
    "modern": MODERN,
    "this": THIS_VARIANT,
    "no-spaces": NO_SPACES,
    "gutenbergs-end": GUTENBERGS_END,
    "small-print": SMALL_PRINT,
    "wrapped-start": WRAPPED_START,
}
