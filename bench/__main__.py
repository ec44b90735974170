"""`python -m bench`: how fast the line answers, what it costs, one table.

Load turns alternate between a bare Flask app answering "ok" and the real webhook, both under
gunicorn with the production settings (2 sync workers) on 127.0.0.1, 8 connections, a fixed
time per turn; the webhook/bare throughput ratio is the figure to watch (absolute rates on a
shared machine are noise). Then latency, in-process costs per text and their growth with flows
and a directory ten times larger, worker memory, start time, and SMS segments per conversation.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import load, micro, server, sms_cost

WARMUP_SECONDS = 1.0
MAX_CONVERSATIONS = 10_000  # distinct senders +1860555xxxx


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def _request(conversation: load.Conversation) -> bytes:
    head, body = conversation.requests[0]
    return head + b"\r\n" + body


def _get(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {server.HOST}:{port}\r\nConnection: close\r\n\r\n".encode()


def measure_start(token: str, secret: str, database_dir: Path) -> dict[str, Any]:
    """Seconds from gunicorn's start (1 worker) to the first answered text: new database, then existing."""
    results: dict[str, Any] = {}
    url = f"sqlite:///{database_dir / 'start.db'}"
    for kind in ("cold", "warm"):  # cold: the database is created and loaded from data/; warm: it exists
        app = server.Server(server.WEBHOOK_APP, 1, server.webhook_env(url, token, secret))
        request = _request(load.build_conversations(app.url, token, 1, seed=3 if kind == "cold" else 4)[0])
        try:
            app.start()
            results[f"{kind}_s"] = app.first_answer(request)
            rss = app.workers_rss_kib()
            results[f"{kind}_rss_kib"] = max(rss) if rss else None
        finally:
            app.cleanup()
    return results


def measure_load(token: str, secret: str, database_dir: Path, seconds: float, turns: int,
                 warmup: float) -> dict[str, Any]:
    """Alternating bare / webhook turns; throughput, latency, CPU per request, worker memory."""
    webhook = server.Server(server.WEBHOOK_APP, 2,
                            server.webhook_env(f"sqlite:///{database_dir / 'load.db'}", token, secret))
    bare = server.Server(server.BARE_APP, 2, server.webhook_env("sqlite://", token, secret))
    try:
        webhook.start()
        bare.start()
        webhook.wait_ready(_get(webhook.port, "/healthz"))
        probe = load.build_conversations(bare.url, token, 1)[0]
        bare.wait_ready(_request(probe))

        # Warm both (imports, caches, connections), and learn roughly how fast the webhook goes,
        # to pre-sign enough distinct conversations for every webhook turn without reusing a sender.
        # Warm-up senders come from another exchange: none of them is limited later for texting twice.
        warm = load.ConversationPool(load.build_conversations(webhook.url, token, 1_000, seed=1, exchange="+1860556"))
        load.run_turn("warm-up", server.HOST, bare.port, warm, warmup / 2)
        rate = load.run_turn("warm-up", server.HOST, webhook.port, warm, warmup).throughput
        per_conversation = statistics.fmean(len(s) for s in load.SCRIPTS)
        wanted = int(max(rate, 200) * 1.5 * seconds * turns / per_conversation) + 500
        count = min(MAX_CONVERSATIONS, wanted)
        log(f"signing {count} conversations (~{int(count * per_conversation)} texts) before the clock starts")
        conversations = load.build_conversations(webhook.url, token, count, seed=2)
        webhook_pool, bare_pool = load.ConversationPool(conversations), load.ConversationPool(conversations)

        turns_out: list[dict[str, Any]] = []
        bare_results, webhook_results = [], []
        for number in range(1, turns + 1):
            for name, target, pool, bucket in (("bare", bare, bare_pool, bare_results),
                                               ("webhook", webhook, webhook_pool, webhook_results)):
                result = load.run_turn(name, server.HOST, target.port, pool, seconds,
                                       cpu_of_server=target.workers_cpu_seconds)
                bucket.append(result)
                turns_out.append(_turn_summary(number, result))
                log(f"turn {number} {name:7}: {result.throughput:7.0f} answers/s, "
                    f"p99 {result.percentile(99) * 1e3:5.1f} ms, {result.non_200 + result.errors} failed")
        rss_webhook, rss_bare = webhook.workers_rss_kib(), bare.workers_rss_kib()
        faults = webhook.log_text().count("answered with the safe menu")
    finally:
        webhook.cleanup()
        bare.cleanup()

    ratios = [w.throughput / b.throughput if b.throughput else float("nan")
              for w, b in zip(webhook_results, bare_results, strict=True)]
    webhook_latencies = [x for r in webhook_results for x in r.latencies]
    bare_latencies = [x for r in bare_results for x in r.latencies]

    def cpu_per_answer(results: list[load.TurnResult]) -> float:
        answered = sum(r.ok for r in results)
        return sum(r.server_cpu_seconds for r in results) / answered * 1e6 if answered else float("nan")

    return {
        "seconds_per_turn": seconds,
        "turns": turns_out,
        "ratios": ratios,
        "ratio_median": statistics.median(ratios),
        "webhook_rps_median": statistics.median(r.throughput for r in webhook_results),
        "bare_rps_median": statistics.median(r.throughput for r in bare_results),
        "webhook_p50_ms": load.percentile(webhook_latencies, 50) * 1e3,
        "webhook_p99_ms": load.percentile(webhook_latencies, 99) * 1e3,
        "bare_p50_ms": load.percentile(bare_latencies, 50) * 1e3,
        "bare_p99_ms": load.percentile(bare_latencies, 99) * 1e3,
        "webhook_cpu_us_per_answer": cpu_per_answer(webhook_results),
        "bare_cpu_us_per_answer": cpu_per_answer(bare_results),
        "client_cpu_share": statistics.fmean(r.client_cpu_seconds / r.seconds for r in webhook_results + bare_results),
        "webhook_failed": sum(r.non_200 + r.errors for r in webhook_results),
        "bare_failed": sum(r.non_200 + r.errors for r in bare_results),
        "webhook_empty_answers": sum(r.empty for r in webhook_results),
        "webhook_safe_menu_faults": faults,
        "webhook_answers_with_cookie": sum(r.with_cookie for r in webhook_results) / max(
            1, sum(r.ok for r in webhook_results)),
        "webhook_senders": sum(r.senders for r in webhook_results),
        "conversations_signed": len(conversations),
        "webhook_worker_rss_kib": rss_webhook,
        "bare_worker_rss_kib": rss_bare,
    }


def _turn_summary(number: int, result: load.TurnResult) -> dict[str, Any]:
    return {"turn": number, "server": result.name, "answers": result.ok, "answers_per_s": result.throughput,
            "non_200": result.non_200, "errors": result.errors, "empty": result.empty,
            "p50_ms": result.percentile(50) * 1e3, "p99_ms": result.percentile(99) * 1e3,
            "senders": result.senders, "server_cpu_s": result.server_cpu_seconds,
            "client_cpu_s": result.client_cpu_seconds}


# The table.


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, value, target, ok?) lines; targets from issue 8, "" where there is none."""
    out: list[tuple[str, str, str, str]] = []

    def row(metric: str, value: float | str, fmt: str = "{:.2f}", target: str = "",
            ok: bool | None = None) -> None:
        shown = value if isinstance(value, str) else ("n/a" if value is None or math.isnan(value)
                                                        else fmt.format(value))
        out.append((metric, shown, target, "" if ok is None else ("ok" if ok else "NO")))

    run = results["load"]
    turns = len(run["ratios"])
    row(f"throughput webhook / bare Flask (median of {turns} turn pairs)", run["ratio_median"], "{:.2f}",
        ">= 0.45", run["ratio_median"] >= 0.45)  # with the text model (issue 12's budget)
    row("  webhook answers/s (median turn; noise on a shared machine)", run["webhook_rps_median"], "{:.0f}")
    row("  bare Flask answers/s (median turn)", run["bare_rps_median"], "{:.0f}")
    row("  server CPU per answer, webhook (us, both workers)", run["webhook_cpu_us_per_answer"], "{:.0f}")
    row("  server CPU per answer, bare Flask (us)", run["bare_cpu_us_per_answer"], "{:.0f}")
    row("  CPU ratio: bare CPU per answer / webhook CPU per answer",
        run["bare_cpu_us_per_answer"] / run["webhook_cpu_us_per_answer"], "{:.2f}")
    row("  load generator CPU (share of one core)", run["client_cpu_share"], "{:.0%}")
    row("webhook latency p50 at 8 connections (ms)", run["webhook_p50_ms"], "{:.1f}")
    row("webhook latency p99 at 8 connections (ms)", run["webhook_p99_ms"], "{:.1f}", "<= 25",
        run["webhook_p99_ms"] <= 25)
    row("  bare Flask latency p50 / p99 (ms)", f"{run['bare_p50_ms']:.1f} / {run['bare_p99_ms']:.1f}")
    failed = run["webhook_failed"] + run["bare_failed"]
    row("failed requests (non-200 or connection errors)", failed, "{:.0f}", "0", failed == 0)
    row("webhook faults answered with the safe menu (server log)", run["webhook_safe_menu_faults"], "{:.0f}",
        "0", run["webhook_safe_menu_faults"] == 0)
    row("webhook answers with no message (rate-limited)", run["webhook_empty_answers"], "{:.0f}", "0",
        run["webhook_empty_answers"] == 0)
    row("  webhook texts carrying a conversation cookie", run["webhook_answers_with_cookie"], "{:.0%}")
    row("  distinct senders in webhook turns", run["webhook_senders"], "{:.0f}")

    m = results["micro"]
    row("engine.step per text, typical mix (us, mean)", m["step"]["mean_us"], "{:.1f}")
    t = m["model"]
    row(f"engine.step on free text, with the text model (us, p50 of {t['texts']} evaluation texts)", t["p50_us"],
        "{:.1f}", "<= 1000", t["p50_us"] <= 1000)
    row("  the same texts: p99 with the model / p50, p99 with the rules alone (us)",
        f"{t['p99_us']:.0f} / {t['rules_p50_us']:.0f}, {t['rules_p99_us']:.0f}")
    row(f"  the text model in memory ({t['features']} features) (MB)", t["model_mb"], "{:.1f}")
    row(f"  engine.step slowest text ({m['step']['slowest']}) (us)", m["step"]["max_us"], "{:.1f}")
    row("matching per text: normalize + correct + read (us, mean)", m["matching"]["mean_us"], "{:.1f}")
    row("step + render, worker's cached Renderer (us, mean)", m["answer"]["mean_us"], "{:.1f}")
    row("step + render, fresh Renderer (us, mean)", m["answer_cold"]["mean_us"], "{:.1f}")
    growth = m["growth"]
    d = m["directory"]
    row(f"growth, step + render, directory 10x ({d['services_1x']} -> {d['services_10x']} services)",
        growth["answer_directory"], "{:.2f}x", "<= 1.20x", growth["answer_directory"] <= 1.2)
    row("  growth, step + fresh render, directory 10x", growth["answer_cold_directory"], "{:.2f}x", "<= 1.20x",
        growth["answer_cold_directory"] <= 1.2)
    f = m["flows"]
    row(f"growth, engine.step, flows 10x ({f['nodes_1x']} -> {f['nodes_10x']} nodes)", growth["step_flows"],
        "{:.2f}x")
    row(f"  growth, matching, flows 10x ({f['vocabulary_1x']} -> {f['vocabulary_10x']} words)",
        growth["matching_flows"], "{:.2f}x")
    row(f"  slowest text with 10x flows ({m['step_10x_flows']['slowest']}) (us)", m["step_10x_flows"]["max_us"],
        "{:.1f}")
    row("  load_flows 1x / 10x (s)", f"{f['load_flows_1x_s']:.2f} / {f['load_flows_10x_s']:.2f}")

    rss = run["webhook_worker_rss_kib"]
    rss_mb = max(rss) / 1024 if rss else float("nan")
    row("webhook worker RSS after load (MB, largest worker)", rss_mb, "{:.1f}", "<= 110", rss_mb <= 110)
    bare_rss = run["bare_worker_rss_kib"]
    row("  bare Flask worker RSS (MB)", max(bare_rss) / 1024 if bare_rss else float("nan"), "{:.1f}")
    s = results["start"]
    row("first answer after start, new database (s)", s["cold_s"], "{:.2f}", "<= 1.5", s["cold_s"] <= 1.5)
    row("first answer after start, database loaded (s)", s["warm_s"], "{:.2f}", "<= 1.5", s["warm_s"] <= 1.5)

    t = results["sms"]["transcripts"]
    row(f"golden transcripts: texts to any number, 911 included (avg of {t['reach_any_number']}/"
        f"{t['transcripts']})", t["avg_texts_to_any_number"], "{:.2f}", "<= 2", t["avg_texts_to_any_number"] <= 2)
    row("  segments until then", t["avg_segments_to_any_number"], "{:.2f}", "<= 3",
        t["avg_segments_to_any_number"] <= 3)
    row(f"golden transcripts: texts to a directory number, not 911 (avg of {t['reach_directory_number']}/"
        f"{t['transcripts']})", t["avg_texts_to_directory_number"], "{:.2f}", "<= 2",
        t["avg_texts_to_directory_number"] <= 2)
    row("  segments until then", t["avg_segments_to_directory_number"], "{:.2f}", "<= 3",
        t["avg_segments_to_directory_number"] <= 3)
    menu = results["sms"]["menu"]
    row(f"menus only: fewest texts from 'hi'/'hola' to a directory number (avg of {menu['reached']} topics)",
        menu["avg_texts"], "{:.2f}", "<= 2", menu["avg_texts"] <= 2)
    row("  segments until then", menu["avg_segments"], "{:.2f}", "<= 3", menu["avg_segments"] <= 3)
    row("segments per conversation, golden transcripts (avg)", t["avg_segments_per_conversation"], "{:.1f}")
    row("  segments per text answered (avg)", t["avg_segments_per_text"], "{:.2f}")
    row("  golden transcripts the line still answers word for word",
        f"{t['match_golden']}/{t['transcripts']}")
    return out


def table(lines: list[tuple[str, str, str, str]]) -> str:
    header = ("metric", "value", "target", "ok?")
    widths = [max(len(r[i]) for r in [header, *lines]) for i in range(4)]

    def fmt(r: tuple[str, ...]) -> str:
        return f"| {r[0]:<{widths[0]}} | {r[1]:>{widths[1]}} | {r[2]:<{widths[2]}} | {r[3]:<{widths[3]}} |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([fmt(header), rule, *(fmt(r) for r in lines)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="seconds per load turn (default 5)")
    parser.add_argument("--turns", type=int, default=3,
                        help="load turns per server, alternating bare/webhook; the median ratio is reported "
                        "(default 3)")
    parser.add_argument("--quick", action="store_true", help="1 s turns and short micro benchmarks: a smoke test")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write every result to FILE")
    args = parser.parse_args(argv)
    seconds = 1.0 if args.quick else args.seconds
    if seconds <= 0 or args.turns < 1:
        parser.error("--seconds must be positive and --turns at least 1")
    warmup = 0.4 if args.quick else WARMUP_SECONDS

    started = time.perf_counter()
    token, secret = server.new_secrets()
    results: dict[str, Any] = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        log("start time (gunicorn, 1 worker): new database, then loaded")
        results["start"] = measure_start(token, secret, Path(tmp))
        log(f"load: {args.turns} x (bare, webhook) turns of {seconds:g} s, 8 connections, 2 sync workers each")
        results["load"] = measure_load(token, secret, Path(tmp), seconds, args.turns, warmup)
    log("in-process costs per text (engine.step, matching, rendering; flows and directory 10x)")
    results["micro"] = micro.run(quick=args.quick)
    log("SMS cost (golden transcripts, menu paths)")
    results["sms"] = sms_cost.run()
    results["seconds"] = time.perf_counter() - started

    lines = rows(results)
    results["table"] = [dict(zip(("metric", "value", "target", "ok"), r, strict=True)) for r in lines]
    print(table(lines))
    print(f"\n{len([r for r in lines if r[3] == 'NO'])} of {len([r for r in lines if r[3]])} targets missed; "
          f"{results['seconds']:.0f} s. Ratio = webhook answers/s over bare Flask answers/s in the same run.")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
