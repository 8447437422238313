"""Times commands in turns, one run of each after another (the order reversed every round), and
writes their wall times as hyperfine's --export-json does. For comparing two builds of skiff:
hyperfine times all the runs of one command before the next, so whatever builds up over a block
of runs (ext4's recently deleted inodes, which each new directory's allocation skips; the
kernel's clean-up of network namespaces) falls on one build more than the other. In turns it
falls on both alike. The times include Python's start of each process (posix_spawn), the same
for every command.

usage: alternate.py OUT.json RUNS NAME=COMMAND...
"""
import json
import shlex
import subprocess
import sys
import time


def main():
    out, runs, named = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    commands = [(name, shlex.split(command)) for name, command in (n.split("=", 1) for n in named)]
    times = {name: [] for name, _ in commands}
    for _ in range(3):
        for _, argv in commands:
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    for round_number in range(runs):
        order = commands if round_number % 2 == 0 else commands[::-1]
        for name, argv in order:
            start = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    results = [{"command": name, "times": times[name]} for name, _ in commands]
    with open(out, "w") as f:
        json.dump({"results": results}, f)


main()
