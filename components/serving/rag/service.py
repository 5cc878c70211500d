"""One RAG request, step by step, each step a span of the request's trace.

Errors a caller can act on are ServiceError with an HTTP status and one readable line: 422 for a
bad query, 404 for an author with no documents, 503 when the model endpoint or the vector store
cannot answer, 502 when the model answers with an error.

Guardrails (guardrails/) check the question before anything reads it and the answer before it
is returned. A block is 422 naming the guardrail, for the question and for the answer alike: the
request was understood, and this request cannot be answered as asked. Not a 5xx: nothing is
broken, the same request gets the same verdict (retrying cannot help), and the monitoring job
counts 5xx as errors of the service, not as guardrail hits.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from components.common.chat import ChatError
from components.common.embeddings import MODEL_NAME as EMBEDDING_MODEL
from components.common.settings import LLMSettings
from components.common.traces import TRACE_NAME
from components.serving.rag import query as query_llm
from components.serving.rag import rerank
from components.serving.rag.config import RagSettings
from components.serving.rag.feedback import (
    FEEDBACK_NAME,
    FeedbackItem,
    RecentAnswers,
    score_value,
)
from components.serving.rag.generator import EndpointGenerator, ModelFailed, ModelUnavailable
from components.serving.rag.guardrails.engine import (
    GuardrailBlocked,
    Guardrails,
    Outcome,
    scrub_trace,
)
from components.serving.rag.prompt import Prompt, build_prompt
from components.serving.rag.prompt_library import PromptVersions, library_for
from components.serving.rag.retrieval import Hit, Retriever
from components.serving.rag.tracing import NullTrace, RequestTrace, Tracer

SNIPPET_CHARS = 200
MAX_AUTHOR_CHARS = 200
STEPS = ("embed", "retrieve", "rerank", "prompt", "generate")


class ServiceError(Exception):
    def __init__(self, status: int, message: str, guardrail: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.trace_id: str | None = None
        self.guardrail = guardrail


def unicode_problem(value: str) -> str:
    """Why `value` is not text the steps can use, or "". JSON lets a client send a lone
    surrogate ("\\ud800"); no UTF-8 form exists for it, so the tokenizer, the vector store and
    the trace log would each fail on it deep inside a step."""
    for index, char in enumerate(value):
        if 0xD800 <= ord(char) <= 0xDFFF:
            return (
                f"not valid Unicode text (a lone surrogate \\u{ord(char):04x} at character "
                f"{index}); send UTF-8 text"
            )
    return ""


def _shown(number: int) -> str:
    text = str(number)
    return text if len(text) <= 20 else f"{text[:20]}… ({len(text)} digits)"


def snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


class RagService:
    def __init__(
        self,
        settings: RagSettings,
        retriever: Retriever,
        encode: Callable[[list[str]], Any],
        count_tokens: Callable[[str], int],
        generator: EndpointGenerator,
        tracer: Tracer,
        llm: LLMSettings | None = None,
        count_query_tokens: Callable[[str], int] | None = None,
        token_counter: str = "generator",
        guardrails: Guardrails | None = None,
    ) -> None:
        """`count_tokens` counts with the generator's tokenizer (the trace's figures and the
        context budget); `count_query_tokens` with the embedding model's (the query limit: what
        the embedding model reads), `count_tokens` when not given; `token_counter` names the
        tokenizer of `count_tokens` in each trace."""
        self.settings = settings
        self.retriever = retriever
        self._encode = encode
        self.count_tokens = count_tokens
        self.count_query_tokens = count_query_tokens or count_tokens
        self.token_counter = token_counter
        self.generator = generator
        self.tracer = tracer
        self.llm = llm
        self.guardrails = guardrails
        self._encode_lock = threading.Lock()
        self.recent = RecentAnswers()
        # The prompt templates' versions, registered where traces go on first use.
        self.prompts = PromptVersions(library_for(tracer.sink))

    @classmethod
    def from_env(cls, settings: RagSettings, env: Mapping[str, str] | None = None) -> RagService:
        """The service over the configured store, model endpoint and trace destination."""
        from components.common import embeddings, qdrant
        from components.common.job import JobError
        from components.common.settings import llm_settings, qdrant_settings
        from components.serving.rag.guardrails.policy import policy_from_env
        from components.serving.rag.tokens import generator_counter
        from components.serving.rag.tracing import tracer_from_env

        try:
            tracer = tracer_from_env(env)
        except ValueError as exc:
            raise JobError(str(exc)) from None
        policy = policy_from_env(env)
        guardrails = Guardrails.from_policy(policy, env or os.environ) if policy else None
        store = qdrant_settings(env)
        retriever = Retriever(qdrant.connect(store), store)
        # The runtime that wrote the stored vectors (EMBEDDING_RUNTIME, as the features job).
        model = embeddings.load_model(embeddings.embedding_runtime(env))
        tokenizer = embeddings.load_tokenizer()
        counter = generator_counter(env)

        def query_tokens(text: str) -> int:
            return len(tokenizer.encode(text, add_special_tokens=False).ids)

        generator = EndpointGenerator(
            settings.endpoint_name,
            settings.runtime_url,
            settings.region,
            settings.invoke_timeout,
            settings.state,
        )
        return cls(
            settings,
            retriever,
            lambda texts: embeddings.encode(model, texts),
            counter.count,
            generator,
            tracer,
            llm_settings(env),
            count_query_tokens=query_tokens,
            token_counter=f"{counter.name} tokenizer",
            guardrails=guardrails,
        )

    # -- validation -------------------------------------------------------------------------
    def _check(self, query: Any, author: Any, top_k: Any) -> tuple[str, str | None, int, int]:
        for field, value in (("query", query), ("author", author)):
            problem = unicode_problem(value) if isinstance(value, str) else ""
            if problem:
                raise ServiceError(422, f"{field}: {problem}")
        text = query.strip() if isinstance(query, str) else ""
        if not text:
            raise ServiceError(422, "query is empty: send the question as a non-empty string")
        limit = self.settings.max_query_chars
        if len(text) > limit:
            raise ServiceError(422, f"query is {len(text)} characters; the limit is {limit}")
        tokens = self.count_query_tokens(text)
        if tokens > self.settings.max_query_tokens:
            raise ServiceError(
                422,
                f"query is {tokens} tokens; the limit is {self.settings.max_query_tokens} "
                "(what the embedding model reads)",
            )
        name = author.strip() if isinstance(author, str) else None
        if author is not None and not name:
            raise ServiceError(422, "author is empty: leave it out to search every author")
        if name and len(name) > MAX_AUTHOR_CHARS:
            raise ServiceError(422, f"author is longer than {MAX_AUTHOR_CHARS} characters")
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise ServiceError(
                422, f"top_k is {_shown(k)}; expected 1 to {self.settings.max_top_k}"
            )
        return text, name, k, tokens

    # -- steps ------------------------------------------------------------------------------
    def _understand(self, trace: RequestTrace | NullTrace, query: str, author: str | None):
        """(author, author source, extra queries) from the LLM, when one is configured."""
        if self.llm is None:
            return author, "request" if author else None, []
        source = "request" if author else None
        if author is None:
            with trace.span("self_query", type="llm", input={"query": query}) as span:
                span.model, span.provider = self.llm.model, "openai-compatible"
                try:
                    author = query_llm.extract_author(self.llm, query)
                    source = "self_query" if author else None
                except ChatError as exc:
                    span.metadata["error"] = str(exc)
                span.output = {"author": author}
        extra: list[str] = []
        if self.settings.expansions:
            with trace.span("expand", type="llm", input={"query": query}) as span:
                span.model, span.provider = self.llm.model, "openai-compatible"
                try:
                    extra = query_llm.expand(self.llm, query, self.settings.expansions)
                except ChatError as exc:
                    span.metadata["error"] = str(exc)
                span.output = {"queries": extra}
        return author, source, extra

    def embed(self, texts: list[str]) -> list[list[float]]:
        with self._encode_lock:
            vectors = self._encode(texts)
        return [list(map(float, vector)) for vector in vectors]

    def _retrieve(
        self,
        trace: RequestTrace | NullTrace,
        parent: Any,
        vectors: list[list[float]],
        author: str | None,
    ) -> list[Hit]:
        hits: list[Hit] = []
        try:
            collections = self.retriever.collections()
            if not collections:
                raise ServiceError(
                    503,
                    "the vector store holds no embedded_* collections yet: run the pipeline's "
                    "features step first",
                )
            for index, vector in enumerate(vectors):
                for name in collections:
                    with trace.span(
                        f"search {name}",
                        type="tool",
                        parent=parent,
                        input={"collection": name, "query_index": index, "author": author},
                    ) as span:
                        found = self.retriever.search_collection(
                            name, vector, author, self.settings.candidates
                        )
                        span.output = {"ids": [hit.id for hit in found]}
                    for hit in found:
                        hit.queries.add(index)
                    hits.extend(found)
        except ServiceError:
            raise
        except Exception as exc:
            first = (str(exc).strip().splitlines() or [""])[0]
            raise ServiceError(
                503, f"the vector store failed: {type(exc).__name__}: {first}"
            ) from None
        return hits

    def _unknown_author(self, author: str) -> ServiceError:
        known = self.retriever.known_authors()
        have = ", ".join(known) if known else "none"
        return ServiceError(404, f"author {author!r} has no documents in the store (have: {have})")

    # -- the request ------------------------------------------------------------------------
    def answer(
        self, query: Any, author: Any = None, top_k: Any = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """One answer; `session_id` names the conversation it belongs to (Opik's thread)."""
        text, author, k, _ = self._check(query, author, top_k)
        query_tokens = self.count_tokens(text)
        started = time.perf_counter()
        trace = self.tracer.start(
            TRACE_NAME,
            {"query": text, "author": author, "top_k": k},
            ["llm-twin", "rag", f"env:{self.settings.environment}"],
        )
        trace.thread_id = session_id
        latency: dict[str, float] = {}
        outcome = Outcome()
        state: dict[str, Any] = {"status": 200, "query_tokens": query_tokens, "query": text}
        state["guardrails"] = outcome
        output: dict[str, Any] | None = None
        error: BaseException | None = None
        try:
            try:
                output = self._run(trace, text, author, k, latency, state)
            except GuardrailBlocked as exc:
                raise ServiceError(422, str(exc), exc.result.name) from None
            if trace.id:
                self.recent.remember(trace.id, state["query"], output["response"]["answer"])
            return {**output["response"], "trace_id": trace.id, "guardrails": outcome.summary()}
        except ServiceError as exc:
            state["status"] = exc.status
            exc.trace_id = trace.id
            error = exc
            raise
        except BaseException as exc:
            state["status"] = 500
            error = exc
            raise
        finally:
            latency["total"] = round((time.perf_counter() - started) * 1000, 3)
            if trace.enabled:
                trace.finish(
                    output["trace"] if output else None, self._metadata(state, latency, k), error
                )
                if error is not None:
                    trace.tags.append("status:error")
                if getattr(error, "guardrail", None):
                    trace.tags.append("guardrail:blocked")
                scrub_trace(trace, outcome)
                self.tracer.submit(trace)

    def _run(
        self,
        trace: RequestTrace | NullTrace,
        query: str,
        author: str | None,
        k: int,
        latency: dict[str, float],
        state: dict[str, Any],
    ) -> dict[str, Any]:
        if self.guardrails is not None:
            query = self.guardrails.check_input(trace, state["guardrails"], query)
            state["query"] = query
        author, source, extra = self._understand(trace, query, author)
        state.update(author=author, author_source=source, expanded_queries=extra)
        queries = [query, *extra]

        with trace.span("embed", input={"texts": len(queries)}) as span:
            vectors = self.embed(queries)
            span.output = {"vectors": len(vectors), "dimension": len(vectors[0])}
            span.metadata["model"] = EMBEDDING_MODEL
        latency["embed"] = span.latency_ms

        with trace.span("retrieve", type="tool", input={"author": author}) as span:
            hits = self._retrieve(trace, span, vectors, author)
            if not hits and author and source == "request":
                raise self._unknown_author(author)
            if not hits and author:
                # An author the LLM read into the question but the store does not know.
                state["author_source"] = "self_query_ignored"
                hits = self._retrieve(trace, span, vectors, None)
            span.output = {"hits": len(hits)}
        latency["retrieve"] = span.latency_ms
        if self.guardrails is not None:
            best = max((hit.score for hit in hits), default=None)
            self.guardrails.check_topic(trace, state["guardrails"], best)

        with trace.span("rerank", input={"candidates": len(hits)}) as span:
            ranked = rerank.rerank(query, rerank.deduplicate(hits))
            span.output = {
                "ranked": [{"id": h.id, "score": round(h.rank_score, 4)} for h in ranked[: k * 3]]
            }
            span.metadata["reranker"] = rerank.DESCRIPTION
        latency["rerank"] = span.latency_ms
        state["retrieved_chunk_ids"] = [hit.id for hit in ranked]

        with trace.span("prompt", input={"chunks": len(ranked), "top_k": k}) as span:
            prompt = build_prompt(query, ranked, k, self.settings.context_tokens, self.count_tokens)
            span.output = {"prompt": prompt.text}
            version = self.prompts.get(prompt.template)
            # On the span and the trace: Opik links both to the prompt version through
            # `opik_prompts`; the flat fields are what people and the monitoring job read.
            span.metadata.update(version.trace_metadata(), opik_prompts=[version.opik_prompt()])
            trace.metadata.update(version.trace_metadata(), opik_prompts=[version.opik_prompt()])
            state["prompt"] = version.summary()
            span.metadata.update(
                context_tokens=prompt.context_tokens,
                prompt_tokens=prompt.prompt_tokens,
                budget_tokens=self.settings.context_tokens,
                skipped_chunks=prompt.skipped,
            )
        latency["prompt"] = span.latency_ms
        state.update(
            context_chunk_ids=[hit.id for hit in prompt.used],
            context_tokens=prompt.context_tokens,
            prompt_tokens=prompt.prompt_tokens,
        )

        answer = self._generate(trace, prompt, state, latency)
        if self.guardrails is not None:
            context = [hit.content for hit in prompt.used]
            answer = self.guardrails.check_output(trace, state["guardrails"], answer, context)
        return {
            "response": {
                "answer": answer,
                "sources": self._sources(prompt),
                "prompt": state["prompt"],
            },
            "trace": {
                "answer": answer,
                "context": [{"id": hit.id, "text": hit.content} for hit in prompt.used],
            },
        }

    def _generate(
        self,
        trace: RequestTrace | NullTrace,
        prompt: Prompt,
        state: dict[str, Any],
        latency: dict[str, float],
    ) -> str:
        parameters = self.settings.generation_parameters
        model = self.generator.model_id()
        state["model"] = model
        with trace.span("generate", type="llm", input={"prompt": prompt.text}) as span:
            span.model, span.provider = model["model_id"], "sagemaker"
            span.metadata.update(endpoint=self.generator.endpoint, parameters=parameters)
            try:
                answer = self.generator.generate(prompt.text, parameters)
            except ModelUnavailable as exc:
                raise ServiceError(503, str(exc)) from None
            except ModelFailed as exc:
                raise ServiceError(502, str(exc)) from None
            answer_tokens = self.count_tokens(answer)
            span.output = {"answer": answer}
            span.usage = {
                "prompt_tokens": prompt.prompt_tokens,
                "completion_tokens": answer_tokens,
                "total_tokens": prompt.prompt_tokens + answer_tokens,
            }
        latency["generate"] = span.latency_ms
        state["answer_tokens"] = answer_tokens
        return answer

    def _sources(self, prompt: Prompt) -> list[dict[str, Any]]:
        return [
            {
                "id": hit.id,
                "type": hit.type,
                "author": hit.author,
                "title": str(hit.payload.get("title", "")),
                "score": round(hit.rank_score, 4),
                "snippet": snippet(hit.content),
            }
            for hit in prompt.used
        ]

    def _metadata(self, state: dict[str, Any], latency: dict[str, float], k: int) -> dict:
        model = state.get("model") or {"model_id": self.generator.endpoint}
        return {
            "model_id": model["model_id"],
            "endpoint": self.generator.endpoint,
            "embedding_model": EMBEDDING_MODEL,
            "reranker": rerank.DESCRIPTION,
            "retrieved_chunk_ids": state.get("retrieved_chunk_ids", []),
            "context_chunk_ids": state.get("context_chunk_ids", []),
            "query_tokens": state.get("query_tokens", 0),
            "context_tokens": state.get("context_tokens", 0),
            "prompt_tokens": state.get("prompt_tokens", 0),
            "answer_tokens": state.get("answer_tokens", 0),
            "token_counter": self.token_counter,
            "latency_ms": latency,
            "generation": self.settings.generation_parameters,
            "status": state["status"],
            "author": state.get("author"),
            "author_source": state.get("author_source"),
            "expanded_queries": state.get("expanded_queries", []),
            "top_k": k,
            "environment": self.settings.environment,
            "guardrails": state["guardrails"].verdicts(),
            "guardrail_policy": self.guardrails.policy.source if self.guardrails else "off",
        }

    # -- service ----------------------------------------------------------------------------
    def feedback(
        self, trace_id: str, score: Any, comment: str | None, better_answer: str | None
    ) -> dict[str, Any]:
        """Queue a person's rating of an answer (never written on the request path)."""
        try:
            value = score_value(score)
        except ValueError as exc:
            raise ServiceError(422, str(exc)) from None
        about = self.recent.get(trace_id)
        if about is None:
            raise ServiceError(
                404,
                f"unknown trace_id {trace_id!r}: rate an answer this service gave (it remembers "
                f"its last {self.recent.size})",
            )
        if not self.tracer.enabled:
            raise ServiceError(
                503, "tracing is off (OPIK_TRACK_DISABLE): feedback has nowhere to go"
            )
        item = FeedbackItem(trace_id, value, comment, better_answer, about)
        if not self.tracer.submit_feedback(item):
            raise ServiceError(503, "the trace queue is full; send the feedback again later")
        return {"trace_id": trace_id, "name": FEEDBACK_NAME, "value": value, "queued": True}

    def health(self) -> dict[str, Any]:
        try:
            collections = self.retriever.collections()
            store = "ok"
        except Exception as exc:
            collections, store = [], f"{type(exc).__name__}: {exc}".splitlines()[0]
        return {
            "status": "ok" if store == "ok" else "degraded",
            "vector_store": store,
            "collections": collections,
            "endpoint": self.generator.endpoint,
            "runtime": self.generator.where,
            "embedding_model": EMBEDDING_MODEL,
            "query_llm": self.llm.model if self.llm else None,
            "guardrails": self.guardrails.describe() if self.guardrails else "off",
            "tracing": self.tracer.stats(),
        }

    def close(self) -> None:
        self.tracer.close()
        self.retriever.close()
