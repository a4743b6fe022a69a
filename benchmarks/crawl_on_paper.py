"""A crawl on paper: all of CC-MAIN-2019-18 extrapolated from c4forge builds measured here, and the
extrapolation checked against a build 1/1000 of the crawl's size, run here.

    python benchmarks/crawl_on_paper.py [--segments 56] [--records 2000] [--calibrate 4,16]
        [--workers 2] [--scale-by pages|bytes] [--json results.json]
        [--vcpus-per-worker 4] [--utilization 1.0] [--dataflow-vcpu-usd 0.056] ...

Every build is a fresh ``c4forge build --spill-dir`` process (``c4_benchmark.run_child``) on the
runner ``--runner=FnApiRunner --direct_running_mode=multi_processing --direct_num_workers=W``,
over the first N synthetic segments of ``make_segment.py`` (``--records`` each, seeds 0..N-1).
From each build: pages read, documents and bytes written per split (report ``splits``), the
bytes each shuffle moved and its groups (report ``shuffle``: per spill file its pickled bytes,
per group its bytes), the spill files, and CPU seconds of the whole process tree.

1. Calibration: builds of the ``--calibrate`` segment counts. Each quantity gets a line
   through the two points over pages read (``--scale-by bytes``: gzipped input bytes): a
   fixed part (start-up) and a rate. Largest groups: the mean group (total / groups, the
   groups set by the code for that input) times the largest/mean measured. Spill files: per
   spill partition, as measured. Rules' CPU per page, stage by stage: ``c4_benchmark``'s
   stage view on one segment (no Beam).
2. Check: the model's figures for ``--segments`` segments against a build of them (56 =
   1/1000 of the crawl's WET files; the table marks each row ok or OFF by its tolerance;
   exit 1 if any is OFF). A crawl WET file holds ~44,600 records: ``--records 40000`` is the
   full-size check (~2.3 M pages, hours on 2 cores); the default, 2,000, fits ~15 minutes.
3. The crawl: the model at CC-MAIN-2019-18's size (assumptions printed): shuffle bytes per
   stage, largest groups, files written, CPU- and worker-hours, and cost on Dataflow, Flink
   on EMR and Spark on Dataproc at list prices (the flags take yours).

Not modelled: download, stragglers, a cluster's own shuffle CPU (the measured CPU includes
the spill's pickling and zlib instead), autoscaling.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import c4_benchmark  # noqa: E402
import make_segment  # noqa: E402

CRAWL = "CC-MAIN-2019-18"
CRAWL_WET_FILES = c4_benchmark.CC_2019_18_WET_FILES  # 56,000
CRAWL_PAGES = c4_benchmark.CC_2019_18_PAGES  # 2.5e9 (Common Crawl's announcement)
CRAWL_GZIP_BYTES = c4_benchmark.CC_2019_18_WET_BYTES  # 7 TB (T5 README)
C4_EN_TRAIN = (364_868_892, 828_589_180_707)  # TFDS c4/en 3.1.0 train: documents, serialized bytes
# List prices, USD, on demand, no discounts, as of 2024-06 (us-central1; us-east-1 for AWS), from
# cloud.google.com/dataflow/pricing, cloud.google.com/dataproc/pricing, aws.amazon.com/emr/pricing
# and aws.amazon.com/ec2/pricing. Substitute yours with the flags of the same names.
PRICES = {
    "dataflow_vcpu_usd": 0.056,  # Dataflow batch, per worker vCPU-hour
    "dataflow_gb_usd": 0.003557,  # Dataflow batch, per worker memory GB-hour
    "dataflow_shuffle_gb_usd": 0.011,  # Dataflow Shuffle (batch), per GB shuffled
    "emr_worker_usd": 0.192 + 0.048,  # m5.xlarge (4 vCPU, 16 GiB): EC2 on demand + the EMR charge
    "dataproc_worker_usd": 0.190 + 4 * 0.010,  # n1-standard-4 on GCE + Dataproc's $0.010 per vCPU-hour
}
WORKER_GB = 15  # n1-standard-4's memory, for Dataflow's memory price
# Shuffles a cluster runs, by the spill label that measures them here; SpillEncoded (records
# waiting for the shard plan) exists only with --spill-dir.
SHUFFLES = {
    "URL dedup (GroupByNormalizedUrl)": ["GroupByNormalizedUrl"],
    "line dedup: line owners (GroupByLineShard)": ["GroupByLineShard"],
    "line dedup: pages + owned lines (JoinPagesAndOwnedLines)": ["JoinPagesAndOwnedLines[pages]",
                                                                 "JoinPagesAndOwnedLines[owned_lines]"],
    "sink: records by shard (GroupRuns; GroupShards in memory)": ["GroupRuns"],
}
LOCAL_ONLY = {"sink: records waiting for the shard plan (SpillEncoded, --spill-dir only)": ["SpillEncoded"]}
TOLERANCE = {"count": 0.10, "bytes": 0.15, "group": 0.30, "files": 0.30, "cpu": 0.35}


def build_input(segments: list[Path], directory: Path) -> Path:
    directory.mkdir(parents=True)
    for i, segment in enumerate(segments):
        (directory / f"segment-{i:05d}.warc.wet.gz").symlink_to(segment)
    return directory


def measure(segments: list[Path], workdir: Path, workers: int) -> dict:
    """One spilled multi-process build of ``segments``: its measured quantities."""
    from c4forge.pipeline import spill

    wet_dir = build_input(segments, workdir / "input")
    runner = (f"--spill-dir {workdir / 'spill'} --runner=FnApiRunner --direct_running_mode=multi_processing "
              f"--direct_num_workers={workers}")
    child = c4_benchmark.run_child("c4forge", wet_dir, workdir, runner, docs=False)
    report = json.loads((workdir / "c4forge" / "dataset" / "c4forge-report.json").read_text())
    shuffle = report["shuffle"]
    splits = {s["split"]: s for s in report["splits"]}
    gzip_bytes = sum(p.stat().st_size for p in segments)
    q = {"pages": report["pages_read"], "documents": report["pages_kept"], "gzip_bytes": gzip_bytes,
         "output_bytes": sum(s["file_bytes"] for s in splits.values()),
         "output_shards": sum(s["num_shards"] for s in splits.values()),
         "cpu_s": max(child["cpu_s"], child["tree_sampled_cpu_s"]), "wall_s": child["wall_s"],
         "peak_rss_mb": child["tree_peak_rss_mb"], "wet_files": len(segments),
         "partitions": spill.partitions_for_input(gzip_bytes),
         "spill_files": sum(d["groups"] for name, d in shuffle.items() if name.endswith("/file-disk-bytes")),
         "sink_run_files": shuffle.get("spill/GroupRuns/runs/file-disk-bytes", {}).get("groups", 0)}
    for split in ("train", "validation"):
        q[f"{split}_documents"] = splits.get(split, {}).get("num_examples", 0)
        q[f"{split}_bytes"] = splits.get(split, {}).get("num_bytes", 0)
    for stage, labels in {**SHUFFLES, **LOCAL_ONLY}.items():
        q[f"shuffle:{stage}"] = sum(shuffle.get(f"spill/{label}/file-pickled-bytes", {}).get("total", 0)
                                    for label in labels)
    for name in ("spill/GroupByNormalizedUrl/group-bytes", "line-group-bytes",
                 "spill/JoinPagesAndOwnedLines/group-bytes", "url-group-pages"):
        q[f"group:{name}"] = shuffle.get(name, {"groups": 0, "total": 0, "largest": 0})
    return q


LINEAR = ("pages", "documents", "output_bytes", "cpu_s", "train_documents", "train_bytes",
          "validation_documents", "validation_bytes", *(f"shuffle:{s}" for s in {**SHUFFLES, **LOCAL_ONLY}))


class Model:
    """Each quantity as fixed + rate × x (x: pages read, or gzipped input bytes), through two builds."""

    def __init__(self, small: dict, large: dict, scale_by: str, stage_view: list[dict]):
        self.small, self.large, self.scale_by = small, large, scale_by
        self.x_key = "pages" if scale_by == "pages" else "gzip_bytes"
        span = large[self.x_key] - small[self.x_key]
        if span <= 0:
            raise ValueError("the calibration builds must differ in size")
        self.rate = {k: (large[k] - small[k]) / span for k in LINEAR}
        self.notes = []
        if self.rate["cpu_s"] <= 0:  # builds so small that start-up noise hides the per-page cost
            rules_s_per_page = sum(r["ms_per_page"] for r in stage_view) / 1e3
            self.rate["cpu_s"] = rules_s_per_page * large["pages"] / large[self.x_key]
            self.notes.append("CPU: the larger calibration build cost no more than the smaller one (start-up "
                              "noise), so CPU scales with the rules' own cost per page (stage view, no Beam): "
                              "a lower bound; calibrate with larger builds")
        self.fixed = {k: large[k] - self.rate[k] * large[self.x_key] for k in LINEAR}
        self.pages_per_x = large["pages"] / large[self.x_key]
        self.stage_view = stage_view  # rules' CPU per page read, stage by stage (no Beam)

    def at(self, x: float) -> dict:
        return {k: self.fixed[k] + self.rate[k] * x for k in LINEAR}

    def largest_group(self, name: str, x: float, groups: int) -> float:
        """The mean group at ``x`` with ``groups`` groups, times the largest/mean of the large build."""
        measured, before = self.large[f"group:{name}"], self.small[f"group:{name}"]
        if not measured["groups"] or not measured["total"]:
            return 0.0
        skew = measured["largest"] / (measured["total"] / measured["groups"])
        rate = (measured["total"] - before["total"]) / (self.large[self.x_key] - self.small[self.x_key])
        total = measured["total"] + rate * (x - self.large[self.x_key])
        return total / groups * skew

    def predict(self, x: float, partitions: int, line_groups: int) -> dict:
        p = self.at(x)
        p["line_group_bytes"] = self.largest_group("line-group-bytes", x, line_groups)
        p["join_group_bytes"] = self.largest_group("spill/JoinPagesAndOwnedLines/group-bytes", x, line_groups)
        p["output_shards"] = sum(shards_for(p[f"{s}_documents"], p[f"{s}_bytes"]) for s in ("train", "validation"))
        p["spill_files"] = self.large["spill_files"] / self.large["partitions"] * partitions
        p["sink_run_files"] = partitions
        return p


def shards_for(documents: float, num_bytes: float) -> int:
    from c4forge.corpus.sharding import tfds_number_of_shards

    return tfds_number_of_shards(round(documents), round(num_bytes)) if documents >= 1 else 0


def check_rows(predicted: dict, measured: dict) -> list[list]:
    rows = [("pages read", "pages", "count"), ("documents kept", "documents", "count"),
            ("output bytes (TFRecord files)", "output_bytes", "bytes"),
            *((f"shuffle bytes: {stage}", f"shuffle:{stage}", "bytes") for stage in {**SHUFFLES, **LOCAL_ONLY}),
            ("largest line-owner group, bytes", "line_group_bytes", "group"),
            ("largest pages + owned lines group, bytes", "join_group_bytes", "group"),
            ("output shards", "output_shards", "files"), ("spill files", "spill_files", "files"),
            ("  of which the sink's run files", "sink_run_files", "files"),
            ("CPU s (process tree)", "cpu_s", "cpu")]
    measured = dict(measured, line_group_bytes=measured["group:line-group-bytes"]["largest"],
                    join_group_bytes=measured["group:spill/JoinPagesAndOwnedLines/group-bytes"]["largest"])
    out = []
    for name, key, kind in rows:
        want, got = predicted[key], measured[key]
        off = abs(got - want) / max(abs(want), 1e-9) if want or got else 0.0
        out.append([name, f"{want:,.0f}", f"{got:,.0f}", f"{got / want:.2f}" if want else "",
                    f"±{TOLERANCE[kind]:.0%}", "ok" if off <= TOLERANCE[kind] else "OFF"])
    return out


def crawl_rows(model: Model, prices: dict, vcpus: int, utilization: float) -> tuple[list[list], dict]:
    from c4forge.pipeline import dedup, spill

    x = CRAWL_PAGES if model.scale_by == "pages" else CRAWL_GZIP_BYTES
    line_groups = dedup.line_dedup_shards(CRAWL_WET_FILES)
    c = model.predict(x, spill.MAX_PARTITIONS, line_groups)
    gb = lambda b: f"{b / 1e9:,.1f} GB"
    shuffle_bytes = sum(c[f"shuffle:{s}"] for s in SHUFFLES)
    url = model.large["group:spill/GroupByNormalizedUrl/group-bytes"]
    train_shards = shards_for(c["train_documents"], c["train_bytes"])
    val_shards = shards_for(c["validation_documents"], c["validation_bytes"])
    cpu_hours = model.rate["cpu_s"] * x / 3600
    worker_hours = cpu_hours / vcpus / utilization
    dataflow_worker_usd = vcpus * prices["dataflow_vcpu_usd"] + WORKER_GB * prices["dataflow_gb_usd"]
    costs = {"Dataflow": worker_hours * dataflow_worker_usd + shuffle_bytes / 1e9 * prices["dataflow_shuffle_gb_usd"],
             "Flink on EMR": worker_hours * prices["emr_worker_usd"],
             "Spark on Dataproc": worker_hours * prices["dataproc_worker_usd"]}
    kept_here = model.large["documents"] / model.large["pages"]
    rows = [["pages read", f"{c['pages']:,.0f}", f"{model.pages_per_x * x:,.0f} at the rate measured here"
             if model.scale_by == "bytes" else "the crawl's"],
            ["documents kept (train + validation)", f"{c['documents']:,.0f}",
             f"{kept_here:.1%} of pages here; C4 en 3.1.0 train: {C4_EN_TRAIN[0]:,} "
             f"({C4_EN_TRAIN[0] / CRAWL_PAGES:.1%})"],
            ["output bytes (TFRecord)", gb(c["output_bytes"]), f"C4 en train serialized: {gb(C4_EN_TRAIN[1])}"]]
    rows += [[f"shuffle: {stage}", gb(c[f"shuffle:{stage}"]), "pickled bytes written"] for stage in SHUFFLES]
    rows += [["shuffle: all of a cluster's four", gb(shuffle_bytes), ""]]
    rows += [[f"shuffle: {stage}", gb(c[f"shuffle:{stage}"]), "local runner only"] for stage in LOCAL_ONLY]
    rows += [["largest group: URL dedup (key: a normalized URL)", f"{url['largest']:,} bytes",
              "one page per bundle holding the URL (pre-reduced): constant"],
             ["largest group: line owners (key: a line shard)", f"{c['line_group_bytes'] / 1e6:,.1f} MB",
              f"{line_groups:,} shards; a line on every page adds one 32-byte record per bundle "
              f"(>= {CRAWL_WET_FILES * 32 / 1e6:.1f} MB)"],
             ["largest group: pages + owned lines (key: an owner shard)", f"{c['join_group_bytes'] / 1e6:,.1f} MB",
              f"{line_groups:,} shards"],
             ["largest group: sink (key: an output shard)", f"{c['train_bytes'] / max(train_shards, 1) / 1e6:,.0f} MB",
              "a train shard's records (hash buckets: even)"],
             ["files written: output shards", f"{train_shards + val_shards:,}",
              f"train {train_shards:,} + validation {val_shards:,} (TFDS's rule)"],
             ["files written: spill (local --spill-dir only)", f"{c['spill_files']:,.0f}",
              f"{spill.MAX_PARTITIONS:,} partitions; the sink's runs: {spill.MAX_PARTITIONS:,} files "
              f"(a file per run, as before: {64 * (train_shards + val_shards):,})"],
             ["CPU-hours", f"{cpu_hours:,.0f}", f"{cpu_hours / 24:,.0f} CPU-days; "
                                                 f"{model.rate['cpu_s'] / model.pages_per_x * 1e3:.2f} CPU-ms per page"],
             [f"worker-hours ({vcpus} vCPUs, {utilization:.0%} busy)", f"{worker_hours:,.0f}", ""]]
    rows += [[f"cost: {name}", f"${usd:,.0f}", note] for (name, usd), note in zip(costs.items(), (
        f"${dataflow_worker_usd:.3f}/worker-hour + ${prices['dataflow_shuffle_gb_usd']}/GB shuffled",
        f"${prices['emr_worker_usd']:.3f}/worker-hour (m5.xlarge); master node not counted",
        f"${prices['dataproc_worker_usd']:.3f}/worker-hour (n1-standard-4); master node not counted"))]
    return rows, {"crawl": c, "cpu_hours": cpu_hours, "worker_hours": worker_hours, "costs_usd": costs,
                  "output_shards": train_shards + val_shards}


def stage_rows(model: Model, x: float) -> list[list]:
    pages = model.rate["pages"] * x + model.fixed["pages"]
    per_page = model.rate["cpu_s"] / model.pages_per_x * 1e3
    rows = [[r["stage"], f"{r['ms_per_page']:.3f}", f"{r['ms_per_page'] * pages / 3.6e6:,.0f}"]
            for r in model.stage_view]
    rest = per_page - sum(r["ms_per_page"] for r in model.stage_view)
    rows.append(["Beam, shuffles (spilled), sink: end to end minus the stages", f"{rest:.3f}", f"{rest * pages / 3.6e6:,.0f}"])
    rows.append(["total (end to end)", f"{per_page:.3f}", f"{per_page * pages / 3.6e6:,.0f}"])
    return rows


def stage_view(segment: Path) -> list[dict]:
    from c4forge.cleaning_rules.badwords import load_badwords

    rows, _, _ = c4_benchmark.c4forge_stages(segment, load_badwords("en", str(c4_benchmark.BADWORDS_DIR)))
    pages = rows[0]["pages_out"]
    return [{"stage": r["stage"], "ms_per_page": r["cpu_s"] * 1e3 / pages} for r in rows]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--segments", type=int, default=56, help="segments of the checked build (56 = 1/1000)")
    p.add_argument("--records", type=int, default=2000, help="records per segment (a crawl file: ~44,600)")
    p.add_argument("--calibrate", default="4,16", help="segments of the two calibration builds")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scale-by", choices=["pages", "bytes"], default="pages")
    p.add_argument("--vcpus-per-worker", type=int, default=4)
    p.add_argument("--utilization", type=float, default=1.0, help="busy share of a worker's vCPUs")
    for name, value in PRICES.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=float, default=value)
    p.add_argument("--cache-dir", type=Path, help="segments' cache (default: make_segment's)")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    try:
        small, large = sorted(int(n) for n in a.calibrate.split(","))
    except ValueError:
        p.error(f"--calibrate {a.calibrate}: two segment counts, as 4,16")
    if not 1 <= small < large or a.segments < 1 or a.records < 1:
        p.error("--calibrate A,B needs 1 <= A < B; --segments and --records at least 1")
    count = max(a.segments, large)
    c4_benchmark.log(f"[crawl on paper] {count} segments of {a.records:,} records ...")
    segments = [make_segment.make_segment(a.records, a.cache_dir, seed=s) for s in range(count)]
    with tempfile.TemporaryDirectory(prefix="c4forge-crawl-on-paper-") as tmp:
        runs = {n: measure(segments[:n], Path(tmp) / f"build-{n}", a.workers) for n in (small, large, a.segments)}
    model = Model(runs[small], runs[large], a.scale_by, stage_view(segments[0]))
    check = runs[a.segments]
    from c4forge.pipeline import dedup
    line_groups = dedup.spilled_line_dedup_shards(a.segments, _spill_config(check["partitions"]))
    predicted = model.predict(check[model.x_key], check["partitions"], line_groups)
    rows = check_rows(predicted, check)
    prices = {name: getattr(a, name) for name in PRICES}
    crawl, crawl_summary = crawl_rows(model, prices, a.vcpus_per_worker, a.utilization)
    x_crawl = CRAWL_PAGES if a.scale_by == "pages" else CRAWL_GZIP_BYTES
    here_kb = check["gzip_bytes"] / check["pages"] / 1e3
    print(f"Calibration: builds of {small} and {large} segments x {a.records:,} records (make_segment.py), "
          f"`c4forge build --spill-dir`, FnApiRunner multi_processing, {a.workers} workers; "
          f"scaled by {a.scale_by} read.\n")
    print(f"Check: {a.segments} segments ({a.segments / CRAWL_WET_FILES:.4g} of the crawl's WET files; "
          f"{check['pages']:,} pages, {check['gzip_bytes'] / 1e6:,.0f} MB gzipped, {check['partitions']} spill "
          f"partitions; {check['wall_s']:,.0f} s wall, CPU {check['cpu_s'] / check['wall_s'] / a.workers:.0%} of "
          f"{a.workers} cores, {check['peak_rss_mb']:,.0f} MB peak RSS) - the model vs "
          f"the build:\n")
    print(c4_benchmark.md_table(["quantity", "model", "measured", "measured/model", "tolerance", ""], rows))
    for note in model.notes:
        print(f"note: {note}")
    print(f"\n{CRAWL} on paper: {CRAWL_WET_FILES:,} WET files, ~{CRAWL_PAGES / 1e9:.1f} billion pages "
          f"(~{CRAWL_PAGES / CRAWL_WET_FILES:,.0f} per file), ~{CRAWL_GZIP_BYTES / 1e12:.0f} TB gzipped "
          f"(~{CRAWL_GZIP_BYTES / CRAWL_WET_FILES / 1e6:.0f} MB per file, {CRAWL_GZIP_BYTES / CRAWL_PAGES / 1e3:.1f} "
          f"KB per page; {here_kb:.1f} KB here, so by pages the byte figures lean high); prices: list, "
          f"on demand, 2024-06 (flags take yours).\n")
    print(c4_benchmark.md_table(["quantity", CRAWL, "note"], crawl))
    print("\nCPU by stage (rules without Beam: c4_benchmark's stage view on one segment; the rest is the "
          "end-to-end rate minus the stages):\n")
    print(c4_benchmark.md_table(["stage", "CPU ms per page read", f"CPU-hours, {CRAWL}"], stage_rows(model, x_crawl)))
    if a.json:
        a.json.write_text(json.dumps({"builds": {str(n): q for n, q in runs.items()},
                                      "predicted": predicted, "check": rows, **crawl_summary}, indent=1) + "\n")
    return 0 if all(r[-1] == "ok" for r in rows) else 1


def _spill_config(partitions: int):
    from c4forge.pipeline.spill import SpillConfig

    return SpillConfig("/unused", partitions)


if __name__ == "__main__":
    sys.exit(main())
