#!/bin/bash
# Runs every fuzz target for a bounded time on the stable toolchain (`-s none`: libFuzzer's
# coverage instrumentation without a sanitizer), starting from the committed seeds, then
# replays the seeds once more. Any crash fails the run and leaves the input in
# fuzz/artifacts/<target>/ (add it to fuzz/seeds/ once fixed).
#   fuzz/run.sh [SECONDS_PER_TARGET]   (default 60; 0 = replay only)
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
# target:seed directory
targets=(dhcpv4_parse:dhcpv4 dhcpv4_roundtrip:dhcpv4 dhcpv4_differential:dhcpv4 tftp_parse:tftp tftp_roundtrip:tftp tftp_transfer:tftp_transfer agent_inputs:agent_inputs)
cargo fuzz build -s none
mkdir -p logs
for entry in "${targets[@]}"; do
  t=${entry%%:*}
  seeds=seeds/${entry#*:}
  mkdir -p "corpus/$t"
  if [ "$secs" -gt 0 ]; then
    echo "fuzz: $t for $secs s"
    if ! cargo fuzz run -s none "$t" "corpus/$t" "$seeds" -- \
         -max_total_time="$secs" -max_len=1500 -print_final_stats=1 > "logs/$t.log" 2>&1; then
      tail -40 "logs/$t.log" >&2
      echo "fuzz: $t crashed; the input is in fuzz/artifacts/$t/" >&2
      exit 1
    fi
    grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)" "logs/$t.log" | sed 's/^/  /'
  fi
  echo "fuzz: $t replays the seeds"
  if ! cargo fuzz run -s none "$t" "$seeds" -- -runs=0 > "logs/$t.replay.log" 2>&1; then
    tail -40 "logs/$t.replay.log" >&2
    echo "fuzz: $t fails on a committed seed" >&2
    exit 1
  fi
done
echo "fuzz: ok"
