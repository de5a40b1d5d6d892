"""DAG files: the structure they parse into, the parser, the processor, the examples."""
