"""One module per resource; each function is named after the operationId it serves."""
