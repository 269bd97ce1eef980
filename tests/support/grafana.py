"""The shipped Grafana dashboard as queries: every PromQL expression of its panels and template
variables, with Grafana's variables replaced so that Prometheus (or a PromQL parser) can read them,
and the metric names each one references."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "gitops-bot.json"
CHART_DASHBOARD = ROOT / "deploy" / "helm" / "gitops-bot" / "dashboards" / "gitops-bot.json"

# $var, ${var} and ${var:format}; Grafana's own start with two underscores.
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<selector>.*),\s*(?P<label>\w+)\s*\)\s*$", re.DOTALL)

# Series Prometheus makes itself for every target: not the bot's to export.
PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})


@dataclass(frozen=True)
class Query:
    where: str  # the panel title and refId, or the template variable
    expr: str  # as written in the dashboard, Grafana variables and all


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in panels:
        out.append(item)
        out.extend(_panels(item.get("panels") or []))  # panels inside a collapsed row
    return out


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return _panels(dashboard["panels"])


def queries(dashboard: dict[str, Any]) -> list[Query]:
    """Every panel target's ``expr`` and every query variable's series selector."""
    found = [
        Query(f"{panel['title']} [{target['refId']}]", target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        matched = _LABEL_VALUES.match(text)
        assert matched, f"variable {variable['name']}: not label_values(selector, label): {text}"
        found.append(Query(f"variable {variable['name']}", matched["selector"]))
    return found


def variables(dashboard: dict[str, Any]) -> set[str]:
    return {variable["name"] for variable in dashboard["templating"]["list"]}


def referenced_variables(expr: str) -> set[str]:
    return {braced or bare for braced, bare in _VARIABLE.findall(expr)}


def substitute(expr: str, *, rate_interval: str = "5m", range_: str = "1h") -> str:
    """``expr`` as Prometheus gets it from Grafana with "All" selected in every variable."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in ("__rate_interval", "__interval"):
            return rate_interval
        if name == "__range":
            return range_
        if name.startswith("__"):
            raise AssertionError(f"Grafana variable ${name} is not handled here")
        return ".*"  # the variables' allValue

    return _VARIABLE.sub(value, expr)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (by name or by a ``__name__`` equality)."""
    import promql_parser

    names: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    assert str(matcher.op) == "MatchOp.Equal", f"a __name__ regex hides its metrics: {expr}"
                    names.add(matcher.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
    "info": ("_info",),
}


def exported_names(registry: Any) -> set[str]:
    """The series names a ``prometheus_client`` registry exposes, whether or not a labelled metric
    has a sample yet (a counter ``x`` is scraped as ``x_total``, a histogram as ``x_bucket`` ...)."""
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names
