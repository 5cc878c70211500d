"""Serving: the model server behind an endpoint (and, later, the RAG service)."""
