"""Reading documents of every supported format into one shape: titled sections of text.

``detect.py`` tells the format from the bytes, ``extract.py`` dispatches to one module per
format (``text``, ``markdown``, ``html``, ``epub``, ``docx``, ``pdf``), and ``document.py``
holds the shape they all return. Modules are imported by full path so that importing the
document model does not load every format's parser.
"""

from __future__ import annotations
