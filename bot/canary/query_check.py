"""Whether a metric's query template will work, decided when the config is read (and by
``gitops-bot check-config``), not at the first canary interval: it must parse as a template, use
only the variables the bot fills in (a typo is named with the closest one), and, rendered with
sample values, parse as PromQL (``promql-parser``, Prometheus's own grammar). Pure: no I/O.
"""

from __future__ import annotations

import difflib

from bot.canary.queries import (
    TEMPLATE_VARIABLES,
    QueryContext,
    QueryTemplateError,
    check_template,
    render_query,
)

# What a query is rendered with to be parsed: plain label values and a valid duration.
SAMPLE = QueryContext.create(deployment="chat-llm", version="1.2.3", interval=60, namespace="serving")


def query_problem(template: str) -> str | None:
    """Why ``template`` cannot be a canary query, or None."""
    try:
        check_template(template)
        rendered = render_query(template, SAMPLE)
    except QueryTemplateError as error:
        return _with_suggestion(str(error))
    return promql_problem(rendered)


def promql_problem(query: str) -> str | None:
    """Prometheus's parser's complaint about ``query``, or None."""
    import promql_parser

    try:
        promql_parser.parse(query)
    except ValueError as error:
        return f"not valid PromQL (rendered with sample values: {query!r}): {error}"
    return None


def _with_suggestion(message: str) -> str:
    """A message naming unknown variables gets "did you mean" for each close one."""
    if "unknown variable(s)" not in message:
        return message
    named = message.split("unknown variable(s) ", 1)[1].split(";", 1)[0]
    hints = []
    for name in (part.strip() for part in named.split(",")):
        close = difflib.get_close_matches(name, TEMPLATE_VARIABLES, n=1, cutoff=0.6)
        if close:
            hints.append(f"{{{{ {name} }}}}: did you mean {{{{ {close[0]} }}}}?")
    return f"{message} ({'; '.join(hints)})" if hints else message
