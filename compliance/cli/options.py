"""Command-line options derived from the settings models: names, help, defaults and limits.

A setting is defined once (compliance/settings.py); a command that takes settings gets one
`--option` per field, named after it (`budget_usd` is `--budget-usd`), with the field's
description as help, its default, its numeric limits and, for a Literal, its choices. The values
come back as a dict that the settings model validates, so the CLI and the Prefect form can never
disagree on a name, a default or a limit.
"""

from __future__ import annotations

import functools
import inspect
import types
from collections.abc import Callable, Iterable
from enum import StrEnum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

# Options whose flag is not the field's name: the commands kept these short names.
FLAGS = {"db_path": "--db"}


def _choices(name: str, values: tuple[str, ...]) -> type[StrEnum]:
    """A StrEnum of a Literal's values, which typer shows as choices."""
    return StrEnum(name.title().replace("_", ""), {value: value for value in values})


def _option_type(name: str, field: FieldInfo) -> tuple[Any, bool]:
    """The option's Python type, and whether None is allowed."""
    annotation = field.annotation
    optional = False
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        optional = len(args) < len(get_args(annotation))
        annotation = args[0]
    if get_origin(annotation) is Literal:
        return _choices(name, get_args(annotation)), optional
    return annotation, optional


def _limits(field: FieldInfo) -> dict[str, Any]:
    """typer's inclusive min/max from the field's ge/le (gt/lt are left to the model)."""
    limits: dict[str, Any] = {}
    for item in field.metadata:
        if isinstance(item, annotated_types.Ge):
            limits["min"] = item.ge
        elif isinstance(item, annotated_types.Le):
            limits["max"] = item.le
    return limits


def _parameter(name: str, field: FieldInfo) -> inspect.Parameter:
    option_type, optional = _option_type(name, field)
    default = field.get_default(call_default_factory=True)
    flags = [FLAGS[name]] if name in FLAGS else []
    if option_type is bool:
        flags = [f"--{name.replace('_', '-')}/--no-{name.replace('_', '-')}"]
    if get_origin(option_type) is list:
        # Repeatable; leaving it out keeps the setting's default (which typer cannot show).
        option_type, default, optional = list[str], None, True
    elif isinstance(option_type, type) and issubclass(option_type, StrEnum):
        default = option_type(default)
    annotation = option_type | None if optional else option_type
    option = typer.Option(*flags, help=field.description, **_limits(field))
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=Annotated[annotation, option])


Command = Callable[..., Any]


def settings_options(settings: type[BaseModel], fields: Iterable[str] | None = None,
                     skip: Iterable[str] = ()) -> Callable[[Command], Command]:
    """Give a command one option per settings field; the command gets them as `settings`.

    The decorated function takes its own parameters plus `settings: dict[str, Any]` (the
    values given, enums as their values, unset repeatable options left out).
    """
    chosen = [name for name in (fields or settings.model_fields) if name not in set(skip)]
    generated = [_parameter(name, settings.model_fields[name]) for name in chosen]

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        own = [p for p in inspect.signature(command, eval_str=True).parameters.values()
               if p.name != "settings"]

        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            values = {}
            for name in chosen:
                value = kwargs.pop(name)
                if value is None and get_origin(settings.model_fields[name].annotation) is list:
                    continue
                values[name] = value.value if isinstance(value, StrEnum) else value
            return command(settings=values, **kwargs)

        # The command's arguments, then the settings, then the command's own options.
        arguments = [p for p in own if p.default is inspect.Parameter.empty]
        options = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in own
                   if p.default is not inspect.Parameter.empty]
        ordered = [*arguments, *generated, *options]
        wrapper.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in ordered}
        return wrapper

    return decorate
