"""The API document: the OpenAPI schema at /schema (what each route answers, who may call it), its
docs page served from the package, and /problems: a page for each kind of error the API answers.
"""
