"""The Anam resource kinds, each declared once (see `core.kinds` for what a field says).

| manifest        | PUT/POST body          | GET response            |
|-----------------|------------------------|-------------------------|
| avatar          | avatarId               | avatar.id               |
| voice           | voiceId                | voice.id                |
| llm             | llmId                  | llmId                   |
| prompt          | systemPrompt           | brain.systemPrompt      |
| tools           | toolIds (the whole set)| tools[].id (any order)  |
| voiceGeneration | voiceGenerationOptions | voiceGenerationOptions  |
| voiceDetection  | voiceDetectionOptions  | voiceDetectionOptions   |

Where each kind lives comes from the API module (`anam.api`, the one place
that knows the paths). Facts from the official OpenAPI document
(`tests/test_kinds.py` compares them): the POST and PUT body properties, which
fields the GET response documents, the defaults fields are reset to. From
the API's documentation: a changed voice resets the voice options, a changed
avatar may reset the avatar model.
"""

from __future__ import annotations

from typing import Any

from personactl.anam.api import RESOURCE_PATHS
from personactl.core.kinds import EACH, Field, Kind

# A persona with no LLM (the client brings its own).
NO_LLM = "CUSTOMER_CLIENT_V1"

PERSONA = Kind(
    "Persona",
    RESOURCE_PATHS["Persona"],
    (
        Field("description", "description", secret_bearing=True, reset=""),
        Field("avatar", "avatarId", read=("avatar", "id"), ref="avatar", resets=("avatarModel",)),
        Field("avatarModel", "avatarModel"),
        Field(
            "voice",
            "voiceId",
            read=("voice", "id"),
            ref="voice",
            resets=("voiceGenerationOptions",),
        ),
        Field("llm", "llmId", ref="LLM"),
        Field("languageCode", "languageCode", write_only=True, live=True),
        Field("prompt", "systemPrompt", read=("brain", "systemPrompt"), secret_bearing=True),
        Field("initialMessage", "initialMessage", write_only=True, secret_bearing=True, reset=None),
        Field("skipGreeting", "skipGreeting", reset=False),
        Field("uninterruptibleGreeting", "uninterruptibleGreeting", write_only=True, reset=False),
        Field("zeroDataRetention", "zeroDataRetention", reset=False),
        Field("voiceGeneration", "voiceGenerationOptions", nested=True, live=True),
        Field("voiceDetection", "voiceDetectionOptions", nested=True, live=True),
        Field("tools", "toolIds", read=("tools", EACH, "id"), ref="Tool", is_set=True, reset=[]),
        Field("widgetConfig", "widgetConfig", nested=True, on_create=False),
    ),
)

TOOL = Kind(
    "Tool",
    RESOURCE_PATHS["Tool"],
    (
        Field("type", "type"),
        Field("description", "description", secret_bearing=True),
        Field(
            "config",
            "config",
            nested=True,
            secret_bearing=True,
            folders=("documentFolders", "documentFolderIds"),
        ),
        Field("disableInterruptions", "disableInterruptions", reset=False),
    ),
    usage="usageCount",
)

# The POST and PUT bodies of /v1/llms differ: POST takes `urls` (a list of {url,
# region}) and one llmFormat enum, PUT a single `url` string and another enum. A
# change a PUT cannot make replaces the LLM. `temperature` is in neither request
# schema but in both request examples (LlmCreate, LlmUpdate) and in the response.
LLM_PUT_FORMATS = ("openai", "azure_openai", "groq_openai", "anthropic", "custom")

LLM = Kind(
    "LLM",
    RESOURCE_PATHS["LLM"],
    (
        Field("description", "description"),
        Field("llmFormat", "llmFormat", put_enum=LLM_PUT_FORMATS),
        Field("urls", "urls", put_single="url"),
        Field("modelName", "modelName"),
        # Write-only: never returned; the state keeps its sentinel.
        Field("secret", "secret", write_only=True, secret_bearing=True),
        Field("temperature", "temperature"),
        Field("reasoningEffort", "reasoningEffort"),
        Field("reasoningFormat", "reasoningFormat"),
        Field("metadata", "metadata", nested=True),
    ),
    name_key="displayName",
)


def is_custom_llm(item: dict[str, Any]) -> bool:
    """An LLM of the organization (an LLM manifest's kind), not one of the stock catalog
    (global, or a default: those answer 403 to PUT and DELETE)."""
    return item.get("isGlobal") is not True and item.get("isDefault") is not True


# A folder of documents a SERVER_RAG tool searches. Its documents are no field: they are
# synced from files, each by its own request (engine.documents).
KNOWLEDGE_GROUP = Kind(
    "KnowledgeGroup",
    RESOURCE_PATHS["KnowledgeGroup"],
    (Field("description", "description", secret_bearing=True, reset=""),),
)

# In dependency order: what is referred to before its users (deletes run in reverse).
KINDS: dict[str, Kind] = {k.name: k for k in (LLM, KNOWLEDGE_GROUP, TOOL, PERSONA)}
