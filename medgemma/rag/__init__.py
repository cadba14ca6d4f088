"""Retrieval: loading documents, chunking them, indexing chunks and searching the index."""
