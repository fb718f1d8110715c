"""Submitted documents on disk, under the data directory (`<data_dir>/uploads` by default)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(filename: str) -> str:
    """A file name with no path and no surprises (letters, digits, . _ -)."""
    base = Path(filename.replace("\\", "/")).name
    cleaned = _UNSAFE.sub("-", base).strip(".-") or "document"
    return cleaned[:120]


class FileDocuments:
    """Documents as files in one folder tree; written to a temporary name, then renamed."""

    def __init__(self, root: Path) -> None:
        self._root = root

    async def save(self, folder: str, name: str, data: bytes) -> str:
        """Store `data` as `<folder>/<name>`; the location to read it back."""
        return await asyncio.to_thread(self._save, folder, name, data)

    def _save(self, folder: str, name: str, data: bytes) -> str:
        target_dir = self._root / folder
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / safe_name(name)
        partial = target.with_suffix(target.suffix + ".part")
        with open(partial, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())  # acknowledged means on disk (rule 8)
        partial.replace(target)
        return str(target.relative_to(self._root))

    async def read(self, location: str) -> bytes:
        path = (self._root / location).resolve()
        if self._root.resolve() not in path.parents:
            raise FileNotFoundError(location)
        return await asyncio.to_thread(path.read_bytes)
