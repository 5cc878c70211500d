"""The RAG service: answers a question in the author's voice from the author's own chunks.

    POST /rag {"query": "...", "author": "Ada Twin"?, "top_k": 3?}
      -> {"answer", "sources": [{"id", "type", "author", "title", "score", "snippet"}], "trace_id"}
    GET /health

A request runs: (self-query and query expansion, only with an LLM configured) -> embed (the
features job's model) -> retrieve (query_points on every embedded_<type> collection, filtered
by author) -> rerank (de-duplicate, then blend vector and lexical scores) -> prompt (chunks in
rank order within a token budget) -> generate (sagemaker-runtime invoke_endpoint; locally the
same call against the local model server). Each step is a span of one Opik trace.

    python -m components.serving.rag --state .sm-local --port 8000
    python -m components.serving.rag.ask --state .sm-local "How do you ship a model safely?"
"""
