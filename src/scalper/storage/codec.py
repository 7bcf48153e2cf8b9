"""The plug by which a venue stores its frames more compactly: a `FrameCodec`.

Storage keeps every frame exactly as received and knows nothing of any venue's bytes. A venue
may hand the recorder a codec that splits some of its frames into typed columns (Bybit's book
frames become integer columns, `venues/bybit/book_codec.py`) and joins them back byte for byte.
The codec's name is written into each raw segment's schema metadata, so a reader given the same
codec finds it again; a frame the codec does not split is stored whole in `payload`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final, Protocol

import pyarrow as pa

from scalper.errors import InputError

CODEC_METADATA_KEY: Final = b"scalper.frame_codec"


class FrameCodec(Protocol):
    """Splits frames into columns and joins them back to the exact bytes."""

    @property
    def name(self) -> str:
        """Recorded in each segment; change it when the stored layout changes."""
        ...

    @property
    def supersedes(self) -> tuple[str, ...]:
        """Names of the codecs whose segments this one's `payload_sql` reads too (older layouts
        of the same venue: their rows have none of its new columns)."""
        ...

    @property
    def fields(self) -> tuple[pa.Field, ...]:
        """The columns the codec adds to a raw segment (null in rows it did not split)."""
        ...

    @property
    def dictionary_columns(self) -> tuple[str, ...]:
        """Its columns worth dictionary encoding."""
        ...

    @property
    def column_encoding(self) -> dict[str, str]:
        """Parquet encodings of its columns by path (e.g. DELTA_BINARY_PACKED)."""
        ...

    def split(self, table: pa.Table) -> pa.Table:
        """`table` (columns topic, symbol, payload) with the frames it can split set in `fields`
        and their payload emptied, only where joining gives back exactly the same bytes."""
        ...

    def join(self, table: pa.Table) -> pa.Array | None:
        """The frame bytes of every split row of a stored table (null in the other rows); None
        when no row of the table is split."""
        ...

    def payload_sql(self) -> str:
        """A DuckDB expression of a stored row's frame bytes (split rows joined back), over the
        columns of a raw segment: what `scalper query` shows as `frames.payload`."""
        ...


def codec_of(
    schema: pa.Schema, codecs: Sequence[FrameCodec], base: Collection[str], where: str
) -> FrameCodec | None:
    """The codec a stored raw table was written with (None if it has no column but `base`).

    A segment names its codec in its schema metadata; one recorded before codecs were named
    is matched by its columns. A segment that needs a codec the reader was not given is an
    InputError, never frames silently missing."""
    metadata = schema.metadata or {}
    name = metadata.get(CODEC_METADATA_KEY)
    if name is not None:
        for codec in codecs:
            if codec.name.encode() == name:
                return codec
        raise InputError(
            f"{where} stores frames split by codec {name.decode()!r}, which this reader does not"
            f" know (it knows {', '.join(c.name for c in codecs) or 'none'})"
        )
    columns = set(schema.names)
    if columns <= set(base):
        return None
    for codec in codecs:
        if {field.name for field in codec.fields} <= columns:
            return codec
    raise InputError(
        f"{where} stores frames split into columns {', '.join(sorted(columns - set(base)))},"
        " and no codec this reader knows matches them"
    )
