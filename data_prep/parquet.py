"""Streaming parquet output with an explicit schema, written in row groups.

Why pyarrow structs and not `datasets.Image()`: verl 0.9.1 passes every key of an image dict to
qwen_vl_utils (our per-image `min_pixels` / `max_pixels`), and `datasets` would decode an Image feature
to PIL and drop those keys. Plain structs round-trip through verl's loader unchanged.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from rewards import row

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


def image_struct(embed: bool) -> pa.DataType:
    """`{bytes, min_pixels, max_pixels}` (embed) or `{image, min_pixels, max_pixels}` (path): never both keys,
    since verl opens any entry with a `bytes` key as bytes, even a null one."""
    source = ("bytes", pa.binary()) if embed else ("image", pa.string())
    return pa.struct([source, ("min_pixels", pa.int64()), ("max_pixels", pa.int64())])


def rl_schema(embed: bool) -> pa.Schema:
    """verl 0.9.1 RLHFDataset columns for one WeThink row."""
    return pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(MESSAGE)),
            ("images", pa.list_(image_struct(embed))),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())])),
            (
                "extra_info",  # the row contract: rewards/row.py
                pa.struct(
                    [
                        (row.INDEX, pa.int64()),
                        (row.SPLIT, pa.string()),
                        (row.QUESTION, pa.string()),
                        (row.CATEGORY, pa.string()),
                        (row.ABILITIES, pa.list_(pa.string())),
                        (row.REWARD_METHOD, pa.string()),
                        (row.IMAGE_PATH, pa.list_(pa.string())),
                    ]
                ),
            ),
        ]
    )


def sft_schema(embed: bool) -> pa.Schema:
    """verl 0.9.1 MultiTurnSFTDataset columns: `messages` with `<image>` placeholders, and `images`."""
    return pa.schema([("messages", pa.list_(MESSAGE)), ("images", pa.list_(image_struct(embed)))])


class RowWriter:
    """Buffers rows and writes a row group every `rows_per_group` rows or `bytes_per_group` bytes of images."""

    def __init__(self, path: str, schema: pa.Schema, rows_per_group: int = 512, bytes_per_group: int = 64 << 20):
        self.path, self.schema, self.count = path, schema, 0
        self.rows_per_group, self.bytes_per_group = rows_per_group, bytes_per_group
        self._writer = pq.ParquetWriter(path, schema)
        self._rows: list[dict] = []
        self._bytes = 0

    def write(self, row: dict, nbytes: int = 0) -> None:
        self._rows.append(row)
        self._bytes += nbytes
        self.count += 1
        if len(self._rows) >= self.rows_per_group or self._bytes >= self.bytes_per_group:
            self.flush()

    def flush(self) -> None:
        if self._rows:
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self._rows, self._bytes = [], 0

    def close(self) -> None:
        self.flush()
        self._writer.close()  # an empty file still carries the schema

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def iter_rows(path: str, batch_size: int = 256):
    """Rows of a parquet file as dicts, one batch in memory at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size):
        yield from batch.to_pylist()
