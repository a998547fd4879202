"""The one jinja2 Environment: autoescape on, StrictUndefined, templates from templates/ (memreport.resources)."""

from __future__ import annotations

import pickle
from functools import lru_cache

import jinja2

from memreport.render.formatters import FILTERS
from memreport.resources import templates_dir

TEMPLATES = templates_dir()  # the checkout's templates/, or the installed package's


class _TemplateCache(jinja2.FileSystemBytecodeCache):
    """Compiled templates kept between runs: compiling report.html.j2 and its includes costs ≈ 0.06 s
    of every report (issue 12). jinja keys each entry by template path and checks the source's
    checksum and the Python version, so an edited template is compiled afresh. A cache that cannot
    be read or written is no cache, never an error."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, EOFError, ValueError, pickle.UnpicklingError):  # unreadable or cut short: compile
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            pass


def _template_cache() -> jinja2.BytecodeCache | None:
    try:  # jinja's per-user directory under the temp dir, refused unless it is ours and private
        return _TemplateCache()
    except (OSError, RuntimeError):
        return None


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, whatever its name: hostnames and VM names are customer data
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        bytecode_cache=_template_cache(),
    )
    env.filters.update(FILTERS)
    return env
