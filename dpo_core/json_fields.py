"""Reading saved JSON (a search space, a run record) with one clear error per bad field.

A file may be hand-edited, truncated or not ours at all, so every value is checked for its
type before it is used, and the error names the field by its path (``slots[2].candidates``)
and says what was expected and what was found. Nothing here converts silently: a string is
never taken for a list (it would be split into characters), a number never for a string.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, NoReturn


class FormatError(ValueError):
    """A saved space or run record has the wrong shape; the message names the field."""


def describe(value: object) -> str:
    """A JSON value's kind in words: 'a string', 'a number', 'null', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}" + ("..." if len(value) > 40 else "")
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Fields:
    """Typed access to the fields of one JSON document; ``what`` names it in errors."""

    def __init__(self, what: str) -> None:
        self.what = what

    def fail(self, path: str, expected: str, value: object) -> NoReturn:
        raise FormatError(f"{self.what}: field '{path}' expected {expected}, got {describe(value)}")

    def problem(self, message: str) -> FormatError:
        return FormatError(f"{self.what}: {message}")

    def get(self, data: dict, key: str, path: str, default: Any = ...) -> Any:
        """``data[key]``; missing: ``default``, or an error when there is none."""
        if key in data:
            return data[key]
        if default is ...:
            raise FormatError(f"{self.what}: the field '{join(path, key)}' is missing")
        return default

    def mapping(self, value: object, path: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, "an object {...}", value)
        return value

    def array(self, value: object, path: str) -> list:
        if not isinstance(value, list):
            self.fail(path, "a list [...]", value)
        return value

    def string(self, value: object, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, "a string", value)
        return value

    def integer(self, value: object, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(path, "a whole number", value)
        return value

    def number(self, value: object, path: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(path, "a number", value)
        return float(value)

    def boolean(self, value: object, path: str) -> bool:
        if not isinstance(value, bool):
            self.fail(path, "true or false", value)
        return value

    def strings(self, value: object, path: str) -> tuple[str, ...]:
        return tuple(self.string(v, f"{path}[{i}]") for i, v in enumerate(self.array(value, path)))

    def integers(self, value: object, path: str) -> tuple[int, ...]:
        return tuple(self.integer(v, f"{path}[{i}]") for i, v in enumerate(self.array(value, path)))

    def numbers(self, value: object, path: str) -> tuple[float, ...]:
        return tuple(self.number(v, f"{path}[{i}]") for i, v in enumerate(self.array(value, path)))

    def like_defaults(self, cls: Any, value: object, path: str) -> dict:
        """A dataclass's fields, each checked against the type of its default value (bool,
        int, float, str, a tuple of whole numbers, or a nested dataclass); returned as is."""
        data = self.mapping(value, path)
        defaults = cls()
        for item in dataclasses.fields(cls):
            if item.name not in data:
                continue
            default, given, where = getattr(defaults, item.name), data[item.name], join(path, item.name)
            if dataclasses.is_dataclass(default):
                self.like_defaults(type(default), given, where)
            elif isinstance(default, bool):
                self.boolean(given, where)
            elif isinstance(default, int):
                self.integer(given, where)
            elif isinstance(default, float):
                self.number(given, where)
            elif isinstance(default, str):
                self.string(given, where)
            elif isinstance(default, tuple):
                self.integers(given, where)
        return data


def join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def parse_json_object(text: str | bytes, what: str) -> dict:
    """``text`` as a JSON object, or one ``FormatError`` naming ``what`` was being read."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise FormatError(
                f"{what} is not UTF-8 text (byte {err.start} is {text[err.start]:#04x}); "
                "expected the JSON file that was saved"
            ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise FormatError(f"{what} is not valid JSON: {err}") from None
    except RecursionError:
        raise FormatError(f"{what} is not valid JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise FormatError(f"expected a JSON object {{...}} for a {what}, got {describe(data)}")
    return data
