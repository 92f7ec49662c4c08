"""callsense: self-hosted call analytics.

The path of a call is readable from the tree: ``pipeline/ingest`` → ``fetch`` → ``transcribe`` →
``analyse`` → ``store``; back-ends (LLM, blob store) are plug-ins under ``backends/``.
"""

from __future__ import annotations

import os

# onnxruntime (Silero VAD) phones a Microsoft telemetry host unless this is set before it is imported;
# callsense must make no outbound connection at all. Set here so every entry point inherits it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
# faster-whisper imports huggingface_hub; never let it reach a hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# llama.cpp's OpenMP threads spin while idle unless told otherwise, stealing the CPU from Whisper.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from callsense.version import running_version

# The release and the commit it was built from (callsense/version.py): what backups, logs and the CLI name.
__version__ = running_version()
__all__ = ["__version__"]
