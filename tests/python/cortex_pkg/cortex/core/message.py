"""cortex.core.message, reduced: a message type has a name and a 64-bit
fingerprint, and travels as bytes."""
import zlib


class Message:
    def __init__(self, data: bytes = b""):
        self.data = data

    @classmethod
    def fingerprint(cls) -> int:
        return zlib.crc32(cls.__name__.encode()) | (7 << 40)

    def to_frames(self, sequence: int = 0):
        return [sequence.to_bytes(8, "little"), self.data]

    @classmethod
    def from_frames(cls, frames):
        return cls(frames[1])
