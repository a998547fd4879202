"""Rendering: HTML (jinja2 + inline SVG charts), PDF (weasyprint, same HTML), report.json files."""
