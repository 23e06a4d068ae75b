"""Proof-of-delivery files: validated images in a content-addressed store outside the rows.

A file is named by the SHA-256 of its bytes (``<root>/ab/abcdef....jpg``), so the same photo
sent twice is stored once, a name can never be chosen by a client (no path traversal: a
lookup accepts only 64 hex digits) and a control room can put ``root`` on shared storage.
The database keeps the hash, size and format (``pod_records.files``).

Validation never trusts the client's content type or file name: Pillow must recognize the
bytes as JPEG, PNG or WebP, verify them, and decode them within a pixel budget (no
decompression bombs). Writes go to a temporary file renamed into place, so a crash never
leaves half a file under a valid name.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from dispatcher.errors import ValidationError

FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}
MEDIA_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
_HASH = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file kept in the store (what ``pod_records.files`` lists)."""

    sha256: str
    size: int
    format: str
    width: int
    height: int

    def as_dict(self, role: str) -> dict[str, object]:
        return {
            "role": role,
            "sha256": self.sha256,
            "size": self.size,
            "format": self.format,
            "width": self.width,
            "height": self.height,
        }


def validate_image(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
) -> tuple[str, int, int]:
    """``(extension, width, height)`` of an acceptable image; ValidationError with the
    reason (said to the driver) otherwise."""
    if not data:
        raise ValidationError("the picture is empty")
    if len(data) > max_bytes:
        size, limit = len(data) / 2**20, max_bytes / 2**20
        raise ValidationError(f"the picture is {size:.1f} MB; at most {limit:.1f} MB is taken")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format or ""
                width, height = probe.size
                if fmt not in FORMATS:
                    raise ValidationError(f"{fmt or 'this file'} is not a JPEG, PNG or WebP")
                if width * height > max_pixels:
                    raise ValidationError(f"the picture is too large ({width}×{height} pixels)")
                probe.verify()
            with Image.open(io.BytesIO(data)) as image:
                image.load()  # verify() does not decode: a truncated body fails only here
    except ValidationError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("the file is not a picture (JPEG, PNG or WebP)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ValidationError(f"the picture is damaged ({type(exc).__name__})") from None
    return FORMATS[fmt], width, height


class PodStore:
    """The content-addressed file store under ``root`` (created on first write)."""

    def __init__(
        self,
        root: Path,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_pixels: int = DEFAULT_MAX_PIXELS,
    ) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.max_pixels = max_pixels

    def check(self, data: bytes) -> StoredFile:
        """Validate without storing (every file of an action is checked before any is kept)."""
        ext, width, height = validate_image(
            data, max_bytes=self.max_bytes, max_pixels=self.max_pixels
        )
        return StoredFile(hashlib.sha256(data).hexdigest(), len(data), ext, width, height)

    def put(self, data: bytes) -> StoredFile:
        """Validate and keep ``data``; the same bytes twice are one file."""
        info = self.check(data)
        target = self._path(info.sha256, info.format)
        if target.exists():
            return info
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return info

    def open(self, sha256: str, fmt: str) -> bytes:
        """The bytes of a stored file; ValidationError for a name that is not a hash,
        FileNotFoundError when it is gone."""
        data = self._path(sha256, fmt).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValidationError(f"stored file {sha256[:12]}… does not match its hash")
        return data

    def remove(self, sha256: str, fmt: str) -> bool:
        """Delete a stored file (retention): True when it was there, False when it was
        already gone; OSError when it cannot be deleted (a read-only directory)."""
        try:
            self._path(sha256, fmt).unlink()
        except FileNotFoundError:
            return False
        return True

    def size_of(self, sha256: str, fmt: str) -> int | None:
        """Bytes of a stored file, None when it is not there (a dry run's count)."""
        try:
            return self._path(sha256, fmt).stat().st_size
        except FileNotFoundError:
            return None

    def _path(self, sha256: str, fmt: str) -> Path:
        if not _HASH.match(sha256) or fmt not in MEDIA_TYPES:
            raise ValidationError("not a proof-of-delivery file name")
        return self.root / sha256[:2] / f"{sha256}.{fmt}"
