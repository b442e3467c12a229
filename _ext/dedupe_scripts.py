"""A Sphinx extension that drops repeated <script> tags from every page.

sphinx-thebe (bundled with Jupyter Book 1.x) registers its inline configuration script each time
Sphinx reads the sources, so pages declare ``const THEBE_JS_URL`` twice and the browser logs a
SyntaxError. Keeping only the first copy of each script fixes it without touching thebe itself.
"""


def _dedupe(app, pagename, templatename, context, doctree):
    seen, kept = set(), []
    for script in context.get("script_files", []):
        # the same inline script arrives once with filename None and once with '': treat them alike
        filename = getattr(script, "filename", script) or ""
        attributes = sorted(getattr(script, "attributes", {}).items())
        key = (str(filename), getattr(script, "priority", 500), repr(attributes))
        if key not in seen:
            seen.add(key)
            kept.append(script)
    context["script_files"] = kept


def setup(app):
    app.connect("html-page-context", _dedupe, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
