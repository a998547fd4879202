"""The one jinja2 Environment: autoescape on, StrictUndefined, templates from templates/ (memreport.resources)."""

from __future__ import annotations

from functools import lru_cache

import jinja2

from memreport.render.formatters import FILTERS
from memreport.resources import templates_dir

TEMPLATES = templates_dir()  # the checkout's templates/, or the installed package's


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name: hostnames and VM names are customer data
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    return env
