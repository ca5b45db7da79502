"""`assistant bench`'s tables: the results of `assistant.bench.run` as Markdown."""

from __future__ import annotations

from typing import Any


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def format_report(results: dict[str, Any]) -> str:
    """Markdown tables: headline figures with the baseline and the targets, then the corpus curve."""
    a, b = results.get("assistant", {}), results.get("baseline", {})
    limits = {t["key"]: t for t in results.get("targets", [])}
    rows = [
        ("cold start → first answer (s)", "cold_first_answer_s"),
        ("cold start → UI page up (s)", "ui_up_s"),
        ("cold start → UI ready, models loaded (s)", "ui_ready_s"),
        ("cold start → UI first answer (s)", "ui_first_answer_s"),
        ("evidence yielded p50 (s)", "evidence_s_p50"),
        ("evidence yielded p95 (s)", "evidence_s_p95"),
        ("warm time to first token p50 (s)", "ttft_s_p50"),
        ("warm time to first token p95 (s)", "ttft_s_p95"),
        ("warm total p50 (s)", "total_s_p50"),
        ("warm total p95 (s)", "total_s_p95"),
        ("generation (tokens/s)", "tokens_per_s"),
        ("prompt tokens per answer p50 (all calls)", "prompt_tokens_p50"),
        ("prompt tokens per answer p95", "prompt_tokens_p95"),
        ("model calls per answer (mean)", "model_calls_mean"),
        ("prompt tokens reused from the KV cache (share)", "kv_reused_share"),
        ("answer length p50 (tokens)", "answer_tokens_p50"),
        ("grounding + check after generation p50 (s)", "after_generation_s_p50"),
        ("retrieval alone p50 (ms)", "retrieval_ms_p50"),
        ("retrieval alone p95 (ms)", "retrieval_ms_p95"),
        ("retrieval p50 at 1,000 documents (ms)", "retrieval_ms_p50_1000"),
        ("seed index build (s)", "index_seed_s"),
        ("seed index on disk (MiB)", "index_mb"),
        ("peak RSS, serving app (MiB)", "rss_mb_peak"),
        ("peak RSS, one-shot answering process (MiB)", "cold_rss_mb"),
    ]
    lines = [
        "Load average (1 min) at the start of each part: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in results["load_avg"].items())
        + f"; LLM: {results.get('llm')}; tokens: {results.get('token_unit')}.",
        "",
        "CPU share used by other processes during each part (0 = the benchmark had the machine alone, "
        "1 = others kept both cores busy): "
        + ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in results.get("others_cpu", {}).items())
        + (f"; waited {results['waited_s']:.0f} s for quiet moments." if results.get("waited_s") else "."),
        "",
        "| measure | assistant | baseline | assistant ÷ baseline | target | holds? |",
        "|---|---:|---:|---:|---|---|",
    ]
    for label, key in rows:
        value = results[key] if key in results else a.get(key)
        base = b.get(key) if key != "rss_mb_peak" else None
        ratio = results.get("ratios", {}).get(key)
        target = limits.get(key)
        holds = "–" if not target or target["ok"] is None else ("yes" if target["ok"] else "**no**")
        lines.append(
            f"| {label} | {_fmt(value)} | {_fmt(base)} | {_fmt(ratio)} | "
            f"{'≤ ' + _fmt(target['limit']) if target else ''} | {holds} |"
        )
    kinds = list(dict.fromkeys([*a.get("by_kind", {}), *b.get("by_kind", {})]))
    if kinds:
        lines += [
            "",
            "| kind | answers | first token p50 / p95 (s) | baseline | total p50 / p95 (s) | baseline | "
            "model calls p50 | baseline | prompt tokens p50 | baseline |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for kind in kinds:
            x, y = a.get("by_kind", {}).get(kind, {}), b.get("by_kind", {}).get(kind, {})
            lines.append(
                f"| {kind} | {x.get('answers', 0)} | {_fmt(x.get('ttft_s_p50'))} / {_fmt(x.get('ttft_s_p95'))} | "
                f"{_fmt(y.get('ttft_s_p50'))} / {_fmt(y.get('ttft_s_p95'))} | {_fmt(x.get('total_s_p50'))} / "
                f"{_fmt(x.get('total_s_p95'))} | {_fmt(y.get('total_s_p50'))} / {_fmt(y.get('total_s_p95'))} | "
                f"{_fmt(x.get('model_calls_p50'))} | {_fmt(y.get('model_calls_p50'))} | "
                f"{_fmt(x.get('prompt_tokens_p50'))} | {_fmt(y.get('prompt_tokens_p50'))} |"
            )
    if results.get("ratio_goals"):
        lines += ["", "| goal (ratio to the baseline, same run) | ratio | holds? |", "|---|---:|---|"]
        for g in results["ratio_goals"]:
            holds = "–" if g["ok"] is None else ("yes" if g["ok"] else "**no**")
            lines.append(f"| {g['what']} | {_fmt(g['ratio'])} | {holds} |")
    for name, part in (("assistant", a), ("baseline", b)):
        if part.get("cold_runs"):
            phases = part["cold_runs"][len(part["cold_runs"]) // 2]["phases_s"]
            steps = ", ".join(f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in phases.items())
            lines += ["", f"Cold start of the {name}, seconds from process start at the end of each step: {steps}."]
    return "\n".join(lines)
