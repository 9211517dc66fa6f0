"""The LLM planner's providers: the official `openai` SDK (OpenAI or any compatible server) and
the official `anthropic` SDK, behind one small interface.

- `workflow_chat(...)` opens a conversation in which the model must call the workflow tool; `ask()`
  answers the tool call's arguments, `tell(feedback)` answers the call (the validator's errors)
  so the next `ask()` is a repair round.
- `answer(...)` streams a plain text answer (advisory turns), calling `on_text` with each piece.

Every error of a provider (connection, timeout, 4xx, 5xx after the SDK's own retries) becomes
`PlannerUnavailable`: the turn fails with 503 and is not charged.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from dagy.server.domains.ai_studio.planner.base import PlannerUnavailable

MAX_RETRIES = 2  # the SDKs' own retries of 429 and 5xx, with backoff
NO_KEY = "unused"  # what a server that asks no key (a local vLLM, Ollama) receives as the key


@dataclass(frozen=True)
class ProviderSettings:
    provider: str  # openai | anthropic
    base_url: str | None
    api_key: str | None
    timeout_seconds: float
    max_tokens: int


@dataclass(frozen=True)
class ToolAnswer:
    """The model's answer in a workflow chat: the tool call's arguments, or why there are none."""

    arguments: dict[str, Any] | None
    problem: str | None = None
    text: str = ""


class WorkflowChat(Protocol):
    def ask(self) -> ToolAnswer: ...

    def tell(self, feedback: str) -> None: ...


class Provider(Protocol):
    name: str

    def workflow_chat(
        self, *, model: str, system: str, messages: list[dict[str, str]], tool: dict[str, Any]
    ) -> WorkflowChat: ...

    def answer(
        self, *, model: str, system: str, messages: list[dict[str, str]], on_text: Callable[[str], None]
    ) -> str: ...


def provider_for(settings: ProviderSettings) -> Provider:
    if settings.provider == "anthropic":
        return AnthropicProvider(settings)
    return OpenAIProvider(settings)


@contextmanager
def unavailable_on_error(provider: str) -> Iterator[None]:
    """The SDK's errors as `PlannerUnavailable`, with the provider's own message."""
    sdk = importlib.import_module("anthropic" if provider == "anthropic" else "openai")
    try:
        yield
    except sdk.APIStatusError as exc:
        raise PlannerUnavailable(f"{provider} answered {exc.status_code}: {_message(exc)}") from exc
    except sdk.APIError as exc:
        raise PlannerUnavailable(f"{provider}: {exc}") from exc


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]


def _arguments(raw: Any) -> ToolAnswer:
    if isinstance(raw, dict):
        return ToolAnswer(raw)
    try:
        parsed = json.loads(raw)
    except (TypeError, ValueError) as exc:
        return ToolAnswer(None, f"the tool call's arguments are not JSON ({exc})")
    if not isinstance(parsed, dict):
        return ToolAnswer(None, "the tool call's arguments must be a JSON object")
    return ToolAnswer(parsed)


# --- OpenAI and compatible servers --------------------------------------------------------------


class OpenAIProvider:
    name = "openai"

    def __init__(self, settings: ProviderSettings) -> None:
        import openai  # noqa: PLC0415 - only an installation that uses it pays for the import

        options: dict[str, Any] = {"base_url": settings.base_url} if settings.base_url else {}
        with unavailable_on_error(self.name):
            self._client: Any = openai.OpenAI(
                api_key=settings.api_key or NO_KEY,
                timeout=settings.timeout_seconds,
                max_retries=MAX_RETRIES,
                **options,
            )
        # OpenAI's own API takes max_completion_tokens (newer models refuse max_tokens); compatible
        # servers mostly know max_tokens only.
        limit = "max_tokens" if settings.base_url else "max_completion_tokens"
        self._limit = {limit: settings.max_tokens}

    def workflow_chat(
        self, *, model: str, system: str, messages: list[dict[str, str]], tool: dict[str, Any]
    ) -> WorkflowChat:
        return _OpenAIChat(self, model, [{"role": "system", "content": system}, *messages], tool)

    def answer(
        self, *, model: str, system: str, messages: list[dict[str, str]], on_text: Callable[[str], None]
    ) -> str:
        pieces: list[str] = []
        with unavailable_on_error(self.name):
            stream = self._client.chat.completions.create(
                model=model,
                messages=[{"role": "system", "content": system}, *messages],
                stream=True,
                **self._limit,
            )
            for chunk in stream:
                delta = chunk.choices[0].delta.content if chunk.choices and chunk.choices[0].delta else None
                if delta:
                    pieces.append(delta)
                    on_text(delta)
        return "".join(pieces)


class _OpenAIChat:
    def __init__(
        self, provider: OpenAIProvider, model: str, messages: list[dict[str, Any]], tool: dict[str, Any]
    ):
        self._provider, self._model, self._messages = provider, model, messages
        self._name = tool["name"]
        self._tools = [
            {
                "type": "function",
                "function": {
                    "name": tool["name"],
                    "description": tool["description"],
                    "parameters": tool["schema"],
                },
            }
        ]
        self._pending: list[str] = []  # the ids of the tool calls the next `tell` answers

    def ask(self) -> ToolAnswer:
        with unavailable_on_error(self._provider.name):
            reply = self._provider._client.chat.completions.create(
                model=self._model,
                messages=self._messages,
                tools=self._tools,
                tool_choice={"type": "function", "function": {"name": self._name}},
                **self._provider._limit,
            )
        message = reply.choices[0].message if reply.choices else None
        if message is None:
            return ToolAnswer(None, "the model answered nothing")
        calls = [call for call in message.tool_calls or [] if getattr(call, "function", None) is not None]
        said: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
        if calls:
            said["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
                for call in calls
            ]
        self._messages.append(said)
        self._pending = [call.id for call in calls]
        ours = next((call for call in calls if call.function.name == self._name), None)
        if ours is None:
            return ToolAnswer(None, f"the model did not call {self._name}", message.content or "")
        answer = _arguments(ours.function.arguments)
        return ToolAnswer(answer.arguments, answer.problem, message.content or "")

    def tell(self, feedback: str) -> None:
        if not self._pending:
            self._messages.append({"role": "user", "content": feedback})
        for call_id in self._pending:
            self._messages.append({"role": "tool", "tool_call_id": call_id, "content": feedback})
        self._pending = []


# --- Anthropic ----------------------------------------------------------------------------------


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, settings: ProviderSettings) -> None:
        import anthropic  # noqa: PLC0415 - only an installation that uses it pays for the import

        options: dict[str, Any] = {"base_url": settings.base_url} if settings.base_url else {}
        with unavailable_on_error(self.name):
            self._client: Any = anthropic.Anthropic(
                api_key=settings.api_key or NO_KEY,
                timeout=settings.timeout_seconds,
                max_retries=MAX_RETRIES,
                **options,
            )
        self.max_tokens = settings.max_tokens

    def workflow_chat(
        self, *, model: str, system: str, messages: list[dict[str, str]], tool: dict[str, Any]
    ) -> WorkflowChat:
        return _AnthropicChat(self, model, system, list(messages), tool)

    def answer(
        self, *, model: str, system: str, messages: list[dict[str, str]], on_text: Callable[[str], None]
    ) -> str:
        pieces: list[str] = []
        with unavailable_on_error(self.name):
            stream = self._client.messages.create(
                model=model,
                max_tokens=self.max_tokens,
                system=system,
                messages=messages,
                stream=True,
            )
            for event in stream:
                delta: Any = getattr(event, "delta", None)
                if event.type == "content_block_delta" and getattr(delta, "type", None) == "text_delta":
                    pieces.append(delta.text)
                    on_text(delta.text)
        return "".join(pieces)


class _AnthropicChat:
    def __init__(
        self,
        provider: AnthropicProvider,
        model: str,
        system: str,
        messages: list[dict[str, Any]],
        tool: dict[str, Any],
    ):
        self._provider, self._model, self._system, self._messages = provider, model, system, messages
        self._name = tool["name"]
        self._tools = [
            {"name": tool["name"], "description": tool["description"], "input_schema": tool["schema"]}
        ]
        self._pending: list[str] = []

    def ask(self) -> ToolAnswer:
        with unavailable_on_error(self._provider.name):
            reply = self._provider._client.messages.create(
                model=self._model,
                max_tokens=self._provider.max_tokens,
                system=self._system,
                messages=self._messages,
                tools=self._tools,
                tool_choice={"type": "tool", "name": self._name},
            )
        blocks = list(reply.content or [])
        text = "".join(getattr(block, "text", "") for block in blocks if block.type == "text")
        uses = [block for block in blocks if block.type == "tool_use"]
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
        content += [{"type": "tool_use", "id": b.id, "name": b.name, "input": b.input} for b in uses]
        self._messages.append({"role": "assistant", "content": content or text or "(no answer)"})
        self._pending = [block.id for block in uses]
        ours = next((block for block in uses if block.name == self._name), None)
        if ours is None:
            return ToolAnswer(None, f"the model did not call {self._name}", text)
        answer = _arguments(ours.input)
        return ToolAnswer(answer.arguments, answer.problem, text)

    def tell(self, feedback: str) -> None:
        if not self._pending:
            self._messages.append({"role": "user", "content": feedback})
        else:
            results = [
                {"type": "tool_result", "tool_use_id": use_id, "content": feedback, "is_error": True}
                for use_id in self._pending
            ]
            self._messages.append({"role": "user", "content": results})
        self._pending = []
