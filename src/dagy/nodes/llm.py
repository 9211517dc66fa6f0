"""LLM: prompting, extracting, classifying and embedding with a language model provider.

How each node talks to its provider lives in `dagy.nodes.llm_providers`; this module shapes the
prompts and the outputs. docs/node-types/llm-vectordb.md describes every node for flow authors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from dagy.nodes.base import ExecutableNode, NodeContext, NodeError, NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition
from dagy.nodes.inputs import node_input
from dagy.nodes.llm_providers import (
    CHAT_PROVIDERS,
    DEFAULT_AZURE_API_VERSION,
    EMBEDDING_PROVIDERS,
    ChatRequest,
    chat,
    embed_locally,
    embed_remote,
)
from dagy.nodes.notification import as_text, render_template, template_problem

_PROVIDER = ConfigField(
    "provider",
    "Provider",
    "enum",
    default="openai",
    options=CHAT_PROVIDERS,
    description="openai also serves any OpenAI-compatible server (vLLM, LM Studio) given its base_url.",
)
_MODEL = ConfigField("model", "Model", "string", required=True, description="For example gpt-4o-mini.")
_BASE_URL = ConfigField(
    "base_url",
    "Base URL",
    "string",
    description=(
        "The API's address; empty: the provider's public API (ollama: http://localhost:11434/v1). "
        "For azure_openai, the resource endpoint."
    ),
)
_API_KEY = ConfigField(
    "api_key", "API key", "secret", description="A reference to a secret; not needed for a local Ollama."
)
_API_VERSION = ConfigField(
    "api_version",
    "API version",
    "string",
    default=DEFAULT_AZURE_API_VERSION,
    description="azure_openai only.",
)
_CONNECTION = (_BASE_URL, _API_KEY, _API_VERSION)
_TEXT_FIELD = ConfigField(
    "text_field",
    "Text field",
    "string",
    default="text",
    description="The field holding the text when the input is records.",
)
_TEXT_IN = inbound(("string", "json", "dataframe"), required=True)
_PARALLEL_CALLS = 4  # texts of one input answered at once, in order
_EXTRACT_MAX_TOKENS = 2048
_CLASSIFY_MAX_TOKENS = 256
_FENCE = re.compile(r"^```[A-Za-z]*\s*\n?(.*?)\n?```$", re.DOTALL)


class LlmPromptNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="llm_prompt",
        label="LLM Prompt",
        description="Send a prompt (a template over the input and parameters) and output the answer.",
        category="llm",
        icon="MessageSquare",
        color="amber",
        tags=("llm", "prompt", "completion", "chat", "gpt", "claude", "ai"),
        connectors=(inbound(), outbound(("string", "json"))),
        config_schema=(
            _PROVIDER,
            _MODEL,
            ConfigField(
                "prompt",
                "Prompt",
                "code",
                required=True,
                description=(
                    "A template: {input} is the input, {input[key]} one of its fields, {params[name]} a "
                    "run parameter; {{ and }} are literal braces."
                ),
            ),
            ConfigField("system_prompt", "System prompt", "string"),
            ConfigField("temperature", "Temperature", "number", default=0.0),
            ConfigField("max_tokens", "Max tokens", "integer", default=1024),
            ConfigField(
                "response_format", "Response format", "enum", default="text", options=("text", "json")
            ),
            *_CONNECTION,
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        prompt = data.get("prompt")
        problem = template_problem(prompt) if isinstance(prompt, str) else None
        return {"prompt": problem} if problem else {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        json_mode = config.get("response_format", "text") == "json"
        system = config.get("system_prompt") or None
        if json_mode:  # OpenAI's JSON mode wants the word JSON in the messages; it helps the others
            system = "\n\n".join(filter(None, [system, "Answer with a JSON value only."]))
        request = ChatRequest(
            prompt=render_template(str(config["prompt"]), context, node_input(inputs)),
            system=system,
            temperature=float(config.get("temperature", 0.0)),
            max_tokens=int(config.get("max_tokens", 1024)),
            json_mode=json_mode,
        )
        answer = chat(config, context, request)
        return parse_json_answer(answer) if json_mode else answer.strip()


class LlmExtractNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="llm_extract",
        label="LLM Extract",
        description="Pull structured fields out of free text, shaped by a JSON Schema.",
        category="llm",
        icon="ScanText",
        color="amber",
        tags=("llm", "extraction", "structured output", "parsing", "ai"),
        connectors=(_TEXT_IN, outbound(("json", "dataframe"))),
        config_schema=(
            _PROVIDER,
            _MODEL,
            ConfigField("schema", "Output JSON Schema", "object", required=True),
            ConfigField("instructions", "Instructions", "string"),
            _TEXT_FIELD,
            *_CONNECTION,
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        schema = data.get("schema")
        if not isinstance(schema, dict):
            return {}
        problem = _schema_problem(schema)
        return {"schema": problem} if problem else {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        schema = config["schema"]
        problem = _schema_problem(schema)
        if problem:
            raise NodeError("invalid_config", f"schema: {problem}")
        system = (
            "Extract information from the text the user sends. Answer with one JSON value matching "
            f"this JSON Schema, and nothing else:\n{json.dumps(schema)}"
        )
        request = ChatRequest(
            prompt="",
            system="\n\n".join(filter(None, [system, config.get("instructions")])),
            max_tokens=_EXTRACT_MAX_TOKENS,
            json_schema=schema if config.get("provider", "openai") != "anthropic" else None,
        )

        def extract(text: str) -> Any:
            answer = parse_json_answer(chat(config, context, replace(request, prompt=text)))
            _validate(answer, schema)
            return answer

        def as_fields(answer: Any) -> dict[str, Any]:
            return answer if isinstance(answer, dict) else {"extracted": answer}

        return _answer_each_text(
            _text_input(inputs), str(config.get("text_field", "text")), extract, as_fields
        )


class LlmClassifyNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="llm_classify",
        label="LLM Classify",
        description="Label each text with one (or several) of the given categories.",
        category="llm",
        icon="Tags",
        color="amber",
        tags=("llm", "classification", "labels", "sentiment", "routing", "ai"),
        connectors=(_TEXT_IN, outbound(("json", "dataframe"))),
        config_schema=(
            _PROVIDER,
            _MODEL,
            ConfigField("labels", "Labels", "array", required=True),
            ConfigField("multi_label", "Several labels per text", "boolean", default=False),
            ConfigField("instructions", "Instructions", "string"),
            _TEXT_FIELD,
            *_CONNECTION,
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        labels = data.get("labels")
        if isinstance(labels, list) and not _are_labels(labels):
            return {"labels": "must be distinct non-empty strings, at least two"}
        return {}

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        labels = config["labels"]
        if not _are_labels(labels):
            raise NodeError("invalid_config", "labels must be distinct non-empty strings, at least two")
        multi = bool(config.get("multi_label", False))
        answer_shape = (
            "Answer with a JSON array of every label that applies (it may be empty), and nothing else."
            if multi
            else "Answer with exactly one of these labels, and nothing else."
        )
        system = f"Classify the text the user sends. The labels: {json.dumps(labels)}. {answer_shape}"
        request = ChatRequest(
            prompt="",
            system="\n\n".join(filter(None, [system, config.get("instructions")])),
            max_tokens=_CLASSIFY_MAX_TOKENS,
        )

        def classify(text: str) -> Any:
            answer = chat(config, context, replace(request, prompt=text))
            return _labels_in(answer, labels) if multi else _label_in(answer, labels)

        def as_fields(answer: Any) -> dict[str, Any]:
            return {"labels": answer} if multi else {"label": answer}

        return _answer_each_text(
            _text_input(inputs), str(config.get("text_field", "text")), classify, as_fields
        )


class EmbedTextNode(ExecutableNode):
    definition = NodeDefinition(
        node_type="embed_text",
        label="Embed Text",
        description="Turn texts into embedding vectors, ready for a vector store.",
        category="llm",
        icon="Binary",
        color="amber",
        tags=("embeddings", "vectors", "semantic search", "rag", "ai"),
        connectors=(_TEXT_IN, outbound(("vector",), connector_id="vectors_out", name="Vectors")),
        config_schema=(
            ConfigField(
                "provider",
                "Provider",
                "enum",
                default="local",
                options=EMBEDDING_PROVIDERS,
                description="local: the packaged all-MiniLM-L6-v2 (384 dimensions) on the worker's CPU.",
            ),
            ConfigField(
                "model", "Model", "string", description="For example text-embedding-3-small; not for local."
            ),
            _TEXT_FIELD,
            ConfigField("id_field", "Id field", "string", default="id"),
            ConfigField("batch_size", "Batch size", "integer", default=100),
            ConfigField(
                "base_url",
                "Base URL",
                "string",
                description="The API's address; empty: the provider's public API (ollama: http://localhost:11434/v1).",
            ),
            _API_KEY,
        ),
    )

    @classmethod
    def check(cls, data: Mapping[str, Any]) -> dict[str, str]:
        problems = {}
        if data.get("provider", "local") != "local" and not data.get("model"):
            problems["model"] = "required: the provider's embedding model"
        batch_size = data.get("batch_size")
        if isinstance(batch_size, int) and not 1 <= batch_size <= 2048:
            problems["batch_size"] = "must be between 1 and 2048"
        return problems

    def run(self, inputs: dict[str, Any], config: Mapping[str, Any], context: NodeContext) -> Any:
        provider = config.get("provider") or "local"
        if provider != "local" and not config.get("model"):
            raise NodeError("invalid_config", f"provider {provider} needs model (its embedding model)")
        items = _embedding_items(
            _text_input(inputs), str(config.get("text_field", "text")), str(config.get("id_field", "id"))
        )
        batch_size = max(1, int(config.get("batch_size", 100)))
        records: list[dict[str, Any]] = []
        for start in range(0, len(items), batch_size):
            batch = items[start : start + batch_size]
            texts = [text for _, text, _ in batch]
            if provider == "local":
                vectors = embed_locally(texts, batch_size=batch_size)
            else:
                vectors = embed_remote(config, context, texts)
            for (item_id, text, metadata), vector in zip(batch, vectors, strict=True):
                records.append({"id": item_id, "embedding": vector, "text": text, **metadata})
        context.logger.info("embedded %d texts with %s", len(records), provider)
        return records


def parse_json_answer(answer: str) -> Any:
    """The JSON value a model answered, code fences around it allowed."""
    text = answer.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise NodeError("invalid_llm_output", f"The model's answer is not JSON: {_shorten(answer)}") from None


def _text_input(inputs: Mapping[str, Any]) -> Any:
    """The texts to work on: the one upstream output, or several outputs joined into one list."""
    if not inputs:
        raise NodeError("missing_input", "The node has no input to work on.")
    if len(inputs) == 1:
        return next(iter(inputs.values()))
    joined: list[Any] = []
    for value in inputs.values():
        joined.extend(value if isinstance(value, list) else [value])
    return joined


def _answer_each_text(
    value: Any, text_field: str, answer: Callable[[str], Any], as_fields: Callable[[Any], dict[str, Any]]
) -> Any:
    """A string becomes its answer; a record gains the answer's fields; a list, item by item."""
    if isinstance(value, str):
        return answer(value)
    if isinstance(value, dict):
        return {**value, **as_fields(answer(_record_text(value, text_field, 0)))}
    if not isinstance(value, list):
        raise NodeError(
            "invalid_input", f"Expected text, a record or a list of them, not {type(value).__name__}."
        )
    texts = [
        item if isinstance(item, str) else _record_text(item, text_field, i) for i, item in enumerate(value)
    ]
    with ThreadPoolExecutor(max_workers=_PARALLEL_CALLS) as pool:
        answers = list(pool.map(answer, texts))
    return [
        result if isinstance(item, str) else {**item, **as_fields(result)}
        for item, result in zip(value, answers, strict=True)
    ]


def _record_text(record: Any, text_field: str, index: int) -> str:
    if not isinstance(record, dict):
        raise NodeError("invalid_input", f"Item {index} is neither text nor a record.")
    if text_field not in record or record[text_field] is None:
        raise NodeError("missing_field", f"Record {index} has no field {text_field!r} (text_field).")
    return as_text(record[text_field])


def _embedding_items(value: Any, text_field: str, id_field: str) -> list[tuple[Any, str, dict[str, Any]]]:
    """(id, text, metadata) per text: ids from `id_field`, else the position; metadata the record's
    other fields."""
    items = value if isinstance(value, list) else [value]
    result: list[tuple[Any, str, dict[str, Any]]] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            result.append((index, item, {}))
            continue
        text = _record_text(item, text_field, index)
        metadata = {
            key: field
            for key, field in item.items()
            if key not in (text_field, id_field, "id", "embedding", "text")
        }
        result.append((item.get(id_field, index), text, metadata))
    return result


def _schema_problem(schema: dict[str, Any]) -> str | None:
    import jsonschema  # noqa: PLC0415 - imported when a node needs it

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    return None


def _validate(answer: Any, schema: Mapping[str, Any]) -> None:
    import jsonschema  # noqa: PLC0415 - imported when the node runs

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(answer))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        raise NodeError(
            "invalid_llm_output",
            f"The model's answer does not match the schema at {where}: {error.message}",
        )


def _are_labels(labels: Any) -> bool:
    return (
        isinstance(labels, list)
        and len(labels) >= 2
        and all(isinstance(label, str) and label.strip() for label in labels)
        and len({label.casefold() for label in labels}) == len(labels)
    )


def _label_in(answer: str, labels: list[str]) -> str:
    """The label the model answered, matched without regard to case, quotes or a final full stop."""
    by_key = {label.casefold(): label for label in labels}
    key = answer.strip().strip("`\"'").rstrip(".").strip().casefold()
    if key not in by_key:
        raise NodeError(
            "invalid_llm_output",
            f"The model answered {_shorten(answer)!r}, which is not one of the labels {labels}.",
        )
    return by_key[key]


def _labels_in(answer: str, labels: list[str]) -> list[str]:
    chosen = parse_json_answer(answer)
    if not isinstance(chosen, list) or not all(isinstance(item, str) for item in chosen):
        raise NodeError(
            "invalid_llm_output", f"The model's answer is not a list of labels: {_shorten(answer)}"
        )
    return list(dict.fromkeys(_label_in(item, labels) for item in chosen))


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


NODES: tuple[type[NodeType], ...] = (LlmPromptNode, LlmExtractNode, LlmClassifyNode, EmbedTextNode)
