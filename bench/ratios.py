"""Table rows for bench/latest.md: skiff's and podman's hyperfine medians side by side."""
import json
import statistics


def median_ms(path):
    return statistics.median(json.load(open(path))["results"][0]["times"]) * 1000


def append(work, out, rows):
    """For each (name, label) of `rows`, reads {work}/skiff-{name}.json and podman-{name}.json,
    appends a row to `out` and prints it."""
    lines = []
    for name, label in rows:
        skiff = median_ms(f"{work}/skiff-{name}.json")
        podman = median_ms(f"{work}/podman-{name}.json")
        lines.append(f"| {label} | {skiff:.0f} ms | {podman:.0f} ms | **{skiff / podman:.3f}** |\n")
    with open(out, "a") as f:
        f.writelines(lines)
    print("".join(lines), end="")
