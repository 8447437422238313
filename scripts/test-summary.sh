#!/usr/bin/env bash
# Sums up the integration tests of scripts/test.sh's passes: for each pass NAME, DIR holds
# NAME.log (cargo test's output) and NAME.skips (what the tests skipped, one
# "TEST<TAB>OUTCOME<TAB>REASON" line each; tests/it/common/test_case.rs writes them). Prints the
# skipped tests and then one line, "integration tests: N passed, N failed, N skipped"; a test that
# skipped anything counts as skipped, not passed. Exits 1 when a test failed, a pass has no result
# (its build or its test binary broke), or anything was skipped where skips are not allowed (as
# root, and with SKIFF_TEST_REQUIRE=1; SKIFF_TEST_REQUIRE=0 allows them).
set -euo pipefail

dir=$1
passed=0
failed=0
skipped=0
broken=()
listing=()
for log in "$dir"/*.log; do
    pass=$(basename "$log" .log)
    # The `it` binary's result: the "test result:" line after cargo's "Running tests/it/main.rs".
    result=$(awk '
        /Running tests\/it\/main\.rs/ { it = 1; next }
        /Running / { it = 0 }
        it && /^test result:/ {
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^passed;?$/) p += $(i - 1)
                if ($i ~ /^failed;?$/) f += $(i - 1)
            }
            found = 1
            it = 0
        }
        END { if (found) print p + 0, f + 0; else print "none" }' "$log")
    if [ "$result" = none ]; then
        broken+=("$pass")
        continue
    fi
    read -r pass_passed pass_failed <<<"$result"
    passed=$((passed + pass_passed))
    failed=$((failed + pass_failed))
    skips="$dir/$pass.skips"
    [ -s "$skips" ] || continue
    # One entry per test: a skipped test that went on to pass is no longer counted as passed.
    while IFS=$'\t' read -r test outcome reasons; do
        skipped=$((skipped + 1))
        if [ "$outcome" = skipped ]; then
            passed=$((passed - 1))
        fi
        listing+=("  skipped ($pass pass, $outcome): $test: $reasons")
    done < <(awk -F '\t' '
        !($1 in outcome) { order[++n] = $1; outcome[$1] = $2; reasons[$1] = $3; next }
        index(reasons[$1], $3) == 0 { reasons[$1] = reasons[$1] "; " $3 }
        $2 == "failed" { outcome[$1] = "failed" }
        END { for (i = 1; i <= n; i++) print order[i] "\t" outcome[order[i]] "\t" reasons[order[i]] }' "$skips")
done

for line in "${listing[@]}"; do
    echo "$line"
done
for pass in "${broken[@]}"; do
    echo "  the $pass pass gave no result for tests/it (see $dir/$pass.log)"
done
required=${SKIFF_TEST_REQUIRE:-}
if [ -z "$required" ]; then
    if [ "$(id -u)" -eq 0 ]; then required=1; else required=0; fi
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "  (not root: every test ran as the unprivileged user only; as root it runs as root too)"
fi
if [ "$skipped" -gt 0 ] && [ "$required" = 1 ]; then
    echo "  skips are failures as root and with SKIFF_TEST_REQUIRE=1: set the host up with scripts/setup-host.sh"
fi
echo "integration tests: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -gt 0 ] || [ "${#broken[@]}" -gt 0 ] || { [ "$skipped" -gt 0 ] && [ "$required" = 1 ]; }; then
    exit 1
fi
