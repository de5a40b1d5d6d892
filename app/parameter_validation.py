"""Connexion 2's parameter validation without its per-request setup.

Connexion deep-copies each parameter's spec and builds a new JSON Schema validator for every
parameter value of every request. `CachingParameterValidator` builds the same validator (same
class, schema and format checker) once per parameter. A value it refuses goes through Connexion's
own code, so the 400's text and the log line are Connexion's.
"""
from __future__ import annotations

import copy

# Connexion's own validator class and format checker (jsonschema deprecates importing the latter).
from connexion.decorators.validation import (
    Draft4Validator,
    ParameterValidator,
    TypeValidationError,
    coerce_type,
    draft4_format_checker,
)
from connexion.utils import is_null, is_nullable


class CachingParameterValidator(ParameterValidator):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # id(param) -> (param, validator); the param is kept so that its id stays its own.
        self._validators: dict[int, tuple[dict, Draft4Validator]] = {}

    def _validator(self, param: dict) -> Draft4Validator:
        entry = self._validators.get(id(param))
        if entry is None:
            schema = copy.deepcopy(param)
            schema = schema.get("schema", schema)
            schema.pop("required", None)
            entry = self._validators[id(param)] = (param, Draft4Validator(schema, format_checker=draft4_format_checker))
        return entry[1]

    def validate_parameter(self, parameter_type, value, param, param_name=None):
        if value is not None and parameter_type != "formdata" and not (is_nullable(param) and is_null(value)):
            try:
                converted = coerce_type(param, value, parameter_type, param_name)
            except TypeValidationError:
                pass
            else:
                if self._validator(param).is_valid(converted):
                    return None
        return ParameterValidator.validate_parameter(parameter_type, value, param, param_name)
