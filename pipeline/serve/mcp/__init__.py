"""`ragmill mcp`: the library over the Model Context Protocol, for assistants and agents.

    tools.py      the server and its tools: search, read_passage, list_books, describe_book,
                  list_collections, ask (docs/mcp.md)
    shapes.py     what the tools answer: typed results that carry what a citation needs
    reading.py    a passage with its neighbours, and a book's chapters, read from Chroma
    errors.py     every failure of a tool as one sentence, in one place
    transport.py  stdio, or Streamable HTTP with the search service's token beyond loopback

The tools read through the same `Library` as `ragmill serve` (pipeline/search/library.py) and
refuse the same mistakes with the same one-line messages. Built on the official `mcp` SDK's
MCPServer. (This package is named after the protocol; `import mcp` in it is the SDK.)
"""
