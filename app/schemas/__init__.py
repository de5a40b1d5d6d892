"""marshmallow schemas: one module per resource, each with its collection form."""
