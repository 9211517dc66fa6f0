"""LLM: prompting, extracting, classifying and embedding with a language model provider."""

from __future__ import annotations

from dagy.nodes.base import NodeType
from dagy.nodes.config import ConfigField
from dagy.nodes.connectors import inbound, outbound
from dagy.nodes.definition import NodeDefinition

_PROVIDER = ConfigField(
    "provider",
    "Provider",
    "enum",
    default="openai",
    options=("openai", "anthropic", "azure_openai", "ollama"),
)
_MODEL = ConfigField("model", "Model", "string", required=True, description="For example gpt-4o-mini.")
_API_KEY = ConfigField(
    "api_key", "API key", "secret", description="A reference to a secret; not needed for a local Ollama."
)
_TEXT_FIELD = ConfigField(
    "text_field",
    "Text field",
    "string",
    default="text",
    description="The field holding the text when the input is records.",
)
_TEXT_IN = inbound(("string", "json", "dataframe"), required=True)


class LlmPromptNode(NodeType):
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
            ConfigField("prompt", "Prompt", "code", required=True, description="{input} is the input."),
            ConfigField("system_prompt", "System prompt", "string"),
            ConfigField("temperature", "Temperature", "number", default=0.0),
            ConfigField("max_tokens", "Max tokens", "integer", default=1024),
            ConfigField(
                "response_format", "Response format", "enum", default="text", options=("text", "json")
            ),
            _API_KEY,
        ),
    )


class LlmExtractNode(NodeType):
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
            _API_KEY,
        ),
    )


class LlmClassifyNode(NodeType):
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
            _API_KEY,
        ),
    )


class EmbedTextNode(NodeType):
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
                default="openai",
                options=("openai", "cohere", "ollama", "sentence_transformers"),
            ),
            _MODEL,
            _TEXT_FIELD,
            ConfigField("id_field", "Id field", "string", default="id"),
            ConfigField("batch_size", "Batch size", "integer", default=100),
            _API_KEY,
        ),
    )


NODES: tuple[type[NodeType], ...] = (LlmPromptNode, LlmExtractNode, LlmClassifyNode, EmbedTextNode)
