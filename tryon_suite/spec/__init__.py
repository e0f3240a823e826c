"""The contract as data, the lowest layer: the JSON Schemas and limit profiles of `schemas/`
(`schemas.py`), the clause catalogue (`clauses.py`), the input-space model and its cases
(`model.py`), bodies written other ways (`encodings.py`), the API's image checks in its order
(`images.py`) and the named fixture images (`fixture_images.py`). Imports only `errors`."""
