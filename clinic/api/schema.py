"""Post-processing of the OpenAPI schema that drf-spectacular generates."""

from __future__ import annotations

from typing import Any

# A wall-clock time of day as the API reads and writes it: 08:00, 08:00:00 or 08:00:00.5.
LOCAL_TIME_PATTERN = r"^([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$"


def _local_times(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "string" and node.get("format") == "time":
            # OpenAPI's "time" is RFC 3339's full-time, which carries a UTC offset. Opening hours
            # and working hours are local wall-clock times of the clinic's zone, with none.
            node["format"] = "partial-time"
            node.setdefault("pattern", LOCAL_TIME_PATTERN)
        for value in node.values():
            _local_times(value)
    elif isinstance(node, list):
        for value in node:
            _local_times(value)


def local_times_without_offset(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POSTPROCESSING_HOOKS entry: times of day are documented as what they are."""
    _local_times(result.get("components", {}))
    _local_times(result.get("paths", {}))
    return result
