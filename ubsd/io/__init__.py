"""Bottom layer: table schemas, table reading/writing and path safety. Imports nothing from ubsd."""
