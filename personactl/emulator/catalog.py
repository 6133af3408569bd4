"""The stock catalog the emulator seeds on first start: avatars, voices, LLMs, knowledge.

Ids that appear in the Anam docs (../shared/seeds) are kept verbatim; the
others are uuid5s of the entry's name, so they are stable across machines.
The example project refers to several of these entries by name.
"""

from __future__ import annotations

import uuid
from typing import Any

Doc = dict[str, Any]

CUSTOMER_CLIENT_LLM_ID = "CUSTOMER_CLIENT_V1"  # disables the server-side LLM; not a uuid
AVATAR_MODELS: tuple[str, ...] = ("cara-3", "cara-4", "cara-4-latest")

_NAMESPACE = uuid.UUID("8f4b5a52-6a0e-4e53-9d43-0b1f2ad3b1c9")
_BASE_TIME = "2026-04-20T10:00:{second:02d}.000Z"
_IMAGES = "https://lab.anam.ai/persona_thumbnails"
_SAMPLES = "https://samples.anam.example/voice-samples"


def _stable_id(kind: str, *parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join((kind, *parts))))


# the organization the emulator's API key belongs to: the owner of every custom LLM
ORGANIZATION_ID = _stable_id("organization", "sandbox")


def _stamp(index: int) -> str:
    # distinct createdAt per entry so list order is the declaration order
    return _BASE_TIME.format(second=index)


_AVATARS: list[tuple[str | None, str, str, list[str], str, str]] = [
    # (fixed id, displayName, variantName, availableVersions, activeVersion, renderStyle)
    (
        "30fa96d0-26c4-4e55-94a0-517025942e18",
        "Cara",
        "studio",
        ["cara-3", "cara-4", "cara-4-latest"],
        "cara-4",
        "realistic",
    ),
    (
        "071b0286-4cce-4808-bee2-e642f1062de3",
        "Liv",
        "home",
        ["cara-3", "cara-4"],
        "cara-3",
        "realistic",
    ),
    (None, "Liv", "office", ["cara-3"], "cara-3", "realistic"),
    (None, "Mia", "desk", ["cara-3", "cara-4"], "cara-3", "realistic"),
    (None, "Leo", "studio", ["cara-3", "cara-4"], "cara-4", "realistic"),
    (None, "Leo", "outdoor", ["cara-3"], "cara-3", "realistic"),
    (None, "Sofia", "cafe", ["cara-4", "cara-4-latest"], "cara-4", "realistic"),
    (None, "Noah", "library", ["cara-3", "cara-4"], "cara-3", "realistic"),
    (None, "Pixel", "workshop", ["cara-4"], "cara-4", "animated_3d"),
    (None, "Iris", "sketch", ["cara-3"], "cara-3", "illustrated"),
    (None, "Mia", "kitchen", ["cara-3", "cara-4"], "cara-4", "realistic"),
]


def avatars() -> list[Doc]:
    docs: list[Doc] = []
    for index, (fixed, name, variant, versions, active, style) in enumerate(_AVATARS):
        slug = f"{name.lower()}_{variant}"
        docs.append(
            {
                "id": fixed or _stable_id("avatar", name, variant),
                "displayName": name,
                "variantName": variant,
                "imageUrl": f"{_IMAGES}/{slug}.png",
                "landscapeImageUrl": None,
                "portraitImageUrl": None,
                "videoUrl": f"https://avatars.anam.example/stock/{slug}/idling_video.mp4",
                "idleVideoUrl": None,
                "createdAt": _stamp(index),
                "updatedAt": _stamp(index),
                "createdByOrganizationId": None,
                "availableVersions": versions,
                "activeVersion": active,
                "description": f"{name} ({variant}), a stock avatar.",
                "displayTags": ["stock", variant],
                "renderStyle": style,
            }
        )
    return docs


_VOICES: list[tuple[str | None, str, str, str, str, str, str, list[str]]] = [
    # (fixed id, displayName, provider, providerModelId, gender, country, description, tags)
    (
        "de23e340-1416-4dd8-977d-065a7ca11697",
        "Lucy - Fresh & Casual",
        "ELEVENLABS",
        "eleven_flash_v2_5",
        "FEMALE",
        "GB",
        "Energetic and youthful British voice, perfect for narrations and conversational agents.",
        ["fast"],
    ),
    (
        "6bfbe25a-979d-40f3-a92b-5394170af54b",
        "Cara - Warm",
        "ELEVENLABS",
        "eleven_multilingual_v1",
        "FEMALE",
        "IE",
        "Warm, friendly Irish voice.",
        ["warm"],
    ),
    (
        None,
        "Sonic Sophie",
        "CARTESIA",
        "sonic-3",
        "FEMALE",
        "US",
        "Clear American voice on Cartesia Sonic-3.",
        ["fast"],
    ),
    (
        None,
        "Léa - Française",
        "CARTESIA",
        "sonic-3",
        "FEMALE",
        "FR",
        "Voix française naturelle.",
        ["french"],
    ),
    (
        None,
        "Fish Narrator",
        "FISH_AUDIO",
        "s1",
        "MALE",
        "US",
        "Deep narrator voice from Fish Audio.",
        ["narration"],
    ),
    (
        None,
        "James - Calm Narrator",
        "ELEVENLABS",
        "eleven_monolingual_v1",
        "MALE",
        "GB",
        "Calm British narrator.",
        ["calm"],
    ),
    (
        None,
        "Aria - Bright",
        "ELEVENLABS",
        "eleven_multilingual_v2",
        "FEMALE",
        "US",
        "Bright, expressive American voice.",
        ["expressive"],
    ),
    (
        None,
        "Marco - Italiano",
        "ELEVENLABS",
        "eleven_turbo_v2_5",
        "MALE",
        "IT",
        "Friendly Italian voice.",
        ["italian"],
    ),
    (
        None,
        "Sage - Neutral",
        "ELEVENLABS",
        "eleven_flash_v2_5",
        "NEUTRAL",
        "US",
        "Even, neutral voice for assistants.",
        ["neutral"],
    ),
    (
        None,
        "Kai - Energetic",
        "CARTESIA",
        "sonic-3",
        "MALE",
        "US",
        "Upbeat voice on Cartesia Sonic-3.",
        ["energetic"],
    ),
    (
        None,
        "Hana - Gentle",
        "CARTESIA",
        "sonic-3",
        "FEMALE",
        "JP",
        "Gentle Japanese voice.",
        ["japanese"],
    ),
    (
        None,
        "Fish Storyteller",
        "FISH_AUDIO",
        "s1",
        "FEMALE",
        "GB",
        "Storytelling voice from Fish Audio.",
        ["stories"],
    ),
    (
        None,
        "Alloy Realtime",
        "OPENAI_ADVANCED_VOICE",
        "gpt-4o-realtime-preview",
        "NEUTRAL",
        "US",
        "OpenAI realtime voice (no generation options).",
        ["realtime"],
    ),
]


def voices() -> list[Doc]:
    docs: list[Doc] = []
    for index, (fixed, name, provider, model, gender, country, text, tags) in enumerate(_VOICES):
        voice_id = fixed or _stable_id("voice", name)
        sample = f"{_SAMPLES}/{voice_id}/sample.mp3"
        docs.append(
            {
                "id": voice_id,
                "displayName": name,
                "provider": provider,
                "providerVoiceId": "lcMyyd2HUfFzxdCaC4Ta"
                if name.startswith("Lucy")
                else _stable_id("provider-voice", name)[:20],
                "providerModelId": model,
                "sampleUrl": sample,
                "previewSampleUrl": sample,
                "gender": gender,
                "country": country,
                "description": text,
                "displayTags": tags,
                "isZdr": provider != "OPENAI_ADVANCED_VOICE",
                "createdByOrganizationId": None,
                "createdAt": _stamp(index),
                "updatedAt": _stamp(index),
            }
        )
    return docs


_LLMS: list[tuple[str | None, str, str, str, bool]] = [
    # (fixed id, displayName, llmFormat, modelName, isDefault)
    ("0934d97d-0c3a-4f33-91b0-5e136a0ef466", "GPT-4o mini", "openai", "gpt-4o-mini", False),
    ("a7cf662c-2ace-4de1-a21e-ef0fbf144bb7", "GPT-4o", "openai", "gpt-4o", True),
    (None, "Llama 3.3 70B", "groq_openai", "llama-3.3-70b-versatile", False),
    (None, "Gemini 2.0 Flash", "gemini", "gemini-2.0-flash", False),
    (None, "GPT-4.1", "openai", "gpt-4.1", False),
    (None, "Azure GPT-4o", "azure_openai", "gpt-4o", False),
    (None, "Llama 3.1 8B Instant", "groq_openai", "llama-3.1-8b-instant", False),
    (None, "Gemini 2.5 Flash", "gemini", "gemini-2.5-flash", False),
]

_LLM_URLS = {
    "openai": "https://api.openai.com/v1/chat/completions",
    "azure_openai": "https://acme.openai.azure.com/openai/deployments/gpt-4o/chat/completions",
    "groq_openai": "https://api.groq.com/openai/v1/chat/completions",
    "gemini": "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
}


def llms() -> list[Doc]:
    docs: list[Doc] = []
    for index, (fixed, name, fmt, model, default) in enumerate(_LLMS):
        docs.append(
            {
                "id": fixed or _stable_id("llm", name),
                "displayName": name,
                "description": f"{name} default configuration.",
                "llmFormat": fmt,
                "urls": [{"url": _LLM_URLS[fmt]}],
                "modelName": model,
                "temperature": 0.7,
                "maxTokens": 1024,
                "deploymentName": "gpt-4o" if fmt == "azure_openai" else None,
                "apiVersion": "2024-10-21" if fmt == "azure_openai" else None,
                "metadata": {},
                "displayTags": [fmt],
                "isDefault": default,
                "isGlobal": True,
                "isZdr": fmt != "gemini",
                "createdByOrganizationId": None,
                "createdAt": _stamp(index),
                "updatedAt": None,
            }
        )
    return docs


PRODUCT_DOCS_GROUP_ID = _stable_id("knowledge-group", "Product docs")


def knowledge_groups() -> list[Doc]:
    return [
        {
            "id": PRODUCT_DOCS_GROUP_ID,
            "name": "Product docs",
            "description": "Help-centre articles and API reference.",
            "documentCount": 0,
            "createdAt": _stamp(0),
            "updatedAt": _stamp(0),
        }
    ]
