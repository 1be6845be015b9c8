"""Write-once, content-addressed file store (SHA-256) under the instance folder."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from .errors import SigRekapError

logger = logging.getLogger(__name__)


class StorageIntegrityError(SigRekapError):
    """A stored file is missing or no longer matches its SHA-256."""

    def __init__(self, sha256: str, reason: str) -> None:
        super().__init__(f"Stored file {sha256} failed its integrity check: {reason}")
        self.sha256 = sha256
        self.reason = reason


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    """Files named by their SHA-256, never overwritten once written."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, sha256: str) -> Path:
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise ValueError(f"Not a SHA-256 hex digest: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        """Store ``data`` and return its SHA-256; an existing copy is kept."""
        digest = sha256_hex(data)
        path = self.path_for(digest)
        if path.exists():
            # The name is the hash, so an intact copy contains the same bytes.
            self.get(digest)
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write to a temporary file and rename, so a crash never leaves a
        # partial file under the final name.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o444)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("Stored file %s (%s bytes)", digest, len(data))
        return digest

    def get(self, sha256: str) -> bytes:
        """Read a file and check it against its hash; raise StorageIntegrityError."""
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            logger.error("Stored file %s is missing", sha256)
            raise StorageIntegrityError(sha256, "file is missing") from None
        if sha256_hex(data) != sha256:
            logger.error("Stored file %s does not match its SHA-256", sha256)
            raise StorageIntegrityError(sha256, "content does not match its SHA-256")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
